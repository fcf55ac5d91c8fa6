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
