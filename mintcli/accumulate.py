"""Folds mint events into the final result of a reply.

The accumulator lives for the whole run, across retries and a ``--resume``: it
is the one place that knows everything received so far (the text a
continuation must start from, the tool calls already emitted, the usage of
each attempt).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, BinaryIO

from mintcli.events import ToolCall, Usage


class TextBuffer:
    """Append-only text whose memory stays flat however long it grows.

    Pieces are joined into chunks every few thousand appends; once the chunks
    held in memory pass ``SPILL_AT`` characters they move, as UTF-8, to an
    anonymous temporary file (private, and gone when the process ends). The
    whole text is only rebuilt by :meth:`getvalue`, which a run needs at most
    at a retry seam and for ``--format json``.
    """

    __slots__ = ("_chunks", "_held", "_pending", "_size", "_spool", "last")

    COMPACT_AT = 1024  # pieces held loose before they are joined into one chunk
    SPILL_AT = 1 << 16  # characters held in memory before they go to the spool file

    def __init__(self, initial: str = "") -> None:
        self._chunks: list[str] = []
        self._held = 0  # characters in _chunks
        self._pending: list[str] = []
        self._size = 0
        self._spool: BinaryIO | None = None
        self.last = ""  # last character, for the final-newline rule
        self.append(initial)

    def append(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        self._size += len(text)
        self.last = text[-1]
        if len(self._pending) >= self.COMPACT_AT:
            self._compact()

    def extend(self, texts: list[str]) -> None:
        """``append`` for several pieces at once (none of them empty)."""
        self._pending.extend(texts)
        self._size += sum(map(len, texts))
        self.last = texts[-1][-1]
        if len(self._pending) >= self.COMPACT_AT:
            self._compact()

    def _compact(self) -> None:
        chunk = "".join(self._pending)
        self._pending.clear()
        self._chunks.append(chunk)
        self._held += len(chunk)
        if self._held >= self.SPILL_AT:
            if self._spool is None:
                import tempfile  # only long replies get here

                self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - lives with the buffer
            self._spool.write("".join(self._chunks).encode("utf-8", "surrogatepass"))
            self._chunks.clear()
            self._held = 0

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def getvalue(self) -> str:
        if self._pending:
            self._compact()
        held = "".join(self._chunks)
        if self._spool is None:
            self._chunks = [held] if held else []
            return held
        self._spool.seek(0)
        spilled = self._spool.read().decode("utf-8", "surrogatepass")
        self._spool.seek(0, 2)
        return spilled + held


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
