"""mint's normalized stream events.

The protocol decoders in ``protocols/`` turn wire events into these small frozen
values. After the decoders only the runner's continuation filter and ``--format
raw`` still see wire data; the accumulator, the journal and the other sinks see
only these. ``Event`` is their union.

They are written out by hand (``__slots__``, an ``__init__``, and equality,
hash and repr from one base class) rather than as ``@dataclass(frozen=True,
slots=True)``: the same immutable, slotted, comparable values, without the
4 ms that generating six slotted dataclasses costs every ``mint chat`` at
start-up, which kept the short-reply target (within 1.2x of the minimal client)
out of reach.
"""

from __future__ import annotations

from typing import Any

# Version of the public JSONL schema (docs/events.md). Bump on incompatible change.
SCHEMA_VERSION = 2

_set = object.__setattr__


class _Frozen:
    """Immutable slotted value: equality, hash and repr come from ``__slots__``."""

    __slots__: tuple[str, ...] = ()
    __match_args__: tuple[str, ...] = ()

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

    __slots__ = __match_args__ = ("id", "model")
    id: str | None
    model: str | None

    def __init__(self, id: str | None, model: str | None) -> None:
        _set(self, "id", id)
        _set(self, "model", model)


class TextDelta(_Frozen):
    __slots__ = __match_args__ = ("text",)
    text: str

    def __init__(self, text: str) -> None:
        _set(self, "text", text)


class ReasoningDelta(_Frozen):
    __slots__ = __match_args__ = ("text",)
    text: str

    def __init__(self, text: str) -> None:
        _set(self, "text", text)


class ReasoningBlock(_Frozen):
    """A finished reasoning block the provider wants back, unchanged, in the
    next request of the same turn (Anthropic ``thinking`` with its signature,
    or ``redacted_thinking`` whose ``text`` is the encrypted data). Its text
    also came as :class:`ReasoningDelta` pieces; this is what replays it."""

    __slots__ = __match_args__ = ("kind", "text", "signature")
    kind: str  # "thinking" or "redacted_thinking"
    text: str
    signature: str

    def __init__(self, kind: str, text: str, signature: str = "") -> None:
        _set(self, "kind", kind)
        _set(self, "text", text)
        _set(self, "signature", signature)

    def as_json(self) -> dict[str, Any]:
        """The block as a conversation's assistant message keeps it (its
        ``thinking_blocks``, the shape LiteLLM also uses) and the journal too."""
        if self.kind == "redacted_thinking":
            return {"type": self.kind, "data": self.text}
        return {"type": self.kind, "thinking": self.text, "signature": self.signature}

    @classmethod
    def from_json(cls, obj: Any) -> ReasoningBlock | None:
        """The block of :meth:`as_json` (None: not one)."""
        if not isinstance(obj, dict):
            return None
        if obj.get("type") == "redacted_thinking" and isinstance(obj.get("data"), str):
            return cls("redacted_thinking", obj["data"])
        text, signature = obj.get("thinking"), obj.get("signature")
        if obj.get("type") == "thinking" and isinstance(text, str) and isinstance(signature, str):
            return cls("thinking", text, signature)
        return None

    @classmethod
    def fold(cls, held: list[ReasoningBlock], value: Any) -> list[ReasoningBlock]:
        """``held`` and the blocks of a journal's ``g`` record, a list of
        :meth:`as_json` (what is not one is left out). An empty record drops
        those held: the reply restarted, and the new one brings its own."""
        if value == []:
            return []
        blocks = [cls.from_json(b) for b in value] if isinstance(value, list) else []
        return [*held, *(b for b in blocks if b is not None)]


class RefusalDelta(_Frozen):
    """A piece of the model's refusal (OpenAI ``delta.refusal``): the reason it
    gives instead of an answer."""

    __slots__ = __match_args__ = ("text",)
    text: str

    def __init__(self, text: str) -> None:
        _set(self, "text", text)


class ToolCall(_Frozen):
    """One complete tool call. ``arguments`` is the parsed JSON value, or the raw
    string when the model produced invalid JSON (then ``arguments_error`` says why)."""

    __slots__ = __match_args__ = ("id", "name", "arguments", "arguments_error")
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

    def as_json(self) -> dict[str, Any]:
        """The public shape (docs/events.md), also kept in the journal."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "arguments": self.arguments}
        if self.arguments_error is not None:
            out["arguments_error"] = self.arguments_error
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> ToolCall:
        return cls(obj["id"], obj["name"], obj["arguments"], obj.get("arguments_error"))


class Usage(_Frozen):
    """Token counts as last reported by the server (None when not sent)."""

    __slots__ = __match_args__ = ("input_tokens", "output_tokens")
    input_tokens: int | None
    output_tokens: int | None

    def __init__(self, input_tokens: int | None, output_tokens: int | None) -> None:
        _set(self, "input_tokens", input_tokens)
        _set(self, "output_tokens", output_tokens)


class Finish(_Frozen):
    """The finish reason exactly as the provider sent it (stop, end_turn, tool_calls...)."""

    __slots__ = __match_args__ = ("reason",)
    reason: str

    def __init__(self, reason: str) -> None:
        _set(self, "reason", reason)


Event = (
    MessageStart
    | TextDelta
    | ReasoningDelta
    | ReasoningBlock
    | RefusalDelta
    | ToolCall
    | Usage
    | Finish
)
