"""Reading a --resume journal: its records folded into a :class:`JournalState`
(what an unfinished reply received), with the secrets put back where the reader
has them (storage/keyrefs.py). The writer and the listing are in journal.py.
"""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from mintcli.base.capped import open_unwaited
from mintcli.base.events import Event, Finish, ReasoningDelta, TextDelta, ToolCall, Usage
from mintcli.base.events import ReasoningBlock as Signed
from mintcli.errors import UsageError
from mintcli.storage.keyrefs import lookup, plain

if TYPE_CHECKING:
    from mintcli.base.sanitize import Secrets

JOURNAL_VERSION = 1


@dataclass
class JournalState:
    """What a journal says about an unfinished reply."""

    path: Path
    header: dict[str, Any]
    text: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    reasoning_blocks: list[Signed] = field(default_factory=list)
    usage: dict[str, int | None] = field(default_factory=dict)
    finish_reason: str | None = None
    failure: str | None = None
    locked: bool = False
    unprinted: bytes = b""  # the newest "o": stdout's missed bytes ({"o": ""}: printed since)
    keys: dict[str, str] = field(default_factory=dict, repr=False)  # to put the secrets back
    hidden: set[str] = field(default_factory=set)  # secrets it held that were not in keys

    @property
    def id(self) -> str:
        return self.path.stem

    def events(self) -> list[Event]:
        """What was received, as events for an accumulator (one attempt)."""
        events: list[Event] = []
        if self.text:
            events.append(TextDelta(self.text))
        if self.reasoning:
            events.append(ReasoningDelta(self.reasoning))
        events += self.reasoning_blocks
        events += [ToolCall.from_json(c) for c in self.tool_calls]
        if self.usage:
            events.append(Usage(self.usage.get("input_tokens"), self.usage.get("output_tokens")))
        if self.finish_reason:
            events.append(Finish(self.finish_reason))
        return events


def read_lines(path: Path) -> list[bytes]:
    """A journal's lines, the header first (never through a symbolic link)."""
    try:
        with open_unwaited(path, os.O_NOFOLLOW) as fh:  # a FIFO among them: no wait
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise UsageError(f"cannot read journal {path}: not a regular file")
            return fh.read().split(b"\n")
    except OSError as exc:
        raise UsageError(f"cannot read journal {path}: {exc.strerror}") from None


def records(lines: list[bytes]) -> Iterator[dict[str, Any]]:
    """The records of journal lines after the header, up to the first that is
    not whole JSON (a write cut short by a kill: everything before it is good)
    or not an object (not a record mint wrote: nothing after it is trusted)."""
    for line in lines:
        if not line:
            continue
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError:
            return
        if not isinstance(rec, dict):
            return
        yield rec


def load(path: Path, secrets: Secrets | None = None) -> JournalState:
    lines = read_lines(path)
    try:
        header = orjson.loads(lines[0])
    except orjson.JSONDecodeError:
        raise UsageError(f"journal {path.name} is damaged (no header)") from None
    if not isinstance(header, dict) or header.get("v") != JOURNAL_VERSION:
        raise UsageError(f"journal {path.name} has an unknown format")
    if (
        not isinstance(header.get("request"), dict)
        or not isinstance(header.get("created"), int | float)
        or not all(isinstance(header.get(k), str | None) for k in _HEADER_TEXTS)
    ):
        raise UsageError(f"journal {path.name} is damaged (its header is not mint's)")
    state = JournalState(path, header, keys=lookup(secrets))
    text: list[str] = []
    reasoning: list[str] = []
    for rec in records(lines[1:]):
        if not _add_record(state, rec, text, reasoning):
            break  # not a record mint wrote: trust nothing after it either
    state.text = "".join(text)
    state.reasoning = "".join(reasoning)
    state.locked = _is_locked(path)
    return state


_HEADER_TEXTS = ("protocol", "format", "base_url")


def _add_record(state: JournalState, rec: Any, text: list[str], reasoning: list[str]) -> bool:
    """Fold one record into the state; False when it is not one mint writes."""
    if not isinstance(rec, dict) or (got := plain(rec, state.keys, state.hidden)) is None:
        return False
    t, r, o, c = got  # the secrets put back
    u, f = rec.get("u"), rec.get("f")
    if not isinstance(u, dict | None) or not isinstance(f, str | None):
        return False
    if u is not None and not all(isinstance(v, int | None) for v in u.values()):
        return False
    if t is not None:
        text.append(t)
    if r is not None:
        reasoning.append(r)
    state.reasoning_blocks = Signed.fold(state.reasoning_blocks, rec.get("g"))  # "g": after v1
    if c is not None:
        state.tool_calls.extend(c)
    for key, value in (u or {}).items():
        if value is not None:
            state.usage[key] = (state.usage.get(key) or 0) + value
    if f is not None:
        state.finish_reason = f
    if "x" in rec:
        state.failure = str(rec.get("m"))
    if isinstance(o, str):
        state.unprinted = o.encode("latin-1", "replace")
    return True


# The tool loop's reader of a chain journal (toolloop/chain.py) folds it the same way.
fold = _add_record


def _is_locked(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never waits on a FIFO
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
