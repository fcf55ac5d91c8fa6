"""One chat run: attempts, retries and continuation around the stream pipeline.

    request -> transport -> SSE frames -> protocol decoder -> events
            -> continuation filter -> accumulator + journal + sink

Per network read: decode everything that arrived, journal it (write-ahead),
then write it to stdout in one write + flush.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import orjson

from mintcli.accumulate import Accumulator, tool_call_json
from mintcli.errors import (
    Interrupted,
    MintError,
    RunTimeout,
    TruncatedStream,
)
from mintcli.events import (
    Event,
    Finish,
    MessageStart,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from mintcli.journal import Journal
from mintcli.protocols import StreamDecoder, WireProtocol
from mintcli.request import ChatRequest
from mintcli.retry import ContinuationFilter, RetryPolicy
from mintcli.sinks import RawSink, Sink
from mintcli.sse import SSEDecoder, SSEEvent
from mintcli.terminal import (
    Terminal,
    critical,
    raise_outside_critical,
    signals_as_errors,
)
from mintcli.transport import Transport


class _LastEventIdIgnored(Exception):
    """The server answered a Last-Event-ID request with a fresh reply."""


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    first_byte: float | None = None
    first_token: float | None = None
    pieces: int = 0

    def as_dict(self, acc: Accumulator, attempts: int) -> dict[str, Any]:
        now = time.monotonic()
        usage = acc.current_usage() or {}
        out_tokens = usage.get("output_tokens")
        rate = None
        if out_tokens and self.first_token is not None and now - self.first_token > 0:
            rate = out_tokens / (now - self.first_token)
        return {
            "time_to_first_byte": None
            if self.first_byte is None
            else self.first_byte - self.started,
            "time_to_first_token": None
            if self.first_token is None
            else self.first_token - self.started,
            "total_time": now - self.started,
            "pieces": self.pieces,
            "output_tokens": out_tokens,
            "tokens_per_second": rate,
            "attempts": attempts,
        }


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """--timeout: a SIGALRM interrupts even a blocked read when the run is over time."""
    if not seconds:
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise_outside_critical(lambda: RunTimeout(f"gave up after {seconds:g}s (--timeout)"))

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class ChatRun:
    def __init__(
        self,
        *,
        term: Terminal,
        protocol: WireProtocol,
        request: ChatRequest,
        url: str,
        headers: dict[str, str],
        transport: Transport,
        sink: Sink,
        policy: RetryPolicy,
        journal: Journal | None,
        acc: Accumulator | None = None,
        resumed_from: str | None = None,
        timeout: float | None = None,
        stats: bool = False,
        start_info: dict[str, Any] | None = None,
    ) -> None:
        self.term = term
        self.protocol = protocol
        self.request = request
        self.url = url
        self.headers = headers
        self.transport = transport
        self.sink = sink
        self.policy = policy
        self.journal = journal
        self.acc = acc or Accumulator()
        self.resumed_from = resumed_from
        self.timeout = timeout
        self.want_stats = stats
        self.start_info = start_info or {}
        self.stats = Stats()
        self.attempts = 0
        self.resumed = resumed_from is not None
        self._raw = isinstance(sink, RawSink)
        self._decoder: StreamDecoder | None = None
        self._filter: ContinuationFilter | None = None
        self._last_event_id: str | None = None
        self._lei_ok = True  # until a server shows it ignores Last-Event-ID
        self._lei_attempt = False
        self._sentinel = protocol.sentinel
        # The current read's content, journaled before it is printed.
        self._jt: list[str] = []
        self._jr: list[str] = []
        self._jc: list[dict[str, Any]] = []
        self._jf: str | None = None
        self._first_event = True

    # -- public ----------------------------------------------------------------
    def run(self) -> None:
        """Stream the reply to the sink. Failures are raised (after the sink has
        written what it owes and the journal has been kept or dropped)."""
        try:
            with signals_as_errors(), deadline(self.timeout):
                try:
                    self.sink.start(self.start_info)
                    self.sink.flush()
                    self._attempt_loop()
                except Interrupted:
                    # What was received is journaled already: show it before leaving.
                    self._flush_batch()
                    raise
            self._succeed()
        except MintError as error:
            self._fail(error)
            raise
        finally:
            if self.journal is not None:
                self.journal.close(remove=True)  # no-op when kept by _fail

    # -- the attempt loop --------------------------------------------------------
    def _attempt_loop(self) -> None:
        retries = 0
        if self.acc.text or self.acc.reasoning or self.acc.tool_calls:
            self._prepare_continuation()  # --resume
        while True:
            self.attempts += 1
            try:
                self._attempt()
                return
            except _LastEventIdIgnored:
                # Fall back to a prefill at once; this is not a failure to wait for.
                self._lei_ok = False
                self._close_attempt()
                self._prepare_continuation()
                continue
            except Interrupted:
                self._close_attempt()
                raise
            except MintError as error:
                # What this read brought before the failure: journal it, then show it,
                # so a later --resume starts exactly where this output stops.
                self._flush_batch()
                self._close_attempt()
                if not self.policy.should_retry(error, retries):
                    raise
                delay = self.policy.delay(retries, error)
                retries += 1
                how = self._prepare_continuation()
                self._announce_retry(retries, error, delay, how)
                time.sleep(delay)

    def _prepare_continuation(self) -> str:
        """Choose how the next attempt continues; returns its name for the log."""
        if self._lei_ok and self._last_event_id is not None and self._decoder is not None:
            self._lei_attempt = True
            self.resumed = True
            return "last-event-id"
        self._lei_attempt = False
        self._decoder = None  # a partial tool call or block is dropped, restarted cleanly
        self._last_event_id = None
        text = self.acc.text.getvalue()
        prefill = text.rstrip()
        self.request = self.request.with_prefill(prefill or None)
        self._filter = ContinuationFilter(
            text=text[len(prefill) :] if prefill else "",
            reasoning="" if prefill else self.acc.reasoning.getvalue(),
            calls=self.acc.tool_calls,
        )
        if prefill:
            self.resumed = True
            return "prefill"
        return "restart"

    def _announce_retry(self, retries: int, error: MintError, delay: float, how: str) -> None:
        info = {
            "attempt": retries,
            "max_retries": self.policy.max_retries,
            "reason": error.message,
            "code": int(error.exit_code),
            "delay": round(delay, 3),
            "resume": how,
            "received_chars": len(self.acc.text),
        }
        self.sink.retry(info)
        self.sink.flush()
        where = f", continuing after {len(self.acc.text)} chars" if self.acc.text else ""
        self.term.warn(
            f"{error.message}; retry {retries}/{self.policy.max_retries} in {delay:.1f}s{where}"
        )

    def _attempt(self) -> None:
        headers = self.headers
        if self._lei_attempt and self._last_event_id is not None:
            headers = {**headers, "Last-Event-ID": self._last_event_id}
        body = orjson.dumps(self.protocol.build_body(self.request))
        if self.stats.first_byte is None:
            self.term.show_status(f"mint: waiting for {self.request.model}…")
        with self.transport.stream(self.url, headers, body) as response:
            if self.stats.first_byte is None:
                self.stats.first_byte = time.monotonic()
            if self._decoder is None:
                self._decoder = self.protocol.decoder()
            framer = SSEDecoder()
            self._first_event = True
            for chunk in response.chunks():
                self._handle(framer.feed(chunk))
            self._handle(framer.flush())
        if not self._decoder.terminated:
            raise TruncatedStream("the stream ended before the reply was complete (truncated)")
        self._close_attempt()

    def _close_attempt(self) -> None:
        added = self.acc.end_attempt()
        usage = added.as_dict()
        if usage is not None and self.journal is not None:
            self.journal.write({"u": usage})

    # -- the hot path ------------------------------------------------------------
    def _handle(self, frames: list[SSEEvent]) -> None:
        """Everything one network read produced. Text pieces are gathered and
        handed on together (in order: anything else that arrives hands on the
        text before it first), then the batch is journaled and printed."""
        decoder = self._decoder
        assert decoder is not None
        filt = self._filter
        raw = self._raw
        texts: list[str] = []
        try:
            for frame in frames:
                if frame.id is not None:
                    self._last_event_id = frame.id
                events = decoder.decode(frame)
                raw_data: bytes | None = frame.data if raw else None
                for ev in events:
                    if type(ev) is TextDelta:
                        text = ev.text
                        if filt is not None:
                            kept = filt.text(text)
                            if kept != text and raw_data is not None:
                                raw_data = self.protocol.retext(raw_data, kept)
                            text = kept
                            if not text:
                                continue
                        texts.append(text)
                        continue
                    if texts:
                        batch, texts = texts, []  # cleared first: never handed on twice
                        self._texts(batch)
                    self._other(ev)
                self._first_event = False
                if raw_data is not None and raw_data != self._sentinel:
                    self.sink.raw(raw_data)
        finally:
            # Even when a frame raised: what arrived before it is kept and shown.
            if texts:
                batch, texts = texts, []
                self._texts(batch)
        self._flush_batch()

    def _texts(self, texts: list[str]) -> None:
        self.acc.text.extend(texts)
        self._jt.extend(texts)
        self.sink.texts(texts)
        self.stats.pieces += len(texts)
        if self.stats.first_token is None:
            self.stats.first_token = time.monotonic()

    def _other(self, ev: Event) -> None:
        kind = type(ev)
        acc = self.acc
        if kind is ReasoningDelta:
            text = ev.text  # type: ignore[union-attr]
            if self._filter is not None:
                text = self._filter.reasoning(text)
                if not text:
                    return
            acc.reasoning.append(text)
            self._jr.append(text)
            self.sink.reasoning(text)
            self.stats.pieces += 1
            if self.stats.first_token is None:
                self.stats.first_token = time.monotonic()
        elif kind is ToolCall:
            self._tool_call(ev)  # type: ignore[arg-type]
        elif kind is Usage:
            acc.add_usage(ev)  # type: ignore[arg-type]
        elif kind is Finish:
            acc.finish_reason = ev.reason  # type: ignore[union-attr]
            self._jf = acc.finish_reason
        elif kind is MessageStart:
            if self._lei_attempt and self._first_event:
                raise _LastEventIdIgnored()
            acc.model = ev.model or acc.model  # type: ignore[union-attr]

    def _tool_call(self, call: ToolCall) -> None:
        if self._filter is not None and not self._filter.tool_call(call):
            return
        if call.arguments_error is not None:
            self.term.warn(
                f"tool call {call.name!r} ({call.id}) has {call.arguments_error}; "
                "kept as a raw string"
            )
        self.acc.tool_calls.append(call)
        self._jc.append(tool_call_json(call))
        self.sink.tool_call(call)
        self.stats.pieces += 1
        if self.stats.first_token is None:
            self.stats.first_token = time.monotonic()

    def _flush_batch(self) -> None:
        """Journal what this read produced, then print it (write-ahead), as one
        step that a signal cannot cut in two (see terminal.critical)."""
        with critical():
            if self.journal is not None and (self._jt or self._jr or self._jc or self._jf):
                record: dict[str, Any] = {}
                if self._jt:
                    record["t"] = "".join(self._jt)
                if self._jr:
                    record["r"] = "".join(self._jr)
                if self._jc:
                    record["c"] = list(self._jc)
                if self._jf:
                    record["f"] = self._jf
                self.journal.write(record)
            self._jt.clear()
            self._jr.clear()
            self._jc.clear()
            self._jf = None
            self.sink.flush()

    # -- endings -----------------------------------------------------------------
    def _summary(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "resumed": self.resumed}

    def _finish_output(self) -> None:
        if self.want_stats:
            self.sink.stats(self.stats.as_dict(self.acc, self.attempts))
        self.sink.close()

    def _succeed(self) -> None:
        self.sink.done(self.acc, self._summary())
        self._finish_output()

    def _fail(self, error: MintError) -> None:
        self.term.clear_status()
        failure = {"code": int(error.exit_code), "message": error.message}
        self.sink.failed(self.acc, self._summary(), failure)
        self._finish_output()
        journal = self.journal
        # With nothing received, resuming is the same as running the command again.
        if journal is not None and (self.acc.text or self.acc.reasoning or self.acc.tool_calls):
            journal.write({"x": int(error.exit_code), "m": error.message})
            journal.close(remove=False)
            error.notes.append(
                f"the reply is unfinished; continue it with: mint chat --resume {journal.id}"
            )
