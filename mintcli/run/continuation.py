"""Picking a broken reply up where it stopped, without printing anything twice.

A new attempt continues in one of three ways (the ``resume`` field of a retry
event):

* ``last-event-id``: the server numbered its events (SSE ``id:``), so the same
  request is sent again with ``Last-Event-ID`` and the stream goes on; the
  decoder keeps its state, so a tool call cut in the middle is finished.
* ``prefill``: the text received so far is sent as a final assistant message
  and the model writes the rest. The Messages API refuses a prefill that ends
  in whitespace, so trailing whitespace is left out of it; the model tends to
  write it again, and the :class:`Filter` drops that repeat.
* ``restart``: nothing usable was received (or only reasoning and tool calls),
  so the request is sent as it was; the filter drops the reasoning, refusal and
  tool calls the new reply repeats.

With Anthropic extended thinking on, the API refuses a final assistant message
that does not start with the reply's signed thinking block. So a prefill
carries the reply's finished, signed thinking blocks (kept by the decoder from
``signature_delta``) before its text. A break inside the thinking leaves no text
and so restarts (the new reply thinks again, and the filter drops what it
repeats); a reply whose thinking came unsigned cannot be prefilled and restarts
too, as a ``--schema`` reply does.

A server that ignores ``Last-Event-ID`` answers with a fresh reply; the runner
notices (its first event starts a message) and asks again with a prefill.

A reply under ``--schema`` is never prefilled (half a JSON document cannot be
handed back as the start of a forced tool's input or of strict structured
output): it restarts, and the filter drops what the new reply repeats.
"""

from __future__ import annotations

from dataclasses import dataclass

from mintcli.base.events import Event, ReasoningDelta, RefusalDelta, TextDelta, ToolCall
from mintcli.output.accumulate import Accumulator
from mintcli.request.model import ChatRequest


class Filter:
    """Drops what a continuation repeats. Each expectation is consumed while the
    new stream matches it and abandoned at the first difference."""

    def __init__(
        self,
        text: str = "",
        reasoning: str = "",
        calls: list[ToolCall] | None = None,
        refusal: str = "",
    ):
        self._text = text
        self._reasoning = reasoning
        self._calls = list(calls or ())
        self._refusal = refusal

    @property
    def done(self) -> bool:
        """Nothing is expected any more: the filter can be dropped."""
        return not (self._text or self._reasoning or self._calls or self._refusal)

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

    def keep(self, event: Event) -> Event | None:
        """The event as far as it is new (possibly shortened), or None."""
        match event:
            case TextDelta() if self._text:
                self._text, new = self._skip(self._text, event.text)
                return TextDelta(new) if new else None
            case ReasoningDelta() if self._reasoning:
                self._reasoning, new = self._skip(self._reasoning, event.text)
                return ReasoningDelta(new) if new else None
            case RefusalDelta() if self._refusal:
                self._refusal, new = self._skip(self._refusal, event.text)
                return RefusalDelta(new) if new else None
            case ToolCall() if self._calls:
                if self._calls[0].same_call(event):
                    self._calls.pop(0)
                    return None
                self._calls.clear()
        return event


@dataclass(frozen=True)
class Plan:
    """How the next attempt starts."""

    how: str  # "first", "last-event-id", "prefill" or "restart"
    request: ChatRequest
    last_event_id: str | None = None  # sent as Last-Event-ID; the stream goes on
    filter: Filter | None = None  # what the new stream will repeat

    @property
    def resumes(self) -> bool:
        """Whether the attempt continues text already received."""
        return self.how in ("last-event-id", "prefill")

    @property
    def goes_on(self) -> bool:
        """The same response continues: the decoder and the filter carry over."""
        return self.last_event_id is not None


MAX_EVENT_ID = 1024  # longer ids are not sent back: no real server needs one


def _sendable(event_id: str) -> bool:
    """Whether an SSE id can go back as a Last-Event-ID header: HTTP header
    values are ASCII without control characters (any other id means continuing
    another way, never a failed request)."""
    return len(event_id) <= MAX_EVENT_ID and event_id.isascii() and event_id.isprintable()


def plan_next(
    request: ChatRequest,
    acc: Accumulator,
    last_event_id: str | None,
    *,
    allow_last_event_id: bool = True,
    refuses_prefill: bool = False,
) -> Plan:
    """Choose how to continue after what ``acc`` holds. ``request`` is the
    original request (without a prefill); ``refuses_prefill``: the API takes
    no prefill for this request (Anthropic with thinking on: the extended
    thinking guide lists pre-filled responses as not compatible), so the reply
    starts again and what it repeats is dropped."""
    if allow_last_event_id and last_event_id is not None and _sendable(last_event_id):
        return Plan("last-event-id", request, last_event_id=last_event_id)
    text = acc.text.getvalue()
    prefill = text.rstrip() if request.schema is None and not refuses_prefill else ""
    refusal = acc.refusal.getvalue()
    if prefill:
        expected = Filter(text=text[len(prefill) :], calls=acc.tool_calls, refusal=refusal)
        return Plan("prefill", request.with_prefill(prefill), filter=expected)
    # A fresh reply: it may repeat whatever was received (whitespace, reasoning, calls).
    reasoning = acc.reasoning.getvalue()
    expected = Filter(text=text, reasoning=reasoning, calls=acc.tool_calls, refusal=refusal)
    return Plan("restart", request, filter=None if expected.done else expected)
