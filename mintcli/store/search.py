"""``mint log search``: messages whose text holds every word of the query,
newest first. With FTS5 the words are matched as whole words through the
index (``word*`` matches a prefix), and a word in Chinese or Japanese as a
phrase of its characters, found inside a longer run of them (``store/cjk.py``);
without the index every text is scanned for the words as substrings, and the
caller says so."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from mintcli.errors import UsageError
from mintcli.store import cjk
from mintcli.store.db import has_fts
from mintcli.store.stats import within

# Around the words found, in the snippet; the caller shows them its own way.
START, END = "\x02", "\x03"
_WORDS = 12  # snippet length, in tokens


@dataclass(frozen=True)
class Hit:
    conversation: str
    time: float
    model: str | None
    role: str | None
    snippet: str


def fts_query(query: str) -> str:
    """The words as FTS5 strings (so ``c++`` or ``don't`` are not syntax), all
    required; a string holding Han or kana characters is a phrase of them."""
    terms = []
    for word in query.split():
        prefix = word.endswith("*") and len(word) > 1
        core = cjk.index_text(word[:-1] if prefix else word)
        terms.append('"' + core.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms)


def search(
    conn: sqlite3.Connection,
    query: str,
    *,
    model: str | None,
    since: float | None,
    until: float | None,
    limit: int,
) -> tuple[list[Hit], bool]:
    """The hits, and whether the index was used."""
    if not query.split():
        raise UsageError("the search query is empty")
    where, params = within("coalesce(e.time, c.updated)", since, until)
    if model is not None:
        where.append("e.model = ?")
        params.append(model)
    # One hit per message (a long one has several blocks): its first matching block.
    found = (
        "SELECT min(t.id) AS tid, coalesce(e.time, c.updated) AS moment FROM {source}"
        " JOIN messages AS m ON m.id = t.message_id"
        " JOIN conversations AS c ON c.id = m.conversation_id"
        " LEFT JOIN exchanges AS e ON e.id = m.exchange_id"
        f" WHERE {{match}} AND {' AND '.join(where)}"
        " GROUP BY t.message_id ORDER BY moment DESC, tid DESC LIMIT ?"
    )
    shown = (
        "SELECT m.conversation_id, hit.moment, e.model, m.role, {snippet}"
        " FROM hit JOIN texts AS t ON t.id = hit.tid {join}"
        " JOIN messages AS m ON m.id = t.message_id"
        " LEFT JOIN exchanges AS e ON e.id = m.exchange_id"
        " {where} ORDER BY hit.moment DESC, hit.tid DESC"
    )
    indexed = has_fts(conn)
    if indexed:
        match = fts_query(query)
        hit = found.format(
            source="texts_fts JOIN texts AS t ON t.id = texts_fts.rowid", match="texts_fts MATCH ?"
        )
        show = shown.format(
            snippet=f"snippet(texts_fts, 0, '{START}', '{END}', '…', {_WORDS})",
            join="JOIN texts_fts ON texts_fts.rowid = hit.tid",
            where="WHERE texts_fts MATCH ?",
        )
        args: list[object] = [match, *params, limit, match]
    else:
        words = query.split()
        escaped = [w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in words]
        hit = found.format(
            source="texts AS t", match=" AND ".join("t.text LIKE ? ESCAPE '\\'" for _ in words)
        )
        show = shown.format(
            snippet="substr(t.text, max(1, instr(lower(t.text), lower(?)) - 40), 100)",
            join="",
            where="",
        )
        args = [*[f"%{w}%" for w in escaped], *params, limit, words[0]]
    sql = f"WITH hit AS ({hit}) {show}"
    rows = conn.execute(sql, args).fetchall()
    if indexed:  # the snippet was cut from the text as the index sees it
        rows = [(*row[:-1], cjk.shown(row[-1])) for row in rows]
    return [Hit(*row) for row in rows], indexed
