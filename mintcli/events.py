"""mint's normalized stream events.

The protocol decoders in ``protocols/`` turn wire events into these small frozen
values; nothing after them ever looks at wire JSON. The union ``Event`` is what
flows from a decoder to the accumulator and the output sinks.
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


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None
    output_tokens: int | None


@dataclass(frozen=True, slots=True)
class Finish:
    """The finish reason exactly as the provider sent it (stop, end_turn, tool_calls...)."""

    reason: str


@dataclass(frozen=True, slots=True)
class End:
    """The stream's terminator arrived (``[DONE]`` or ``message_stop``)."""


Event = MessageStart | TextDelta | ReasoningDelta | ToolCall | Usage | Finish | End
