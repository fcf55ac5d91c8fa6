"""Writing to the log: one finished exchange per transaction (``save``), and
whole conversations for the import (``insert_conversation``).

A message's text goes in ``texts`` a block at a time, so a reply of a million
pieces is never put together (its pieces come from ``Reply.text_pieces()``).
Each message row carries a digest of the whole message: a new exchange keeps
the rows of the messages that are unchanged at their place and rewrites the
others, the way the conversation file used to be rewritten whole
(``--system`` may replace the first message, for example).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from mintcli.store.cjk import indexed
from mintcli.store.db import transaction
from mintcli.store.model import Conversation, text_of

BLOCK = 1 << 16  # characters of text per row of ``texts``
EXCHANGE_KEYS = ("time", "model", "protocol", "usage", "finish_reason", "host", "duration")


def blocks(pieces: Iterable[str]) -> Iterator[str]:
    """The pieces regrouped into blocks of about BLOCK characters, cut after a
    space or line end where there is one (so the index sees whole words)."""
    held: list[str] = []
    size = 0
    for piece in pieces:
        held.append(piece)
        size += len(piece)
        if size < BLOCK:
            if len(held) >= 1024:  # many small strings cost more than one joined
                held = ["".join(held)]
            continue
        # Each character is held once while a block is saved (the block, and what
        # follows it): the pieces go as they are joined, the rest as a block is cut.
        rest = "".join(held)
        held.clear()
        while len(rest) >= BLOCK:
            cut = max(rest.rfind(" ", BLOCK // 2, BLOCK), rest.rfind("\n", BLOCK // 2, BLOCK))
            cut = cut + 1 if cut >= 0 else BLOCK
            block = rest[:cut]
            rest = rest[cut:]
            yield block
        held, size = ([rest], len(rest)) if rest else ([], 0)
    if tail := "".join(held):
        yield tail


def _head(message: dict[str, Any], text_content: bool) -> hashlib._Hash:
    """The digest of a message, before its text (if kept apart) is added."""
    body = {**message, "content": None} if text_content else message
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    digest.update(b"\x01" if text_content else b"\x00")
    return digest


def digest_of(message: dict[str, Any]) -> bytes:
    content = message.get("content")
    digest = _head(message, isinstance(content, str))
    if isinstance(content, str):
        digest.update(content.encode("utf-8", "surrogatepass"))
    return digest.digest()


def insert_message(
    conn: sqlite3.Connection,
    conversation: str,
    position: int,
    exchange: int | None,
    message: dict[str, Any],
    text: Iterable[str] | None = None,
) -> None:
    """One message; ``text``: its content in pieces, when not in the message."""
    content = message.get("content")
    if text is None and isinstance(content, str):
        text = (content,)
    text_content = text is not None
    body = {**message, "content": None} if text_content else message
    role = message.get("role")
    row = conn.execute(
        "INSERT INTO messages (conversation_id, position, exchange_id, role, body,"
        " text_content, digest) VALUES (?, ?, ?, ?, ?, ?, x'')",
        (conversation, position, exchange, role if isinstance(role, str) else None,
         orjson.dumps(body).decode(), int(text_content)),
    )  # fmt: skip
    ident = row.lastrowid
    digest = _head(message, text_content)
    if text is not None:
        for part, block in enumerate(blocks(text)):
            digest.update(block.encode("utf-8", "surrogatepass"))
            _insert_text(conn, ident, part, block)
    elif searchable := text_of(content):
        _insert_text(conn, ident, 0, searchable)
    conn.execute("UPDATE messages SET digest = ? WHERE id = ?", (digest.digest(), ident))
    for n, call in enumerate(message.get("tool_calls") or ()):
        call = call if isinstance(call, dict) else {}
        fn = call.get("function")
        fn = fn if isinstance(fn, dict) else {}
        arguments = fn.get("arguments")
        conn.execute(
            "INSERT INTO tool_calls (message_id, position, call_id, name, arguments)"
            " VALUES (?, ?, ?, ?, ?)",
            (ident, n, _text(call.get("id")), _text(fn.get("name")),
             arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()),
        )  # fmt: skip
    if role == "tool":
        conn.execute(
            "INSERT INTO tool_results (message_id, call_id) VALUES (?, ?)",
            (ident, _text(message.get("tool_call_id"))),
        )


def _insert_text(conn: sqlite3.Connection, message: int | None, part: int, text: str) -> None:
    """A block of a message's text, with its form for the index where that differs."""
    conn.execute(
        "INSERT INTO texts (message_id, part, text, indexed) VALUES (?, ?, ?, ?)",
        (message, part, text, indexed(text)),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def insert_exchange(
    conn: sqlite3.Connection, conversation: str, position: int, exchange: dict[str, Any]
) -> int:
    usage = exchange.get("usage")
    tokens = usage if isinstance(usage, dict) else {}
    extra = {k: v for k, v in exchange.items() if k not in EXCHANGE_KEYS}
    row = conn.execute(
        "INSERT INTO exchanges (conversation_id, position, time, model, protocol, host,"
        " input_tokens, output_tokens, usage, finish_reason, duration, extra)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (conversation, position, exchange.get("time", 0.0), exchange.get("model"),
         exchange.get("protocol"), exchange.get("host"), _int(tokens.get("input_tokens")),
         _int(tokens.get("output_tokens")), None if usage is None else orjson.dumps(usage).decode(),
         exchange.get("finish_reason"), exchange.get("duration"),
         orjson.dumps(extra).decode() if extra else None),
    )  # fmt: skip
    assert row.lastrowid is not None
    return row.lastrowid


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def insert_conversation(conn: sqlite3.Connection, conversation: Conversation) -> None:
    """A whole conversation (from a file): each message belongs to the exchange
    its next assistant reply ended (the order in which they were saved)."""
    conn.execute(
        "INSERT INTO conversations (id, created, updated) VALUES (?, ?, ?)",
        (conversation.id, conversation.created, conversation.updated),
    )
    ids = [
        insert_exchange(conn, conversation.id, n, x) for n, x in enumerate(conversation.exchanges)
    ]
    turn = 0
    for position, message in enumerate(conversation.messages):
        exchange = ids[min(turn, len(ids) - 1)] if ids else None
        insert_message(conn, conversation.id, position, exchange, message)
        turn += message.get("role") == "assistant"


def save(
    conn: sqlite3.Connection,
    pending: tuple[str, int, float, list[dict[str, Any]]],
    reply: dict[str, Any] | None,
    exchange: dict[str, Any],
    text: Iterable[str] | None,
    now: float,
) -> str:
    """The finished exchange, in one transaction; returns the conversation's ID
    (a new one when another mint continued the conversation meanwhile).
    ``pending``: the conversation's ID, its number of exchanges and creation
    time when the request was built, and the messages up to the reply.
    ``reply`` None: the messages alone, which join the conversation's last
    exchange (the tool results a session keeps when it ends after Ctrl-C
    stopped the tools have no reply of their own)."""
    from mintcli.storage.journal import new_id

    wanted, base, started, messages = pending
    with transaction(conn):
        known = conn.execute(
            "SELECT (SELECT count(*) FROM exchanges WHERE conversation_id = c.id)"
            " FROM conversations AS c WHERE c.id = ?",
            (wanted,),
        ).fetchone()
        ident, created, source = wanted, started, None
        if known is not None and known[0] != base:
            ident, created, source = new_id(), now, wanted  # fork
        conn.execute(
            "INSERT INTO conversations (id, created, updated) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET updated = excluded.updated",
            (ident, created, now),
        )
        kept = _copy_exchanges(conn, source, ident, base) if source else {}
        position = len(kept) if source else (known[0] if known is not None else 0)
        new: int | None = None
        if reply is not None:
            new = insert_exchange(conn, ident, position, {"time": now, **exchange})
        else:
            new = _last_exchange(conn, ident)
        stored = conn.execute(
            "SELECT id, digest, exchange_id FROM messages WHERE conversation_id = ?"
            " ORDER BY position",
            (source or ident,),
        ).fetchall()
        # A message unchanged at its place keeps its row (and the exchange that added
        # it); the others are written anew.
        kept_rows = {
            position
            for position, ((_, digest, _), message) in enumerate(
                zip(stored, messages, strict=False)
            )
            if digest == digest_of(message)
        }
        if source:
            for position in sorted(kept_rows):
                old, _, exchange_id = stored[position]
                _copy_message(conn, old, ident, position, kept.get(exchange_id, new))
        else:
            gone = [(ident, p) for p in range(len(stored)) if p not in kept_rows]
            conn.executemany(
                "DELETE FROM messages WHERE conversation_id = ? AND position = ?", gone
            )
        for position, message in enumerate(messages):
            if position not in kept_rows:
                insert_message(conn, ident, position, new, message)
        if reply is not None:
            insert_message(conn, ident, len(messages), new, reply, text)
    return ident


def _last_exchange(conn: sqlite3.Connection, conversation: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM exchanges WHERE conversation_id = ? ORDER BY position DESC LIMIT 1",
        (conversation,),
    ).fetchone()
    return int(row[0]) if row is not None else None


def _copy_exchanges(
    conn: sqlite3.Connection, source: str, target: str, count: int
) -> dict[int, int]:
    """The first ``count`` exchanges of ``source`` into ``target``: old id -> new id.
    Each copy names the row that made the request (a copy of a copy, its original)."""
    ids: dict[int, int] = {}
    rows = conn.execute(
        "SELECT id FROM exchanges WHERE conversation_id = ? AND position < ? ORDER BY position",
        (source, count),
    ).fetchall()
    for (old,) in rows:
        row = conn.execute(
            "INSERT INTO exchanges (conversation_id, position, time, model, protocol, host,"
            " input_tokens, output_tokens, usage, finish_reason, duration, extra, copy_of)"
            " SELECT ?, position, time, model, protocol, host, input_tokens, output_tokens,"
            " usage, finish_reason, duration, extra, coalesce(copy_of, id) FROM exchanges"
            " WHERE id = ?",
            (target, old),
        )
        assert row.lastrowid is not None
        ids[old] = row.lastrowid
    return ids


def _copy_message(
    conn: sqlite3.Connection, old: int, target: str, position: int, exchange: int | None
) -> None:
    row = conn.execute(
        "INSERT INTO messages (conversation_id, position, exchange_id, role, body,"
        " text_content, digest) SELECT ?, ?, ?, role, body, text_content, digest"
        " FROM messages WHERE id = ?",
        (target, position, exchange, old),
    )
    new = row.lastrowid
    conn.execute(
        "INSERT INTO texts (message_id, part, text, indexed) SELECT ?, part, text, indexed"
        " FROM texts WHERE message_id = ? ORDER BY part",
        (new, old),
    )
    conn.execute(
        "INSERT INTO tool_calls (message_id, position, call_id, name, arguments)"
        " SELECT ?, position, call_id, name, arguments FROM tool_calls WHERE message_id = ?",
        (new, old),
    )
    conn.execute(
        "INSERT INTO tool_results (message_id, call_id) SELECT ?, call_id FROM tool_results"
        " WHERE message_id = ?",
        (new, old),
    )
