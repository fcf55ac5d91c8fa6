"""The protocol-neutral description of one chat request, and its JSON forms.

``build.py`` builds it from argv/stdin/files; each protocol in
``protocols/`` turns it into its own wire body. Messages are kept in the OpenAI
shape (the shape users pass with ``--messages`` and get back in ``--format json``).
The journal keeps a request as :meth:`ChatRequest.as_json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from mintcli.output.accumulate import Reply

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
    # --schema: a JSON Schema the reply must follow (see schema.py); each
    # protocol asks for it in its own way.
    schema: JSONDict | None = None

    def with_prefill(self, prefill: str | None) -> ChatRequest:
        return replace(self, prefill=prefill)

    def as_json(self) -> JSONDict:
        return {
            "model": self.model,
            "messages": self.messages,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "tools": [
                {"name": t.name, "description": t.description, "parameters": t.parameters}
                for t in self.tools
            ],
            "tool_choice": self.tool_choice,
            "options": self.options,
            "schema": self.schema,
        }

    @classmethod
    def from_json(cls, obj: JSONDict) -> ChatRequest:
        return cls(
            model=obj["model"],
            messages=obj["messages"],
            max_tokens=obj.get("max_tokens"),
            temperature=obj.get("temperature"),
            tools=tuple(ToolSpec(**t) for t in obj.get("tools", ())),
            tool_choice=obj.get("tool_choice"),
            options=obj.get("options") or {},
            schema=obj.get("schema"),
        )


def join_url(base: str, path: str) -> str:
    """``{base}{path}``; a query string of the base URL stays at the end."""
    base, sep, query = base.partition("?")
    return base.rstrip("/") + path + sep + query


def assistant_message(reply: Reply, *, text: bool = True) -> JSONDict:
    """A reply as the assistant turn of a conversation, in OpenAI shape
    (``text=False``: content left None, for a caller that writes the text itself)."""
    message: JSONDict = {"role": "assistant", "content": (reply.text or None) if text else None}
    if reply.reasoning_blocks:
        # Signed reasoning the Messages API wants back, first and unchanged, when
        # this turn goes on (tool results, a prefill); OpenAI is not sent it.
        message["thinking_blocks"] = [b.as_json() for b in reply.reasoning_blocks]
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {
                    "name": c.name,
                    # invalid JSON from the model is kept as the raw string it was
                    "arguments": c.arguments
                    if c.arguments_error is not None
                    else orjson.dumps(c.arguments).decode(),
                },
            }
            for c in reply.tool_calls
        ]
    return message
