"""``mint log list|show|rm|search|stats``: the saved conversations
(storage/conversations.py, over the database in store/)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from mintcli.base.terminal import Terminal
from mintcli.errors import UsageError
from mintcli.request.attach import REFERENCE, part_url
from mintcli.storage.conversations import Conversation, find, take_notices, text_of

if TYPE_CHECKING:
    from mintcli.options.settings import SearchSettings, StatsSettings


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def _notes(term: Terminal) -> None:
    for note in take_notices():
        term.warn(note)


def run_log_list(fmt: str, term: Terminal) -> None:
    from mintcli.storage.conversations import session
    from mintcli.store.read import summaries

    with session(False, "read the log") as conn:
        found = summaries(conn) if conn is not None else []
    _notes(term)
    if fmt == "json":
        rows = [
            {
                "id": c.id,
                "created": c.created,
                "updated": c.updated,
                "model": c.last.get("model"),
                "protocol": c.last.get("protocol"),
                "exchanges": c.exchanges,
                "preview": c.preview,
            }
            for c in found
        ]
        term.write(orjson.dumps(rows) + b"\n")
        return
    lines = [
        f"{c.id}\t{_when(c.updated)}\t{c.last.get('model', '?')}\t{c.preview}\n" for c in found
    ]
    term.write("".join(lines).encode())


def run_log_show(ident: str | None, fmt: str, term: Terminal) -> None:
    """json: the messages array, as --messages reads it; text: a transcript."""
    conversation = find(ident)
    _notes(term)
    if fmt == "json":
        term.write(orjson.dumps(conversation.messages) + b"\n")
        return
    term.write(transcript(conversation).encode())


def run_log_rm(ident: str | None, all_: bool, term: Terminal) -> None:
    if all_ == bool(ident):
        raise UsageError("give either an ID or --all")
    from mintcli.storage.conversations import session
    from mintcli.store import read

    with session(False, "remove from the log") as conn:
        target = None if all_ else read.resolve(conn, ident)  # raises when nothing matches
        if conn is not None:
            read.remove(conn, target)
    _notes(term)


def transcript(conversation: Conversation) -> str:
    """The conversation for reading: each message under its role, attachments
    and tool calls as one bracketed line each."""
    blocks = []
    for message in conversation.messages:
        role = str(message.get("role"))
        if role == "tool":
            role = f"tool ({message.get('tool_call_id')})"
        lines = [f"{role}:"]
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            note = _attachment_note(part)
            if note:
                lines.append(note)
        text = text_of(content)
        if text:
            lines.append(text.rstrip("\n"))
        calls = message.get("tool_calls")
        # Only the shapes mint writes; whatever a hand edit put there is left out.
        for call in calls if isinstance(calls, list) else ():
            if isinstance(call, dict):
                fn = call.get("function")
                name, args = (fn.get("name"), fn.get("arguments")) if isinstance(fn, dict) else (
                    None, None)  # fmt: skip
                lines.append(f"[tool call {call.get('id')}: {name} {args}]")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _attachment_note(part: Any) -> str | None:
    if isinstance(part, dict) and part.get("type") == REFERENCE:
        ref = part.get(REFERENCE) or {}
        size = ref.get("size")
        bytes_ = f", {size:,} bytes" if isinstance(size, int) else ""
        return f"[attachment: {ref.get('path')} ({ref.get('media_type')}{bytes_})]"
    url = part_url(part)
    if url is None:
        return None
    if url.startswith("data:"):
        return f"[attachment: {url[5:].partition(';')[0]}, inline]"
    return f"[attachment: {url}]"


def _range(since: str | None, until: str | None) -> tuple[float | None, float | None]:
    from mintcli.options.kinds import instant

    start = instant(since, end_of_day=False) if since is not None else None
    end = instant(until, end_of_day=True) if until is not None else None
    return start, end


def run_log_search(settings: SearchSettings, query: str, term: Terminal) -> None:
    """Hits newest first; text: ID, time, model, role and a one-line snippet
    (words found in [brackets], whitespace folded, control characters escaped)."""
    from mintcli.base.sanitize import escape_line
    from mintcli.storage.conversations import session
    from mintcli.store.search import END, START, search

    since, until = _range(settings.since, settings.until)
    with session(False, "search the log") as conn:
        hits, indexed = ([], True) if conn is None else search(
            conn, query, model=settings.model, since=since, until=until, limit=settings.limit
        )  # fmt: skip
    _notes(term)
    if not indexed:
        term.warn("this SQLite has no FTS5: searching by scanning every message, for the words "
                  "as parts of words")  # fmt: skip
    rows: list[dict[str, Any]] = [
        {
            "conversation": h.conversation,
            "time": h.time,
            "model": h.model,
            "role": h.role,
            "snippet": " ".join(h.snippet.split()).replace(START, "[").replace(END, "]"),
        }
        for h in hits
    ]
    if settings.format == "json":
        term.write(orjson.dumps(rows) + b"\n")
    elif settings.format == "jsonl":
        term.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    else:
        lines = [
            f"{r['conversation']}\t{_when(r['time'])}\t{escape_line(str(r['model'] or '?'))}\t"
            f"{escape_line(str(r['role']))}\t{escape_line(r['snippet'])}\n"
            for r in rows
        ]
        term.write("".join(lines).encode())


def run_log_stats(settings: StatsSettings, term: Terminal) -> None:
    from mintcli.storage.conversations import session
    from mintcli.store.stats import stats

    since, until = _range(settings.since, settings.until)
    with session(False, "read the log") as conn:
        rows = stats(conn, settings.by, since, until) if conn is not None else []
    _notes(term)
    if settings.format == "json":
        term.write(orjson.dumps(rows) + b"\n")
        return
    head = ([settings.by.upper()] if settings.by != "model" else []) + [
        "MODEL", "REQUESTS", "INPUT", "OUTPUT"]  # fmt: skip
    table = [head] + [[escape_cell(v) for v in r.values()] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    numeric = len(head) - 3
    lines = [
        "  ".join(
            cell.rjust(w) if i >= numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        + "\n"
        for row in table
    ]
    term.write("".join(lines).encode())


def escape_cell(value: Any) -> str:
    from mintcli.base.sanitize import escape_line

    return "?" if value is None else escape_line(str(value))
