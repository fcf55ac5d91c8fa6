"""Output writers for ``--format text|raw|jsonl|json``.

A sink turns events into bytes and holds them until :meth:`Sink.flush`, which
the runner calls once per network read, after the journal has the read's
content: everything one read brought reaches stdout in one write. Stdout only
ever receives data; notes go to the terminal's stderr.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from mintcli.base.events import (
    SCHEMA_VERSION,
    Event,
    Finish,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCall,
)
from mintcli.base.terminal import Terminal, critical
from mintcli.errors import WriteFailed
from mintcli.output.accumulate import Reply
from mintcli.output.stats import format_stats
from mintcli.request.model import assistant_message


@dataclass(frozen=True)
class RunInfo:
    """What a sink is told when the run starts."""

    protocol: str
    model: str
    # The conversation so far (OpenAI shape; attachments from files as references).
    messages: list[dict[str, Any]] = field(default_factory=list)
    journal: str | None = None  # the journal ID, when journaling
    resumed: str | None = None  # the journal ID a --resume continues
    # A --resume: what the earlier run received (and printed), so that the text
    # sink knows where its output stopped: mid-line or not.
    resumed_events: list[Event] = field(default_factory=list)
    # A --resume: the bytes of output the earlier run's last write to stdout did
    # not get out (a full disk), printed before anything else.
    owed: bytes = b""
    conversation: str | None = None  # where the exchange is saved (unless --no-log)
    schema: bool = False  # --schema: the reply is JSON, checked when it ends
    extract: str | None = None  # -x: "first", --extract-last: "last" (the code block)


class Sink:
    """Base: holds bytes for the current read. Subclasses override the hooks
    they care about; the defaults ignore the event."""

    wants_raw = False  # whether the runner should hand over each wire event's data

    def __init__(self, term: Terminal, show_reasoning: bool = False) -> None:
        self.term = term
        self.show_reasoning = show_reasoning
        self._out: list[bytes] = []
        self._reasoning_open = False  # reasoning printed to stderr, not yet closed

    def flush(self) -> None:
        if self._out:
            with critical():  # the batch leaves _out and reaches stdout as one step
                data = b"".join(self._out)
                self._out.clear()
                self.term.write(data)

    def start(self, info: RunInfo) -> None:
        pass

    def events(self, events: list[Event]) -> None:
        """The events of one network read, in order."""
        for event in events:
            self.event(event)

    def event(self, event: Event) -> None:
        """A text, reasoning or tool-call event (usage and the finish reason
        arrive with :meth:`done`)."""
        if type(event) is ReasoningDelta:
            self.reasoning(event.text)

    def reasoning(self, text: str) -> None:
        # Reasoning is not the answer: with --reasoning it goes to stderr.
        if self.show_reasoning:
            self._reasoning_open = True
            self.term.stderr_text(text)

    def close_reasoning(self) -> None:
        if self._reasoning_open:
            self._reasoning_open = False
            self.term.stderr_text("\n")

    def raw(self, data: bytes) -> None:
        pass

    def retry(self, info: dict[str, Any]) -> None:
        pass

    def warn(self, message: str) -> None:
        """Something the user should know that is not data (a retry, a bad tool call)."""
        self.term.warn(message)

    def status(self, text: str | None) -> None:
        """The terminal's waiting line (None: erase it)."""
        if text is None:
            self.term.clear_status()
        else:
            self.term.show_status(text)

    def done(self, reply: Reply, summary: dict[str, Any]) -> None:
        self.close_reasoning()

    def failed(self, reply: Reply, summary: dict[str, Any], error: dict[str, Any]) -> None:
        self.close_reasoning()

    def stats(self, stats: dict[str, Any]) -> None:
        self.term.note(format_stats(stats))

    def close(self) -> None:
        """The run is over: write whatever is still held."""
        self.flush()


class TextSink(Sink):
    """The answer as plain text, then each tool call as one compact JSON line."""

    def __init__(self, term: Terminal, show_reasoning: bool = False) -> None:
        super().__init__(term, show_reasoning)
        self._last = ""  # last character written, for the newline rules

    def start(self, info: RunInfo) -> None:
        super().start(info)
        if not self.seeds_tail:
            return
        for event in info.resumed_events:  # what the earlier run's sink ended with
            if type(event) is TextDelta and event.text:
                self._last = event.text[-1]
            elif type(event) is ToolCall or type(event) is Finish:
                # a reply that had come whole: its run ended the line (it stopped
                # while saving the exchange), so this one adds nothing
                self._last = "\n"
        if info.owed:  # its run stopped writing these instead: they end the output now
            self._last = info.owed[-1:].decode("latin-1")

    # Whether what the earlier run printed ended as the reply's text did (-x prints
    # only a code block, so its earlier output is not known from the text).
    seeds_tail = True

    def events(self, events: list[Event]) -> None:
        texts: list[str] = []  # a run of text pieces is written as one
        for event in events:
            if type(event) is TextDelta:
                texts.append(event.text)
                continue
            if texts:
                self._text("".join(texts))
                texts.clear()
            self.event(event)
        if texts:
            self._text("".join(texts))

    def _text(self, text: str) -> None:
        if self._reasoning_open:
            self.close_reasoning()
        self._out.append(text.encode())
        self._last = text[-1]

    def event(self, event: Event) -> None:
        match event:
            case TextDelta():
                self._text(event.text)
            case ToolCall():
                if self._last not in ("", "\n"):
                    self._out.append(b"\n")
                self._out.append(self._call_line(event))
                self._last = "\n"
            case ReasoningDelta():
                self.reasoning(event.text)

    def _call_line(self, call: ToolCall) -> bytes:
        return orjson.dumps(call.as_json()) + b"\n"

    def done(self, reply: Reply, summary: dict[str, Any]) -> None:
        super().done(reply, summary)
        self._end_line()

    def failed(self, reply: Reply, summary: dict[str, Any], error: dict[str, Any]) -> None:
        super().failed(reply, summary, error)
        if reply.finish_reason is not None:  # it ended, and then failed a check (--schema)
            self._end_line()

    def _end_line(self) -> None:
        if self._last not in ("", "\n"):
            self._out.append(b"\n")
            self._last = "\n"


class RawSink(Sink):
    """Each wire event's data as one compact JSON line, as the provider sent it."""

    wants_raw = True

    def raw(self, data: bytes) -> None:
        if b"\n" in data:
            # Data split over several data: lines is still one JSON value; one line out.
            try:
                data = orjson.dumps(orjson.loads(data))
            except orjson.JSONDecodeError:
                data = data.replace(b"\n", b" ")
        self._out.append(data + b"\n")


class JSONLSink(Sink):
    """mint's normalized events, one JSON object per line (docs/events.md)."""

    def _emit(self, obj: dict[str, Any]) -> None:
        self._out.append(orjson.dumps(obj) + b"\n")

    def start(self, info: RunInfo) -> None:
        head: dict[str, Any] = {"protocol": info.protocol, "model": info.model}
        if info.journal is not None:
            head["journal"] = info.journal
        if info.resumed is not None:
            head["resumed"] = info.resumed
        if info.conversation is not None:
            head["conversation"] = info.conversation
        self._emit({"type": "start", "schema": SCHEMA_VERSION, **head})

    def event(self, event: Event) -> None:
        match event:
            case TextDelta():
                self._emit({"type": "text", "text": event.text})
            case ReasoningDelta():
                self._emit({"type": "reasoning", "text": event.text})
            case RefusalDelta():
                self._emit({"type": "refusal", "text": event.text})
            case ToolCall():
                self._emit({"type": "tool_call", **event.as_json()})

    def retry(self, info: dict[str, Any]) -> None:
        self._emit({"type": "retry", **info})

    def done(self, reply: Reply, summary: dict[str, Any]) -> None:
        if reply.usage is not None:
            self._emit({"type": "usage", **reply.usage})
        self._emit({"type": "done", "finish_reason": reply.finish_reason, **summary})

    def failed(self, reply: Reply, summary: dict[str, Any], error: dict[str, Any]) -> None:
        self._emit({"type": "error", **error, **summary})

    def stats(self, stats: dict[str, Any]) -> None:
        self._emit({"type": "stats", **stats})


class JSONSink(Sink):
    """One object when the reply ends (also when it fails, with an ``error`` field)."""

    def __init__(self, term: Terminal, show_reasoning: bool = False) -> None:
        super().__init__(term, show_reasoning)
        self._info: RunInfo | None = None
        self._result: dict[str, Any] | None = None
        self._written = False  # the object is on stdout already

    def start(self, info: RunInfo) -> None:
        self._info = info
        # The earlier run failed while writing the object of a finished reply: the
        # bytes it owes complete that object, and this run has nothing to add.
        if info.owed and any(type(e) is Finish for e in info.resumed_events):
            self._written = True

    def events(self, events: list[Event]) -> None:
        pass  # everything is in the final object

    def _build(self, reply: Reply, summary: dict[str, Any], error: dict[str, Any] | None) -> None:
        info = self._info
        # The text and reasoning are written out piece by piece where their
        # marks stand (see close), never put together in memory.
        mark = f"\0mint-{os.urandom(8).hex()}-"  # no text can guess it
        self._long = {
            orjson.dumps(mark + "text"): reply.text_pieces,
            orjson.dumps(mark + "reasoning"): reply.reasoning_pieces,
        }
        self._marks = re.compile(b"|".join(re.escape(m) for m in self._long))
        text = mark + "text" if reply.has_text else ""
        message = assistant_message(reply, text=False)
        message["content"] = text or None
        result: dict[str, Any] = {
            "text": text,
            "reasoning": mark + "reasoning" if reply.has_reasoning else None,
            "tool_calls": [c.as_json() for c in reply.tool_calls],
            "finish_reason": reply.finish_reason,
            "usage": reply.usage,
            "model": reply.model or (info.model if info else None),
            "protocol": info.protocol if info else None,
            **summary,
            "messages": [*(info.messages if info else ()), message],
        }
        if info is not None and info.conversation is not None:
            result["conversation"] = info.conversation
        if info is not None and info.schema:
            result["parsed"] = reply.parsed  # null when the check failed
        if reply.refusal is not None:
            result["refusal"] = reply.refusal
        if info is not None and info.extract:
            from mintcli.render.extract import extract

            result["extracted"] = extract(reply.text, info.extract == "last")
        if error is not None:
            result["error"] = error
        self._result = result

    def done(self, reply: Reply, summary: dict[str, Any]) -> None:
        self._build(reply, summary, None)

    def failed(self, reply: Reply, summary: dict[str, Any], error: dict[str, Any]) -> None:
        self._build(reply, summary, error)

    def stats(self, stats: dict[str, Any]) -> None:
        if self._result is not None:
            self._result["stats"] = stats

    def close(self) -> None:
        if self._result is not None and not self._written:
            self.flush()
            with critical():  # the object reaches stdout whole, or what it owes is kept
                self._write_object(orjson.dumps(self._result))
            self._result = None
        self.flush()

    def _chunks(self, data: bytes) -> Iterator[bytes]:
        """The object's bytes, the text's and reasoning's strings escaped a
        piece at a time where their marks stand (so a 1 GB reply is never
        held twice, as text and as its JSON)."""
        at = 0
        for mark in self._marks.finditer(data):
            yield data[at : mark.start()] + b'"'
            for piece in self._long[mark.group()]():
                yield orjson.dumps(piece)[1:-1]
            yield b'"'
            at = mark.end()
        yield data[at:] + b"\n"

    def _write_object(self, data: bytes) -> None:
        chunks = self._chunks(data)
        held: list[bytes] = []
        size = 0
        try:
            for chunk in chunks:
                held.append(chunk)
                size += len(chunk)
                if size >= 1 << 20:
                    block, held, size = b"".join(held), [], 0
                    self.term.write(block)
            self.term.write(b"".join(held))
        except WriteFailed as error:
            if error.unprinted:  # --resume prints the rest of the object
                error.unprinted += b"".join(chunks)
            raise


SINKS: dict[str, type[Sink]] = {
    "text": TextSink,
    "raw": RawSink,
    "jsonl": JSONLSink,
    "json": JSONSink,
}
