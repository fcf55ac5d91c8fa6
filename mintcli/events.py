"""mint's normalized stream events.

The protocol decoders in ``protocols/`` turn wire events into these small frozen
values. After the decoders only the runner's continuation filter and ``--format
raw`` still see wire data; the accumulator, the journal and the other sinks see
only these. ``Event`` is their union.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Version of the public JSONL schema (docs/events.md). Bump on incompatible change.
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class MessageStart:
    """The server began a fresh reply (Anthropic ``message_start``, OpenAI role chunk)."""

    id: str | None
    model: str | None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One complete tool call. ``arguments`` is the parsed JSON value, or the raw
    string when the model produced invalid JSON (then ``arguments_error`` says why)."""

    id: str
    name: str
    arguments: Any
    arguments_error: str | None = None

    def same_call(self, other: ToolCall) -> bool:
        """Equal ignoring the id (ids differ when a reply is regenerated)."""
        return self.name == other.name and self.arguments == other.arguments

    def as_json(self) -> dict[str, Any]:
        """The public shape (docs/events.md), also kept in the journal."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.arguments_error is not None:
            out["arguments_error"] = self.arguments_error
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ToolCall:
        return cls(obj["id"], obj["name"], obj["arguments"], obj.get("arguments_error"))


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as last reported by the server (None when not sent)."""

    input_tokens: int | None
    output_tokens: int | None


@dataclass(frozen=True, slots=True)
class Finish:
    """The finish reason exactly as the provider sent it (stop, end_turn, tool_calls...)."""

    reason: str


Event = MessageStart | TextDelta | ReasoningDelta | ToolCall | Usage | Finish
