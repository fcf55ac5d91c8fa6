"""Where mint keeps files, and making its private directories safely.

State (journals) goes under ``$XDG_STATE_HOME/mint`` (default
``~/.local/state/mint``), data (the log database of saved conversations) under
``$XDG_DATA_HOME/mint`` (default ``~/.local/share/mint``), caches under
``$XDG_CACHE_HOME/mint`` (default ``~/.cache/mint``). mint's directories are
0700 and its files 0600.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

from mintcli.errors import WRITE_ERRNOS, ConfigError, UsageError, write_failed


def _xdg(variable: str, *fallback: str) -> Path:
    base = os.environ.get(variable) or os.path.join(os.path.expanduser("~"), *fallback)
    return Path(base) / "mint"


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local", "state")


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local", "share")


def cache_dir() -> Path:
    return _xdg("XDG_CACHE_HOME", ".cache")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700, or check an existing one:
    it must be a real directory (not a symlink) owned by this user. An existing
    directory of ours that others can read is made private; anything else is
    refused rather than changed, since its mode is not ours to change."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        info = os.lstat(path)
    except OSError as exc:
        if exc.errno in WRITE_ERRNOS:  # a full disk, not a place mint may not use
            raise write_failed(f"the directory {path}", exc) from None
        raise ConfigError(f"cannot create the directory {path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{path} is a symbolic link or not a directory; mint will not use it")
    if info.st_uid != os.getuid():
        raise ConfigError(f"{path} belongs to another user; mint will not use it")
    if stat.S_IMODE(info.st_mode) != 0o700:
        try:
            os.chmod(path, 0o700)
        except OSError as exc:
            raise ConfigError(f"cannot make {path} private: {exc.strerror}") from None
    return path


def lock_or_refuse(fd: int, busy: str) -> None:
    """Take an exclusive flock on ``fd`` for as long as it is open, or close it
    and refuse with ``busy`` (exit 2): one writer per file, without waiting."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UsageError(busy) from None
