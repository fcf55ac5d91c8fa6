"""Reading the log: a conversation whole, the listing, IDs and prefixes, removal."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import orjson

from mintcli.errors import ConfigError, UsageError
from mintcli.store.db import db_path, has_fts, transaction
from mintcli.store.model import Conversation, preview_of
from mintcli.store.write import EXCHANGE_KEYS


def load(conn: sqlite3.Connection, ident: str) -> Conversation | None:
    row = conn.execute(
        "SELECT created, updated FROM conversations WHERE id = ?", (ident,)
    ).fetchone()
    if row is None:
        return None
    texts: dict[int, list[str]] = {}
    for message, text in conn.execute(
        "SELECT t.message_id, t.text FROM texts AS t JOIN messages AS m ON m.id = t.message_id"
        " WHERE m.conversation_id = ? AND m.text_content ORDER BY t.message_id, t.part",
        (ident,),
    ):
        texts.setdefault(message, []).append(text)
    messages = []
    for message, body, text_content in conn.execute(
        "SELECT id, body, text_content FROM messages WHERE conversation_id = ? ORDER BY position",
        (ident,),
    ):
        obj = _object(body, f"row {message} of table messages, in conversation {ident}")
        if text_content:
            obj["content"] = "".join(texts.get(message, ()))
        messages.append(obj)
    exchanges = [
        _exchange(r)
        for r in conn.execute(
            f"SELECT {', '.join(EXCHANGE_KEYS)}, extra FROM exchanges"
            " WHERE conversation_id = ? ORDER BY position",
            (ident,),
        )
    ]
    return Conversation(ident, row[0], row[1], messages, exchanges)


def _exchange(row: tuple[Any, ...]) -> dict[str, Any]:
    values = dict(zip(EXCHANGE_KEYS, row, strict=False))
    if values["usage"] is not None:
        values["usage"] = _object(values["usage"], "an exchange's usage")
    out = {k: values[k] for k in EXCHANGE_KEYS[:5]}
    out.update({k: values[k] for k in EXCHANGE_KEYS[5:] if values[k] is not None})
    if row[-1]:
        out.update(_object(row[-1], "an exchange's extra fields"))
    return out


def _object(text: Any, what: str) -> dict[str, Any]:
    """A JSON object as mint wrote it; anything else (a hand edit, a damaged
    file) is a database mint cannot use, exit 3, as SQLite's own damage is."""
    try:
        obj = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        obj = None
    if not isinstance(obj, dict):
        raise ConfigError(
            f"cannot read the log in {db_path()}: the database is damaged ({what} is not a JSON"
            " object)"
        )
    return obj


def ids(conn: sqlite3.Connection) -> list[str]:
    """Every conversation's ID, the most recently continued first."""
    rows = conn.execute("SELECT id FROM conversations ORDER BY updated DESC, id DESC")
    return [r[0] for r in rows]


def resolve(conn: sqlite3.Connection | None, ident: str | None) -> str:
    """The ID that ``ident`` (an ID, a unique prefix, or None: the latest) names."""
    if not ident:
        row = conn.execute(
            "SELECT id FROM conversations ORDER BY updated DESC, id DESC LIMIT 1"
        ).fetchone() if conn is not None else None  # fmt: skip
        if row is None:
            raise UsageError("there is no saved conversation yet (see: mint log list)")
        return str(row[0])
    matches: list[str] = []
    if conn is not None and "/" not in ident:
        if conn.execute("SELECT 1 FROM conversations WHERE id = ?", (ident,)).fetchone():
            return ident
        rows = conn.execute(
            "SELECT id FROM conversations WHERE substr(id, 1, ?) = ? ORDER BY id",
            (len(ident), ident),
        )
        matches = [r[0] for r in rows]
    if not matches:
        raise UsageError(f"no conversation with ID {ident!r} (see: mint log list)")
    if len(matches) > 1:
        raise UsageError(f"ID {ident!r} is ambiguous: {', '.join(matches)}")
    return matches[0]


@dataclass(frozen=True)
class Summary:
    """What ``mint log list`` shows of a conversation."""

    id: str
    created: float
    updated: float
    last: dict[str, Any]
    exchanges: int
    preview: str


def summaries(conn: sqlite3.Connection) -> list[Summary]:
    """Every conversation, the most recently continued first, without reading
    its messages (the preview comes from the start of the first user message)."""
    rows = conn.execute(
        "SELECT c.id, c.created, c.updated, x.position, x.model, x.protocol, f.id,"
        " substr(t.text, 1, 4096), length(t.text) > 4096 OR EXISTS"
        "   (SELECT 1 FROM texts WHERE message_id = f.id AND part > 0)"
        " FROM conversations AS c"
        " LEFT JOIN exchanges AS x ON x.conversation_id = c.id AND x.position ="
        "   (SELECT max(position) FROM exchanges WHERE conversation_id = c.id)"
        " LEFT JOIN messages AS f ON f.id = (SELECT id FROM messages WHERE conversation_id = c.id"
        "   AND role = 'user' ORDER BY position LIMIT 1)"
        " LEFT JOIN texts AS t ON t.message_id = f.id AND t.part = 0"
        " ORDER BY c.updated DESC, c.id DESC"
    ).fetchall()
    out = []
    for ident, created, updated, position, model, protocol, first, start, more in rows:
        last = {"model": model, "protocol": protocol} if position is not None else {}
        text = start or ""
        if more and len(text.split()) <= 8:
            text = _whole_text(conn, first)  # the first words may run past what was read
        count = position + 1 if position is not None else 0
        out.append(Summary(ident, created, updated, last, count, preview_of(text)))
    return out


def _whole_text(conn: sqlite3.Connection, message: int) -> str:
    rows = conn.execute("SELECT text FROM texts WHERE message_id = ? ORDER BY part", (message,))
    return "".join(r[0] for r in rows)


def remove(conn: sqlite3.Connection, ident: str | None) -> None:
    """One conversation (None: all), with its exchanges, messages and index entries."""
    with transaction(conn):
        if ident is None:
            conn.execute("DELETE FROM conversations")
        else:
            conn.execute("DELETE FROM conversations WHERE id = ?", (ident,))
        if ident is None and has_fts(conn):
            # The index keeps a removed text's words until its segments merge; after
            # removing everything, rebuilding it (from nothing) drops them at once.
            # (Merging after each single removal, 'optimize', takes seconds at
            # 100,000 exchanges: not done.)
            conn.execute("INSERT INTO texts_fts (texts_fts) VALUES ('rebuild')")
