"""The protocol-neutral description of one chat request.

``prompt.py`` and ``tools.py`` build it from argv/stdin/files; each protocol in
``protocols/`` turns it into its own wire body. Messages are kept in the OpenAI
shape (the shape users pass with ``--messages`` and get back in ``--format json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str | None
    parameters: JSONDict


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[JSONDict]
    max_tokens: int | None = None
    temperature: float | None = None
    tools: tuple[ToolSpec, ...] = ()
    # "auto" | "none" | "required" | a tool name | None (not sent)
    tool_choice: str | None = None
    # Extra body fields from -o KEY=VALUE, applied last (they win).
    options: JSONDict = field(default_factory=dict)
    # Text of a partial assistant reply to continue from (resumption).
    prefill: str | None = None

    def with_prefill(self, prefill: str | None) -> ChatRequest:
        return replace(self, prefill=prefill)
