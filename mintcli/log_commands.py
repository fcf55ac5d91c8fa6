"""``mint log list|show|rm``: the saved conversations (conversations.py)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from mintcli.attach import REFERENCE, part_url
from mintcli.conversations import Conversation, all_conversations, find, remove, text_of
from mintcli.errors import UsageError
from mintcli.terminal import Terminal


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def run_log_list(fmt: str, term: Terminal) -> None:
    found = all_conversations()
    if fmt == "json":
        rows = [
            {
                "id": c.id,
                "created": c.created,
                "updated": c.updated,
                "model": c.last.get("model"),
                "protocol": c.last.get("protocol"),
                "exchanges": len(c.exchanges),
                "preview": c.preview(),
            }
            for c in found
        ]
        term.write(orjson.dumps(rows) + b"\n")
        return
    lines = [
        f"{c.id}\t{_when(c.updated)}\t{c.last.get('model', '?')}\t{c.preview()}\n" for c in found
    ]
    term.write("".join(lines).encode())


def run_log_show(ident: str | None, fmt: str, term: Terminal) -> None:
    """json: the messages array, as --messages reads it; text: a transcript."""
    conversation = find(ident)
    if fmt == "json":
        term.write(orjson.dumps(conversation.messages) + b"\n")
        return
    term.write(transcript(conversation).encode())


def run_log_rm(ident: str | None, all_: bool, term: Terminal) -> None:
    if all_ == bool(ident):
        raise UsageError("give either an ID or --all")
    for conversation in all_conversations() if all_ else [find(ident)]:
        remove(conversation)


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
        for call in message.get("tool_calls") or ():
            fn = call.get("function") or {}
            lines.append(f"[tool call {call.get('id')}: {fn.get('name')} {fn.get('arguments')}]")
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
