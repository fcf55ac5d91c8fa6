"""Saved conversations: every finished ``mint chat`` exchange, for ``-c``,
``--conversation ID`` and ``mint log``. The rest of mint uses this module;
the log itself, one SQLite database, is the package ``mintcli/store/``.

An exchange is saved only once its reply has finished, in one transaction, so
a reply that fails leaves the conversation as it was (saved without a reply:
only the tool results a session keeps as it ends, ``save_messages``). If
another mint continued the same conversation in the meantime, the exchange is
saved as a new conversation instead of being mixed into the other's. Nothing here opens
the database before it is needed: a new conversation (no ``-c``) touches it
only when its reply is saved, and importing this module loads no ``sqlite3``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mintcli.storage.paths import data_dir, private_dir
from mintcli.store.files import conversations_dir, load
from mintcli.store.model import Conversation, text_of

if TYPE_CHECKING:
    import sqlite3

__all__ = [
    "Conversation", "Pending", "all_conversations", "conversations_dir", "ensure_dir", "find",
    "ids", "ids_to_complete", "load", "remove", "session", "take_notices", "text_of",
]  # fmt: skip

# Things to tell the user that came up while the log was opened (the import of
# old conversation files); the command prints them with term.warn.
_notices: list[str] = []


def take_notices() -> list[str]:
    taken = list(_notices)
    _notices.clear()
    return taken


def ensure_dir() -> Path:
    """The folder of the log, created or checked now (before anything is sent)."""
    return private_dir(data_dir())


@contextlib.contextmanager
def session(create: bool, doing: str) -> Iterator[sqlite3.Connection | None]:
    """The database for one command's work (None: there is none and ``create``
    is false), with the old conversation files imported first; closed after."""
    from mintcli.store.db import opened
    from mintcli.store.files import waiting_files

    waiting = bool(waiting_files())
    with opened(create or waiting, doing) as conn:
        if conn is not None and waiting:
            from mintcli.store.importer import import_files

            _notices.extend(import_files(conn))
        yield conn


def all_conversations() -> list[Conversation]:
    """Every saved conversation, whole, the most recently continued first."""
    from mintcli.store import read

    with session(False, "read the log") as conn:
        if conn is None:
            return []
        found = [read.load(conn, i) for i in read.ids(conn)]
    return [c for c in found if c is not None]


def ids() -> list[str]:
    """Every conversation's ID, the most recently continued first."""
    from mintcli.store import read

    with session(False, "read the log") as conn:
        return read.ids(conn) if conn is not None else []


def ids_to_complete() -> list[str]:
    """The IDs shell completion offers (those of conversation files waiting for
    the import too), read without creating, importing or upgrading anything:
    a Tab leaves the disk as it was."""
    import sqlite3

    from mintcli.store import read
    from mintcli.store.db import peek
    from mintcli.store.files import waiting_files

    names = []
    conn = peek()
    if conn is not None:
        with contextlib.closing(conn), contextlib.suppress(sqlite3.Error):  # damaged, busy
            names = read.ids(conn)
    return names + [p.stem for p in waiting_files()]


def find(ident: str | None) -> Conversation:
    """The conversation named by ``ident`` (an ID or a unique prefix), or the latest."""
    from mintcli.store import read

    with session(False, "read the log") as conn:
        found = read.load(conn, read.resolve(conn, ident)) if conn is not None else None
        if found is None:
            read.resolve(None, ident)  # raises: nothing saved, or no such ID
            raise AssertionError("unreachable")
        return found


def remove(conversation: Conversation | None) -> None:
    """Remove one conversation (None: every one)."""
    from mintcli.store import read

    with session(False, "remove from the log") as conn:
        if conn is not None:
            read.remove(conn, conversation.id if conversation is not None else None)


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
        from mintcli.storage.journal import new_id

        if continued is None or not continued.id:  # not in the log (a session's memory)
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
        from mintcli.store import write

        with session(True, "save the conversation") as conn:
            assert conn is not None  # asked to create it
            return write.save(
                conn,
                (self.id, self.base, self.created, self.messages),
                reply,
                exchange,
                text,
                time.time(),
            )

    def save_messages(self) -> str:
        """Save the messages alone, with no reply after them: what they add
        joins the conversation's last exchange (a session's tool results that
        finished before Ctrl-C stopped the tools, kept as the session ends).
        Returns the conversation's ID: a new one if it moved on meanwhile."""
        from mintcli.store import write

        with session(True, "save the conversation") as conn:
            assert conn is not None  # asked to create it
            return write.save(
                conn, (self.id, self.base, self.created, self.messages), None, {}, None, time.time()
            )
