"""The write-ahead journal behind ``--resume``.

While a reply streams, mint appends what it receives to
``$XDG_STATE_HOME/mint/journals/ID.jsonl`` *before* writing it to stdout, so the
journal always holds at least what the reader got, even after SIGKILL. The
first line is a header (the request, never the API key); each later line is
one network read's worth of received content. The file is removed when the
reply finishes; an unfinished one can be continued with ``mint chat --resume``.
A key the server echoes in the reply is written as a reference, never as it
came (storage/keyrefs.py: then "t", "r", "o" are lists, a call ``{"j": [...]}``).

Records (one JSON object per line, keys present only when non-empty):
  header: {"v": 1, "id", "created", "protocol", "base_url", "mock", "format", "request"}
  batch:  {"t": text, "r": reasoning, "g": [signed reasoning blocks], "c": [tool calls]}
  usage:  {"u": {"input_tokens", "output_tokens"}}   (closing one attempt)
  finish: {"f": finish reason}
  fail:   {"x": exit code, "m": message, "o": what stdout missed, Latin-1} (gave up)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from mintcli.errors import WRITE_ERRNOS, ConfigError, MintError, UsageError, write_failed
from mintcli.storage.journal_read import JOURNAL_VERSION as JOURNAL_VERSION
from mintcli.storage.journal_read import JournalState as JournalState
from mintcli.storage.journal_read import fold as fold
from mintcli.storage.journal_read import load as load
from mintcli.storage.journal_read import read_lines as read_lines
from mintcli.storage.journal_read import records as records
from mintcli.storage.keyrefs import KeyGuard
from mintcli.storage.paths import lock_or_refuse, private_dir, state_dir

if TYPE_CHECKING:
    from mintcli.base.sanitize import Secrets
    from mintcli.options.settings import ChatSettings
    from mintcli.request.model import ChatRequest


EXPIRY_SECONDS = 7 * 24 * 3600
FSYNC_INTERVAL = 0.2


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def journal_dir() -> Path:
    return state_dir() / "journals"


def new_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + os.urandom(3).hex()


class Journal:
    """A journal file. It is created with the first record written to it, so a
    run that fails before anything arrived leaves none behind, and it stays
    locked (flock) for as long as its run is alive."""

    def __init__(
        self, path: Path, header: bytes = b"", fd: int | None = None, secrets: Secrets | None = None
    ) -> None:
        self.path = path
        # the secrets kept out of what it writes (None: a run without any)
        self.guard = KeyGuard(secrets) if secrets is not None and secrets.values else None
        self.id = path.stem
        self._header = header  # written first, when the file is created
        self._fd = fd
        self._lock = threading.Lock()
        self._dirty = False
        self._closed = False
        self._stop = threading.Event()
        self._size = 0  # bytes in the file: where a failed write is cut back to
        if fd is not None:
            self._size = os.fstat(fd).st_size
            self._start_syncer()

    # -- opening ---------------------------------------------------------------
    @classmethod
    def prepare(
        cls, header: dict[str, Any], directory: Path | None = None, secrets: Secrets | None = None
    ) -> Journal:
        """A new journal; its directory is checked now, its file made later."""
        directory = directory or journal_dir()
        private_dir(directory.parent)  # the "mint" directory above is private too
        private_dir(directory)
        prune(directory)
        jid = new_id()
        head = {"v": JOURNAL_VERSION, "id": jid, "created": time.time(), **header}
        return cls(directory / f"{jid}.jsonl", orjson.dumps(head) + b"\n", secrets=secrets)

    @classmethod
    def start(
        cls, settings: ChatSettings, request: ChatRequest, pending: Any, *, secrets: Secrets,
        **more: Any,
    ) -> Journal:  # fmt: skip
        """A run's new journal (``pending``: where its exchange is saved, or None); its header
        holds what a --resume needs, never the key (even typed into a prompt) or a password."""
        from mintcli.base.sanitize import redact_url

        return cls.prepare({
            "protocol": settings.protocol,
            "base_url": redact_url(settings.base_url),
            "mock": settings.mock,
            "format": settings.format,
            "request": secrets.redact_json(request.as_json()),
            "log": secrets.redact_json(pending.as_json()) if pending is not None else None,
            **more,
        }, secrets=secrets)  # fmt: skip

    @classmethod
    def reopen(cls, state: JournalState, secrets: Secrets | None = None) -> Journal:
        """An unfinished reply's journal, for its --resume to append to."""
        path = state.path
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        except OSError as exc:
            raise ConfigError(f"cannot open journal {path}: {exc.strerror}") from None
        lock_or_refuse(fd, f"reply {path.stem} is being written by another mint process")
        try:
            # A line cut short by a kill would swallow the first record appended.
            data = path.read_bytes()
            if not data.endswith(b"\n"):
                os.ftruncate(fd, data.rfind(b"\n") + 1)
        except OSError:
            pass
        journal = cls(path, fd=fd, secrets=secrets)
        if journal.guard is not None:  # a key cut at the journal's end may go on
            journal.guard.seed(state.text, state.reasoning)
        return journal

    def _create(self) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            if exc.errno in WRITE_ERRNOS:
                raise write_failed(f"the journal {self.path}", exc) from None
            raise ConfigError(f"cannot create journal {self.path}: {exc.strerror}") from None
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            _write_all(fd, self._header)
        except OSError as exc:
            # A journal without its whole header is no journal: leave none.
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(fd)
            raise write_failed(f"the journal {self.path}", exc) from None
        self._fd = fd
        self._size = len(self._header)
        self._start_syncer()
        return fd

    @property
    def exists(self) -> bool:
        """Whether the file was made (something was written to it)."""
        return self._fd is not None

    def _start_syncer(self) -> None:
        threading.Thread(target=self._sync_loop, name="mint-fsync", daemon=True).start()

    # -- writing ---------------------------------------------------------------
    def write(self, record: dict[str, Any]) -> None:
        # A plain write: the kernel has it once this returns, which is what a
        # SIGKILLed process needs. fsync (for power loss) runs in the background.
        fd = self._fd if self._fd is not None else self._create()
        if self.guard is not None:
            record = self.guard.record(record)
        line = orjson.dumps(record) + b"\n"
        try:
            written = os.write(fd, line)
            if written != len(line):  # a short write: the disk is filling up
                _write_all(fd, line[written:])
        except OSError as exc:
            # Cut a half-written line off (shrinking works on a full disk), so
            # that the lines a --resume appends stay readable.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._size)
            raise write_failed(f"the journal {self.path}", exc) from None
        self._size += len(line)
        self._dirty = True

    def note(self, record: dict[str, Any]) -> None:
        """A record worth keeping but not worth failing for (the usage of an
        attempt, why the run gave up): on a full disk it is left out."""
        with contextlib.suppress(MintError):
            self.write(record)

    def _sync_loop(self) -> None:
        while not self._stop.wait(FSYNC_INTERVAL):
            self._sync()

    def _sync(self) -> None:
        with self._lock:
            if self._dirty and not self._closed and self._fd is not None:
                self._dirty = False
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)

    def close(self, *, remove: bool) -> None:
        if self._closed:
            return
        self._stop.set()
        if not remove:
            self._sync()
        with self._lock:
            self._closed = True
            if self._fd is None:
                return  # never written: no file
            if remove:
                with contextlib.suppress(OSError):
                    self.path.unlink()
            os.close(self._fd)


def prune(directory: Path, now: float | None = None) -> list[Path]:
    """Delete journals untouched for longer than the expiry (7 days)."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    try:
        entries = list(directory.glob("*.jsonl"))
    except OSError:
        return removed
    for path in entries:
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to remove
            if now - path.stat().st_mtime > EXPIRY_SECONDS:
                path.unlink()
                removed.append(path)
    return removed


def unfinished(directory: Path | None = None, secrets: Secrets | None = None) -> list[JournalState]:
    """Unfinished replies, newest first (expired ones are pruned first)."""
    directory = directory or journal_dir()
    if not directory.is_dir():
        return []
    prune(directory)
    states: list[JournalState] = []
    for path in directory.glob("*.jsonl"):
        with contextlib.suppress(UsageError):  # damaged: left out
            states.append(load(path, secrets))
    states.sort(key=lambda s: (s.header.get("created", 0), s.id), reverse=True)
    return states


def find_reply(
    ident: str | None, directory: Path | None = None, secrets: Secrets | None = None
) -> JournalState:
    """The journal named by ``ident`` (an ID or unique prefix), or the newest one
    not held by a running mint (or, when all are held, the newest); ``secrets``:
    those that may be put back into its text."""
    states = unfinished(directory, secrets)
    if not ident:
        if not states:
            raise UsageError("there is no unfinished reply to resume (see: mint journal list)")
        free = [s for s in states if not s.locked]
        return (free or states)[0]  # all held: the caller says another mint has it
    matches = [s for s in states if s.id == ident] or [s for s in states if s.id.startswith(ident)]
    if not matches:
        raise UsageError(f"no unfinished reply with ID {ident!r} (see: mint journal list)")
    if len(matches) > 1:
        raise UsageError(f"ID {ident!r} is ambiguous: {', '.join(s.id for s in matches)}")
    return matches[0]
