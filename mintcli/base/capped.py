"""Reading what a user names (a file, a device, a pipe, stdin) with a cap.

``stat`` says 0 bytes for a pipe or a device such as ``/dev/zero``, so a size
check before reading proves nothing: every read here asks for one byte more
than its cap, and getting it means the input is too large. The caps (README,
Security) are far above any real input of their kind and keep an endless one
from filling memory; past one, the caller names it in a clear error.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from mintcli.errors import UsageError

MiB = 1024 * 1024
CONFIG_BYTES = 1 * MiB  # the config file
# Text a user hands over: a prompt on stdin, --messages, a --tool-result @FILE,
# a --schema or --tools file, one line of mint batch input.
TEXT_BYTES = 32 * MiB


def read_at_most(stream: BinaryIO, cap: int) -> bytes | None:
    """The stream's bytes to its end, or None when there are more than ``cap``."""
    data = stream.read(cap + 1)
    return None if len(data) > cap else data


def read_file_at_most(path: Path, cap: int) -> bytes | None:
    """A file's bytes (OSError as open raises it), or None past ``cap``."""
    try:
        fh = path.open("rb")
    except ValueError:  # a NUL byte in the name: no file is called that
        raise OSError(errno.EINVAL, "no file has a NUL byte in its name") from None
    with fh:
        return read_at_most(fh, cap)


def open_unwaited(path: Path, flags: int = 0) -> BinaryIO:
    """``path`` open for reading (``flags`` added, e.g. ``os.O_NOFOLLOW``) without
    ever waiting in the open: for a file mint opens on its own (the config file,
    its caches, journals), where a FIFO nobody writes to would otherwise block
    every command. Such a FIFO opens at once and reads as empty; a pipe with a
    writer (``MINT_CONFIG=<(...)``) reads to its end as usual. OSError as open
    raises it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | flags)
    except ValueError:  # a NUL byte in the name: no file is called that
        raise OSError(errno.EINVAL, "no file has a NUL byte in its name") from None
    try:
        os.set_blocking(fd, True)  # reads wait for a writer's data as usual
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def over(cap: int) -> str:
    """The end of an error message: which limit was passed."""
    return f"larger than {cap // MiB} MiB, mint's limit for it"


def read_named(
    name: str,
    what: str,
    stdin: BinaryIO | None = None,
    cap: int = TEXT_BYTES,
    error: Callable[[str], Exception] = UsageError,
) -> bytes:
    """The bytes of a file the user named (``-``: ``stdin``, where one is given), or
    an ``error`` (a usage error unless told) that starts with ``what`` (the option
    and its value) and says why: the file cannot be read, or it is past ``cap``."""
    try:
        if name == "-" and stdin is not None:
            data = read_at_most(stdin, cap)
        else:
            data = read_file_at_most(Path(name).expanduser(), cap)
    except OSError as exc:
        raise error(f"{what}: {exc.strerror or exc}") from None
    if data is None:
        raise error(f"{what}: {over(cap)}")
    return data


def lines_at_most(stream: BinaryIO, cap: int, what: str) -> Iterator[bytes]:
    """Every line of ``stream`` (the last may have no line end), each read with a
    cap: a longer one is a usage error, "``what`` N is larger than ...", N its
    number. An endless line (/dev/zero) is an error, not all of memory."""
    number = 0
    while raw := stream.readline(cap + 1):
        number += 1
        if len(raw) > cap:
            raise UsageError(f"{what} {number} is {over(cap)}")
        yield raw


def read_json(value: str, option: str) -> tuple[Any, str]:
    """A JSON value given inline (it starts with ``{`` or ``[``) or as a file
    path, and where it came from (for errors: ``option`` and that source)."""
    stripped = value.lstrip()
    if stripped.startswith(("{", "[")):
        source, data = "inline JSON", stripped.encode()
    else:
        source, data = value, read_named(value, f"{option} {value}")
    try:
        return orjson.loads(data), source
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{option} {source}: not valid JSON ({exc})") from None
