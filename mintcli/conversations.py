"""Saved conversations: every finished ``mint chat`` exchange, for ``-c``,
``--conversation ID`` and ``mint log``.

Each conversation is one file, ``$XDG_DATA_HOME/mint/conversations/ID.json``
(default ``~/.local/share/mint/...``; the folders 0700, the file 0600), never
holding the API key::

    {"v": 1, "id", "created", "updated",
     "messages": [...],            # OpenAI shape, as --messages reads them
     "exchanges": [{"time", "model", "protocol", "usage", "finish_reason"}, ...]}

Attachments from files are kept by reference (path, type, size, sha256; see
attach.py), attachments from stdin inline. An exchange is written only once its
reply has finished, as a whole new file that replaces the old one (a temporary
file renamed over it), so a reply that fails leaves the conversation as it was.
If another mint continued the same conversation in the meantime, the exchange
is saved as a new conversation instead of being mixed into the other's.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mintcli.errors import ConfigError, UsageError, write_failed
from mintcli.paths import data_dir, private_dir

VERSION = 1


def conversations_dir() -> Path:
    return data_dir() / "conversations"


def ensure_dir() -> Path:
    """The folder, created or checked now (before anything is sent)."""
    directory = conversations_dir()
    private_dir(directory.parent)
    return private_dir(directory)


@dataclass
class Conversation:
    id: str
    created: float
    updated: float
    messages: list[dict[str, Any]] = field(default_factory=list)
    exchanges: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any]:
        return self.exchanges[-1] if self.exchanges else {}

    def preview(self, words: int = 8) -> str:
        """The first words of the first user message."""
        first = next((m for m in self.messages if m.get("role") == "user"), {})
        return " ".join(text_of(first.get("content")).split()[:words])

    def as_json(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "id": self.id,
            "created": self.created,
            "updated": self.updated,
            "messages": self.messages,
            "exchanges": self.exchanges,
        }


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or its text parts joined."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else ()
    return "".join(
        str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text"
    )


def load(path: Path) -> Conversation:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            obj = orjson.loads(fh.read())
    except OSError as exc:
        raise UsageError(f"cannot read conversation {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise UsageError(f"conversation {path.stem} is damaged (not JSON): {path}") from None
    if not isinstance(obj, dict) or obj.get("v") != VERSION:
        raise UsageError(f"conversation {path.stem} has an unknown format: {path}")
    messages, exchanges = obj.get("messages"), obj.get("exchanges")
    if not isinstance(messages, list) or not isinstance(exchanges, list):
        raise UsageError(f"conversation {path.stem} is damaged: {path}")
    return Conversation(
        path.stem, obj.get("created", 0.0), obj.get("updated", 0.0), messages, exchanges
    )


def all_conversations(directory: Path | None = None) -> list[Conversation]:
    """Every saved conversation, the most recently continued first (damaged
    files are left out here; ``mint log show ID`` names the problem)."""
    directory = directory or conversations_dir()
    found = []
    for path in directory.glob("*.json") if directory.is_dir() else ():
        with contextlib.suppress(UsageError):
            found.append(load(path))
    found.sort(key=lambda c: (c.updated, c.id), reverse=True)
    return found


def find(ident: str | None, directory: Path | None = None) -> Conversation:
    """The conversation named by ``ident`` (an ID or a unique prefix), or the latest."""
    directory = directory or conversations_dir()
    if not ident:
        found = all_conversations(directory)
        if not found:
            raise UsageError("there is no saved conversation yet (see: mint log list)")
        return found[0]
    path = directory / f"{ident}.json"
    if "/" not in ident and path.is_file():
        return load(path)
    matches = [p for p in directory.glob("*.json") if p.stem.startswith(ident)] if (
        directory.is_dir() and "/" not in ident) else []  # fmt: skip
    if not matches:
        raise UsageError(f"no conversation with ID {ident!r} (see: mint log list)")
    if len(matches) > 1:
        names = ", ".join(sorted(p.stem for p in matches))
        raise UsageError(f"ID {ident!r} is ambiguous: {names}")
    return load(matches[0])


def remove(conversation: Conversation, directory: Path | None = None) -> None:
    path = (directory or conversations_dir()) / f"{conversation.id}.json"
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ConfigError(f"cannot remove {path}: {exc.strerror}") from None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One writer at a time in the folder (a saved exchange is a read-modify-write)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW
    fd = os.open(directory / ".lock", flags, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# Stands for the reply's text in the JSON of a conversation being written, so
# that the text itself can be written in pieces (a long reply is never put
# together in memory). The last occurrence is the reply's: only the exchanges,
# which hold no text, come after the last message.
_TEXT_SLOT = "\x00mint:reply-text\x00"


def _write(directory: Path, conversation: Conversation, text: Iterable[str] | None) -> None:
    """The whole file anew, then renamed over the old one: never half written.
    ``text``: the pieces of the last message's content, written in its slot."""
    final = directory / f"{conversation.id}.json"
    temp = directory / f".{conversation.id}.{os.urandom(4).hex()}.tmp"
    data = orjson.dumps(conversation.as_json()) + b"\n"
    head, tail = data, b""
    if text is not None:
        slot = orjson.dumps(_TEXT_SLOT)
        at = data.rindex(slot)
        head, tail = data[: at + 1], data[at + len(slot) - 1 :]  # the quotes stay
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(head)
            for piece in text or ():
                fh.write(orjson.dumps(piece)[1:-1])  # the piece as JSON string content
            fh.write(tail)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, final)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise write_failed(f"the conversation {final}", exc) from None


@dataclass(frozen=True)
class Pending:
    """An exchange waiting for its reply: the conversation it goes into, how
    many exchanges that conversation had when the request was built, and the
    messages up to the new reply (as saved)."""

    id: str
    base: int
    messages: list[dict[str, Any]]
    created: float

    @classmethod
    def start(cls, continued: Conversation | None, messages: list[dict[str, Any]]) -> Pending:
        from mintcli.journal import new_id

        if continued is None:
            return cls(new_id(), 0, messages, time.time())
        return cls(continued.id, len(continued.exchanges), messages, continued.created)

    def as_json(self) -> dict[str, Any]:
        """For the journal header, so that a --resume saves the exchange too."""
        return {
            "id": self.id,
            "base": self.base,
            "messages": self.messages,
            "created": self.created,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Pending:
        return cls(obj["id"], obj["base"], obj["messages"], obj["created"])

    def save(
        self, reply: dict[str, Any], exchange: dict[str, Any], text: Iterable[str] | None = None
    ) -> str:
        """Save the finished exchange (``reply``: the assistant message; ``text``:
        its content in pieces, when not in the message). Returns the
        conversation's ID: a new one if the conversation moved on meanwhile."""
        from mintcli.journal import new_id

        if text is not None:
            reply = {**reply, "content": _TEXT_SLOT}
        directory = ensure_dir()
        now = time.time()
        with _locked(directory):
            path = directory / f"{self.id}.json"
            current = load(path) if path.exists() else None
            ident, created = self.id, self.created
            earlier = current.exchanges[: self.base] if current is not None else []
            if current is not None and len(current.exchanges) != self.base:
                ident, created = new_id(), now  # another mint continued it: fork
            conversation = Conversation(
                ident,
                created,
                now,
                [*self.messages, reply],
                [*earlier, {"time": now, **exchange}],
            )
            _write(directory, conversation, text)
        return ident
