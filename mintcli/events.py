"""mint's normalized stream events.

The protocol decoders in ``protocols/`` turn wire events into these small frozen
values; nothing after them ever looks at wire JSON. The union ``Event`` is what
flows from a decoder to the accumulator and the output sinks.

They are written out by hand rather than with ``@dataclass(frozen=True)``: the
same immutable, slotted, comparable values, without the few milliseconds that
generating seven dataclasses costs every ``mint chat`` at start-up.
"""

from __future__ import annotations

from typing import Any

# Version of the public JSONL schema (docs/events.md). Bump on incompatible change.
SCHEMA_VERSION = 1

_set = object.__setattr__


class _Frozen:
    """Immutable slotted value: equality, hash and repr come from ``__slots__``."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({inner})"


class MessageStart(_Frozen):
    """The server began a fresh reply (Anthropic ``message_start``, OpenAI role chunk)."""

    __slots__ = ("id", "model")
    id: str | None
    model: str | None

    def __init__(self, id: str | None, model: str | None) -> None:
        _set(self, "id", id)
        _set(self, "model", model)


class TextDelta(_Frozen):
    __slots__ = ("text",)
    text: str

    def __init__(self, text: str) -> None:
        _set(self, "text", text)


class ReasoningDelta(_Frozen):
    __slots__ = ("text",)
    text: str

    def __init__(self, text: str) -> None:
        _set(self, "text", text)


class ToolCall(_Frozen):
    """One complete tool call. ``arguments`` is the parsed JSON value, or the raw
    string when the model produced invalid JSON (then ``arguments_error`` says why)."""

    __slots__ = ("arguments", "arguments_error", "id", "name")
    id: str
    name: str
    arguments: Any
    arguments_error: str | None

    def __init__(
        self, id: str, name: str, arguments: Any, arguments_error: str | None = None
    ) -> None:
        _set(self, "id", id)
        _set(self, "name", name)
        _set(self, "arguments", arguments)
        _set(self, "arguments_error", arguments_error)

    def same_call(self, other: ToolCall) -> bool:
        """Equal ignoring the id (ids differ when a reply is regenerated)."""
        return self.name == other.name and self.arguments == other.arguments


class Usage(_Frozen):
    __slots__ = ("input_tokens", "output_tokens")
    input_tokens: int | None
    output_tokens: int | None

    def __init__(self, input_tokens: int | None, output_tokens: int | None) -> None:
        _set(self, "input_tokens", input_tokens)
        _set(self, "output_tokens", output_tokens)


class Finish(_Frozen):
    """The finish reason exactly as the provider sent it (stop, end_turn, tool_calls...)."""

    __slots__ = ("reason",)
    reason: str

    def __init__(self, reason: str) -> None:
        _set(self, "reason", reason)


class End(_Frozen):
    """The stream's terminator arrived (``[DONE]`` or ``message_stop``)."""

    __slots__ = ()


Event = MessageStart | TextDelta | ReasoningDelta | ToolCall | Usage | Finish | End
