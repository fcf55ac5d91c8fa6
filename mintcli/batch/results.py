"""Batch output: one JSON result line per item, and the ``-O`` file.

A result line holds ``id``, ``line``, ``text``, ``reasoning``, ``tool_calls``,
``finish_reason``, ``usage``, ``attempts`` and ``model``, plus ``error``
(``code``, ``name``, ``message``) when the item failed (docs/events.md). Lines
are written whole, each in one ``write``, so a killed batch leaves at most one
partial line at the end of the file; :func:`read_previous` cuts it off.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from mintcli.base.capped import MiB, lines_at_most
from mintcli.base.terminal import Terminal
from mintcli.errors import ExitCode, UsageError, write_failed
from mintcli.output.sinks import RunInfo, Sink
from mintcli.storage.paths import lock_or_refuse

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mintcli.base.events import Event
    from mintcli.batch.items import Item
    from mintcli.output.accumulate import Reply


def error_object(code: ExitCode, message: str) -> dict[str, Any]:
    return {"code": int(code), "name": code.name.lower(), "message": message}


def bad_line(item: Item) -> bytes:
    """The result line of an input line that could not be used."""
    assert item.error is not None
    return _line(item, None, 0, error_object(ExitCode.USAGE, item.error))


def _line(
    item: Item,
    reply: Reply | None,
    attempts: int,
    error: dict[str, Any] | None,
    remote: dict[str, Any] | None = None,
    extract: str | None = None,
) -> bytes:
    result: dict[str, Any] = {
        "id": item.id,
        "line": item.line,
        "text": reply.text if reply else "",
        "reasoning": reply.reasoning if reply else None,
        "tool_calls": [c.as_json() for c in reply.tool_calls] if reply else [],
        "finish_reason": reply.finish_reason if reply else None,
        "usage": reply.usage if reply else None,
        "attempts": attempts,
        "model": (reply.model if reply else None) or (item.request.model if item.request else None),
    }
    if reply is not None and item.request is not None and item.request.schema is not None:
        result["parsed"] = reply.parsed  # --schema: the reply as an object (null if it failed)
    if extract is not None:  # --extract: the code block (null when there is none)
        from mintcli.render.extract import extract as block

        result["extracted"] = block(reply.text, extract == "last") if reply else None
    if error is not None:
        result["error"] = error
    if remote is not None:
        result["remote"] = remote  # mint batch --remote: {batch, state}
    return orjson.dumps(result) + b"\n"


result_line = _line  # for mint batch --remote (mintcli/remote/collect.py)


class ResultSink(Sink):
    """What one item's run ends with, for its result line. It writes nothing
    itself: stdout belongs to the batch, and the waiting status line to its
    progress line; warnings name the item."""

    def __init__(self, term: Terminal, item: Item, quiet: bool) -> None:
        super().__init__(term)
        self.item = item
        self.quiet = quiet
        self.line: bytes | None = None
        self.extract: str | None = None  # --extract: "first" or "last"

    def start(self, info: RunInfo) -> None:
        self.extract = info.extract

    def events(self, events: list[Event]) -> None:
        pass  # the result line is built from the reply when the item ends

    def status(self, text: str | None) -> None:
        pass

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.term.warn(f"item {self.item.shown}: {message}")

    def done(self, reply: Reply, summary: dict[str, Any]) -> None:
        self.line = _line(self.item, reply, summary["attempts"], None, extract=self.extract)

    def failed(self, reply: Reply, summary: dict[str, Any], error: dict[str, Any]) -> None:
        failure = error_object(ExitCode(error["code"]), error["message"])
        self.line = _line(self.item, reply, summary["attempts"], failure, extract=self.extract)

    def stats(self, stats: dict[str, Any]) -> None:
        pass


# -- where the lines go --------------------------------------------------------------


class Output:
    """stdout: result lines through the terminal, flushed as they are written."""

    def __init__(self, term: Terminal) -> None:
        self.term = term
        term.stdout_json = True  # result lines are JSON: a terminal shows them as JSON

    def write(self, data: bytes) -> None:
        self.term.write(data)

    def close(self) -> None:
        pass


class FileOutput(Output):
    """The -O file, opened for appending: every write goes to its end whole."""

    def __init__(self, term: Terminal, path: Path, *, append: bool) -> None:
        super().__init__(term)
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (0 if append else os.O_TRUNC)
        try:
            self.fd = os.open(path, flags, 0o666)
        except OSError as exc:
            raise UsageError(f"-O {path}: {exc.strerror or exc}") from None

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            raise write_failed(f"-O {self.path}", exc) from None

    def close(self) -> None:
        os.close(self.fd)


def lock_output(path: Path) -> int | None:
    """One batch per -O file: an flock on FILE.mint-lock beside it, held until
    the process ends (the lock file stays; its existence means nothing). A
    lock file, not the -O file itself, because --retry-failed replaces that
    file by renaming a copy over it. Devices and pipes (-O /dev/stdout) are
    not locked. The lock is named after the resolved file, so that a second
    run reaching it through a symlink is refused too. Returns the fd holding
    the lock; a second run is refused."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise UsageError(f"-O {path}: {exc.strerror or exc}") from None
    real = Path(os.path.realpath(path))
    lock = real.with_name(real.name + ".mint-lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        raise write_failed(f"the lock file {lock}", exc) from None
    busy = f"-O {path} is being written by another mint batch; wait for it to end"
    lock_or_refuse(fd, busy + " (or write to another file)")
    return fd


# -- what an earlier run left ------------------------------------------------------------


@dataclass(frozen=True)
class Previous:
    done: frozenset[str | int]  # ids that this run skips
    failed: frozenset[str | int]  # those of them whose result is an error
    cut: bool  # a partial last line was removed


# The longest earlier result line --resume reads: 4 x the largest whole reply
# mint takes (16 MiB), room for a long text with its reasoning and tool calls;
# a longer one (or a file that never ends a line) is refused, not read into memory.
RESULT_LINE_BYTES = 64 * MiB
# How every result line starts (orjson keeps the key order of _line): a partial
# last line is cut only if it starts so, never a file mint did not write.
_START = b'{"id":'
# Keys every result line has (remote lines add "remote", some "error"...).
_KEYS = ("id", "line", "text", "reasoning", "tool_calls", "finish_reason", "usage", "attempts")


def read_previous(path: Path, retry_failed: bool) -> Previous:
    """The ids the -O file of an earlier run holds a result for. A partial last
    line (a run killed while writing it) is cut off; with ``retry_failed``
    the error lines of items that never succeeded are removed, so that those
    items run again and no id appears twice. Nothing is cut or rewritten unless
    every whole line is a result line and the partial one starts like one; a
    device or a pipe (-O /dev/stdout) holds no earlier results and is not read."""
    ok: set[str | int] = set()
    failed: set[str | int] = set()
    end = 0  # where the last whole line ends
    cut = False
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return Previous(frozenset(), frozenset(), False)
        with path.open("rb") as fh:
            for number, raw in enumerate(_capped_lines(fh, path), 1):
                if not raw.endswith(b"\n"):
                    if not (raw.startswith(_START) or _START.startswith(raw)):
                        raise UsageError(
                            f"-O {path}: its last line does not start like a mint batch "
                            "result line; --resume appends to a file of result lines only "
                            "(the file is left as it is)"
                        )
                    cut = True
                    break
                end += len(raw)
                if raw.strip():
                    key, error = _result_key(raw, path, number)
                    (failed if error else ok).add(key)
        if cut:
            os.truncate(path, end)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise UsageError(f"-O {path}: {exc.strerror or exc}") from None
    again = failed - ok if retry_failed else set()
    if again:
        _drop_lines(path, again)
    failed -= again | ok
    return Previous(frozenset(ok | failed), frozenset(failed), cut)


def _capped_lines(fh: BinaryIO, path: Path) -> Iterator[bytes]:
    return lines_at_most(fh, RESULT_LINE_BYTES, f"-O {path}: line")


def _result_key(raw: bytes, path: Path, number: int) -> tuple[str | int, bool]:
    """A result line's id, and whether it is an error."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        obj = None
    ident = obj.get("id") if isinstance(obj, dict) else None
    if (
        not isinstance(ident, (str, int))
        or isinstance(ident, bool)
        or not all(key in obj for key in _KEYS)
    ):
        raise UsageError(
            f"-O {path}: line {number} is not a mint batch result line; "
            "--resume appends to a file of result lines only"
        )
    return ident, bool(obj.get("error"))


def _drop_lines(path: Path, keys: set[str | int]) -> None:
    """Rewrite the file without the lines of these ids (atomically: a copy,
    then a rename over the original)."""
    temporary = path.with_name(path.name + ".mint-tmp")
    try:
        with path.open("rb") as src, temporary.open("wb") as dst:
            for number, raw in enumerate(_capped_lines(src, path), 1):
                if not raw.strip() or _result_key(raw, path, number)[0] not in keys:
                    dst.write(raw)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise write_failed(f"-O {path}", exc) from None
