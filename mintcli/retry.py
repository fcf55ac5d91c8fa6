"""Retry policy (which failures, how long to wait) and the continuation filter
that keeps a resumed stream from repeating what was already printed."""

from __future__ import annotations

import random
from dataclasses import dataclass

from mintcli.errors import MintError
from mintcli.events import ToolCall


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    base: float = 1.0
    cap: float = 60.0

    def should_retry(self, error: MintError, retries_done: int) -> bool:
        return error.retryable and retries_done < self.max_retries

    def delay(self, retries_done: int, error: MintError, rng: random.Random | None = None) -> float:
        """Wait before retry number ``retries_done + 1``: base * 2^n with "equal
        jitter" (between half and all of it), or what the server asked for with
        Retry-After / retry-after-ms. No single wait exceeds the cap."""
        if error.retry_after is not None:
            return min(self.cap, error.retry_after)
        full = min(self.cap, self.base * (2.0**retries_done))
        r = (rng or random).random()
        return full / 2 + r * full / 2


class ContinuationFilter:
    """Drops what a continuation repeats.

    After a prefill the model tends to regenerate the whitespace that was cut off
    the prefill (the Messages API refuses a prefill ending in whitespace); after a
    fresh restart it may repeat reasoning and tool calls that were already
    emitted. Each expectation is consumed while the new stream matches it, and
    abandoned at the first difference.
    """

    def __init__(
        self,
        text: str = "",
        reasoning: str = "",
        calls: list[ToolCall] | None = None,
    ) -> None:
        self._text = text
        self._reasoning = reasoning
        self._calls = list(calls or ())

    @property
    def active(self) -> bool:
        return bool(self._text or self._reasoning or self._calls)

    @staticmethod
    def _skip(expected: str, piece: str) -> tuple[str, str]:
        """Return (what remains expected, the part of piece that is new)."""
        n = 0
        limit = min(len(expected), len(piece))
        while n < limit and expected[n] == piece[n]:
            n += 1
        if n == len(piece):
            return expected[n:], ""
        # piece diverged (or outgrew the expectation): stop expecting anything.
        return "", piece[n:]

    def text(self, piece: str) -> str:
        if not self._text:
            return piece
        self._text, new = self._skip(self._text, piece)
        return new

    def reasoning(self, piece: str) -> str:
        if not self._reasoning:
            return piece
        self._reasoning, new = self._skip(self._reasoning, piece)
        return new

    def tool_call(self, call: ToolCall) -> bool:
        """True when the call is new and should be emitted."""
        if self._calls and self._calls[0].same_call(call):
            self._calls.pop(0)
            return False
        self._calls.clear()
        return True
