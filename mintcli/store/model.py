"""A saved conversation as the rest of mint sees it (no database needed here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
        return preview_of(text_of(first.get("content")), words)


def preview_of(text: str, words: int = 8) -> str:
    return " ".join(text.split()[:words])


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or its text parts joined."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else ()
    return "".join(
        str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text"
    )


def last_calls(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
    """The tool calls of the last reply, when nothing but their results follows
    it, and the IDs of the calls those results answer. A saved conversation can
    hold some of them: a session that ends after Ctrl-C stopped the tools keeps
    the results that had finished, without a reply after them."""
    at = len(messages)
    while at and messages[at - 1].get("role") == "tool":
        at -= 1
    reply = messages[at - 1] if at else {}
    if reply.get("role") != "assistant":
        return [], set()
    made = [c for c in reply.get("tool_calls") or () if isinstance(c, dict)]
    return made, {str(m.get("tool_call_id")) for m in messages[at:]}


def open_calls(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls of the last reply that no result answers yet, in its order:
    both APIs refuse a conversation that goes on past one of them."""
    made, answered = last_calls(messages)
    return [c for c in made if str(c.get("id")) not in answered]
