"""Folds mint events into the final result of a reply.

The accumulator lives for the whole run, across retries and a ``--resume``: it
is the one place that knows everything received so far (the text a
continuation must start from, the tool calls already emitted, the usage of
each attempt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mintcli.events import ToolCall, Usage


class TextBuffer:
    """Append-only text kept as a few large chunks, so memory stays close to the
    size of the text however many small pieces it arrived in."""

    __slots__ = ("_chunks", "_pending", "_size", "last")

    _COMPACT_AT = 4096  # pieces held loose before they are joined into one chunk

    def __init__(self, initial: str = "") -> None:
        self._chunks: list[str] = [initial] if initial else []
        self._pending: list[str] = []
        self._size = len(initial)
        self.last = initial[-1:]  # last character, for the final-newline rule

    def append(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        self._size += len(text)
        self.last = text[-1]
        if len(self._pending) >= self._COMPACT_AT:
            self._chunks.append("".join(self._pending))
            self._pending.clear()

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def getvalue(self) -> str:
        if self._pending:
            self._chunks.append("".join(self._pending))
            self._pending.clear()
        if len(self._chunks) > 1:
            self._chunks = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""


@dataclass
class UsageTotals:
    input_tokens: int | None = None
    output_tokens: int | None = None

    def add(self, usage: UsageTotals) -> None:
        if usage.input_tokens is not None:
            self.input_tokens = (self.input_tokens or 0) + usage.input_tokens
        if usage.output_tokens is not None:
            self.output_tokens = (self.output_tokens or 0) + usage.output_tokens

    def as_dict(self) -> dict[str, Any] | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


class Accumulator:
    def __init__(self) -> None:
        self.text = TextBuffer()
        self.reasoning = TextBuffer()
        self.tool_calls: list[ToolCall] = []
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.usage = UsageTotals()  # summed over finished attempts
        self._attempt_usage = UsageTotals()  # latest figures of the current attempt
        self.pieces = 0

    # -- folding ---------------------------------------------------------------
    def add_usage(self, usage: Usage) -> None:
        # Within one response the latest figure wins (Anthropic repeats and grows them).
        if usage.input_tokens is not None:
            self._attempt_usage.input_tokens = usage.input_tokens
        if usage.output_tokens is not None:
            self._attempt_usage.output_tokens = usage.output_tokens

    def end_attempt(self) -> UsageTotals:
        """Close the current attempt's usage into the totals; return what it added."""
        added = self._attempt_usage
        self.usage.add(added)
        self._attempt_usage = UsageTotals()
        return added

    def current_usage(self) -> dict[str, Any] | None:
        total = UsageTotals(self.usage.input_tokens, self.usage.output_tokens)
        total.add(self._attempt_usage)
        return total.as_dict()

    # -- the result ------------------------------------------------------------
    def tool_calls_json(self) -> list[dict[str, Any]]:
        return [tool_call_json(c) for c in self.tool_calls]

    def assistant_message(self) -> dict[str, Any]:
        """The new assistant turn in OpenAI message shape (for ``messages``)."""
        import orjson

        text = self.text.getvalue()
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {
                        "name": c.name,
                        "arguments": c.arguments
                        if c.arguments_error is not None
                        else orjson.dumps(c.arguments).decode(),
                    },
                }
                for c in self.tool_calls
            ]
        return message


def tool_call_json(call: ToolCall) -> dict[str, Any]:
    out: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments}
    if call.arguments_error is not None:
        out["arguments_error"] = call.arguments_error
    return out
