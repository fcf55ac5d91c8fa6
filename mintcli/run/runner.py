"""One chat run: attempts, retries and continuation around the stream pipeline.

    request -> transport -> SSE frames -> protocol decoder -> events
            -> continuation filter -> accumulator + journal + sink -> stdout

Each network read is one step (:meth:`ChatRun._on_read`): its frames are
decoded and its events make one journal record, which is written first
(write-ahead); then every event is folded into the accumulator and handed to
the sink, whose bytes go to stdout. A Ctrl-C,
SIGTERM or ``--timeout`` that lands inside the step waits for its end
(``base.terminal.critical``), so stdout and the journal always agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from mintcli.base.events import Event, MessageStart, TextDelta
from mintcli.base.terminal import Terminal, critical, deadline, signals_as_errors
from mintcli.errors import MintError, TruncatedStream, WriteFailed
from mintcli.output.accumulate import Accumulator, ReadBatch, Reply
from mintcli.output.sinks import RunInfo, Sink
from mintcli.output.stats import Stats
from mintcli.protocols import StreamDecoder, WireProtocol
from mintcli.protocols.base import load_object
from mintcli.request.model import ChatRequest
from mintcli.run.continuation import Filter, Plan, plan_next
from mintcli.run.retry import RetryPolicy
from mintcli.storage.journal import Journal
from mintcli.wire.sse import SSEDecoder, SSEEvent
from mintcli.wire.transport import Transport

# After the end marker, how long the body's own end may take to come (it
# normally comes with the marker); past it the connection is dropped, not reused.
END_GRACE = 1.0

@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to know before it starts."""

    protocol: WireProtocol
    url: str
    headers: dict[str, str]
    request: ChatRequest
    policy: RetryPolicy
    info: RunInfo
    timeout: float | None = None  # --timeout: the whole run, retries included
    stats: bool = False
    # --schema: checks the finished reply (text, finish reason) and returns the
    # parsed object, or raises a MintError (request.schema.Checker).
    check: Callable[[str, str | None], Any] | None = None


class Pacer(Protocol):
    """Pacing shared by the runs of one process (mint batch): asked before every
    request (``first``: the run's first), which it may delay or refuse with a
    MintError, and told of every failure (with the wait the retry policy chose,
    None when the run gives up)."""

    def before_request(self, first: bool) -> None: ...

    def failed(self, error: MintError, delay: float | None) -> None: ...


class ChatRun:
    def __init__(
        self,
        config: RunConfig,
        *,
        transport: Transport,
        sink: Sink,
        term: Terminal,
        journal: Journal | None = None,
        acc: Accumulator | None = None,
        pacer: Pacer | None = None,
        saved_after: bool = False,
    ) -> None:
        self.config = config
        # saved_after: the exchange is saved to the log after the run, and the
        # journal of a finished reply stays until then (the caller removes it).
        self.saved_after = saved_after
        self.transport = transport
        self.sink = sink
        self.term = term
        self.journal = journal
        self.pacer = pacer
        self.acc = acc or Accumulator()  # a --resume starts with what the journal holds
        self.stats = Stats()
        self.attempts = 0
        self.resumed = config.info.resumed is not None
        self._batch = ReadBatch()
        self._decoder: StreamDecoder | None = None
        self._filter: Filter | None = None
        self._last_event_id: str | None = None
        self._last_event_id_works = True  # until a server shows it ignores Last-Event-ID
        self._expect_continuation = False  # a Last-Event-ID attempt is under way
        self._after_end = 0  # events a server sent after its stream's last one

    # -- the run -------------------------------------------------------------------
    def run(self) -> Reply:
        """Stream the reply to the sink in the main thread (Ctrl-C, SIGTERM and
        --timeout end the run) and return it. A failure is raised after the sink
        has written what it owes and the journal has been kept or dropped."""
        with self._ending(), signals_as_errors(), deadline(self.config.timeout):
            return self._stream()

    def stream(self) -> Reply:
        """The same run without touching signals, for a worker thread (mint
        batch): the caller decides when to stop, and --timeout does not apply."""
        with self._ending():
            return self._stream()

    @contextmanager
    def _ending(self) -> Iterator[None]:
        """The journal is removed only after a finished, written reply (or when
        _finish found nothing to resume); any other ending keeps it. With
        ``saved_after`` a finished reply's journal is left to the caller."""
        finished = whole = False
        try:
            yield
            finished = whole = True
        except MintError as error:
            self._finish(error)
            finished = True  # _finish kept the journal if there is anything to resume
            raise
        finally:
            if self.journal is not None and not (whole and self.saved_after):
                self.journal.close(remove=finished)  # no-op when _finish kept it

    def _stream(self) -> Reply:
        if self.config.info.owed:
            self._pay_owed(self.config.info.owed)
        self.sink.start(self.config.info)
        self.sink.flush()
        self._attempts()
        if (refused := self.acc.refused()) is not None:
            raise refused
        return self._finish(None, self._check())

    def _pay_owed(self, owed: bytes) -> None:
        """A --resume first prints what the earlier run's failed write to stdout
        did not get out, so the output reads as if nothing had failed; the
        journal then owes nothing (a later failure records its own tail)."""
        with critical():
            self.term.write(owed)
            if self.journal is not None:
                self.journal.note({"o": ""})

    def _attempts(self) -> None:
        if self.acc.finish_reason is not None:
            return  # a journal's reply that had come whole (its save was cut off)
        retries = 0
        plan = self._plan() if self.acc.received else Plan("first", self.config.request)
        pacer = self.pacer
        while True:
            self.attempts += 1
            try:
                if pacer is not None:
                    pacer.before_request(self.attempts == 1)
                fresh = self._attempt(plan)
            except MintError as error:
                error.message = self.term.secrets.redact(error.message)
                delay = self.config.policy.delay(error, retries)
                if pacer is not None:
                    pacer.failed(error, delay)
                if delay is None:
                    raise
                retries += 1
                plan = self._plan()
                self._announce_retry(retries, error, delay, plan.how)
                time.sleep(delay)
                continue
            if not fresh:
                return
            # The server answered Last-Event-ID with a fresh reply: continue with a
            # prefill at once (this is not a failure to wait for).
            self._last_event_id_works = False
            plan = self._plan()

    def _plan(self) -> Plan:
        plan = plan_next(
            self.config.request,
            self.acc,
            self._last_event_id if self._decoder is not None else None,
            allow_last_event_id=self._last_event_id_works,
            refuses_prefill=self.config.protocol.refuses_prefill(self.config.request),
        )
        if not plan.goes_on:
            self._decoder = None  # a partial tool call or block is dropped, restarted whole
            self._last_event_id = None
            self._filter = plan.filter
        if plan.how == "restart":
            # The fresh reply brings its own signed reasoning: only that one
            # may go back with its calls (the old blocks were never answered).
            if self.acc.reasoning_blocks and self.journal is not None:
                self.journal.note({"g": []})  # and a --resume drops them too
            self.acc.reasoning_blocks.clear()
        if plan.resumes:
            self.resumed = True
        return plan

    def _announce_retry(self, retries: int, error: MintError, delay: float, how: str) -> None:
        received = len(self.acc.text)
        self.sink.retry(
            {
                "attempt": retries,
                "max_retries": self.config.policy.max_retries,
                "reason": error.message,
                "code": int(error.exit_code),
                "delay": round(delay, 3),
                "resume": how,
                "received_chars": received,
            }
        )
        self.sink.flush()
        where = f", continuing after {received} chars" if received else ""
        self.sink.warn(
            f"{error.message}; retry {retries}/{self.config.policy.max_retries} "
            f"in {delay:.1f}s{where}"
        )

    def _attempt(self, plan: Plan) -> bool:
        """One request and its stream. True when a Last-Event-ID request was
        answered with a fresh reply (the attempt was abandoned at its start)."""
        config = self.config
        headers = config.headers
        if plan.last_event_id is not None:
            headers = {**headers, "Last-Event-ID": plan.last_event_id}
        self._expect_continuation = plan.goes_on
        if self.stats.first_byte is None:
            self.sink.status(f"mint: waiting for {plan.request.model}…")
        try:
            body = orjson.dumps(config.protocol.build_body(plan.request))
            with self.transport.stream(config.url, headers, body) as response:
                if self.stats.first_byte is None:
                    self.stats.first_byte = time.monotonic()
                if response.whole is not None:
                    # A server that does not stream: its one JSON reply, as if streamed.
                    self._on_body(response.whole)
                    return False
                if self._decoder is None:
                    self._decoder = config.protocol.decoder(config.request)
                framer = SSEDecoder()
                decoder = self._decoder
                chunks = response.chunks()
                for chunk in chunks:
                    if not self._on_read(framer.feed(chunk)):
                        return True
                    if decoder.ended:  # the end marker came: the reply is whole
                        break
                if decoder.ended and not response.complete and not self._after_end:
                    with response.ending(END_GRACE):  # the body's end, for keep-alive
                        for chunk in chunks:
                            self._on_read(framer.feed(chunk))  # events here are ignored
                            break
                self._on_read(framer.flush())
            if self._after_end:
                self.transport.note(f"ignored {self._after_end} event(s) after the stream's end")
            if not self._decoder.terminated:
                raise TruncatedStream("the stream ended before the reply was complete (truncated)")
            return False
        finally:
            added = self.acc.end_attempt()
            if added is not None and self.journal is not None and self.acc.received:
                self.journal.note({"u": added})

    # -- the hot path ----------------------------------------------------------------
    def _on_read(self, frames: list[SSEEvent]) -> bool:
        """Everything one network read brought, as one step that a signal does
        not cut in two. False when the first event of a Last-Event-ID attempt
        starts a new message (the server ignored it)."""
        decoder = self._decoder
        assert decoder is not None
        raw = self.sink.wants_raw
        sentinel = self.config.protocol.sentinel
        events: list[Event] = []
        datas: list[bytes] = []  # for --format raw: each wire event's data
        with critical():
            try:
                for frame in frames:
                    if decoder.ended:  # nothing after the terminator joins the reply
                        self._after_end += 1
                        continue
                    if frame.id is not None:
                        self._last_event_id = frame.id
                    got = decoder.decode(frame)
                    if self._expect_continuation and got:
                        self._expect_continuation = False
                        if type(got[0]) is MessageStart:
                            return False
                    data: bytes | None = frame.data
                    if self._filter is not None:
                        got, data = self._filtered(got, frame.data)
                    events += got
                    if raw and data is not None and data != sentinel:
                        datas.append(data)
            finally:
                # Even when a frame raised: what arrived before it is kept and shown.
                self._hand_on(events, datas)
        return True

    def _on_body(self, data: bytes) -> None:
        """A whole JSON reply: the same events a stream would give, and for
        --format raw the one object as one line."""
        events = self.config.protocol.reply_events(load_object(data, "reply"), self.config.request)
        with critical():
            self._hand_on(events, [data] if self.sink.wants_raw else [])

    def _hand_on(self, events: list[Event], datas: list[bytes]) -> None:
        """One read's events to the journal record, which is written first
        (write-ahead), then to the accumulator and the sink (each folds them
        itself), whose bytes go to stdout. A read the journal could not keep
        (a full disk) is neither shown nor counted as received, so a --resume
        asks for it again."""
        self._batch.extend(events)
        self._commit()
        self.acc.extend(events)
        self.sink.events(events)
        for data in datas:
            self.sink.raw(data)
        self.sink.flush()

    def _commit(self) -> None:
        """The read's record to the journal."""
        batch = self._batch
        self.stats.saw_pieces(batch.pieces)
        for call in batch.calls:
            if "arguments_error" in call:
                self.sink.warn(
                    f"tool call {call['name']!r} ({call['id']}) has "
                    f"{call['arguments_error']}; kept as a raw string"
                )
        record = batch.take(self.term.secrets)
        if record is not None and self.journal is not None:
            self.journal.write(record)

    def _filtered(self, events: list[Event], data: bytes) -> tuple[list[Event], bytes | None]:
        """Drop what a continuation repeats; for --format raw, the frame's data
        rewritten to carry only the new text (None: drop the frame)."""
        assert self._filter is not None
        kept = [k for e in events if (k := self._filter.keep(e)) is not None]
        if self._filter.done:
            self._filter = None
        before = "".join(e.text for e in events if type(e) is TextDelta)
        after = "".join(e.text for e in kept if type(e) is TextDelta)
        if before != after and self.sink.wants_raw:
            return kept, self.config.protocol.retext(data, after)
        return kept, data

    # -- the end -----------------------------------------------------------------------
    def _check(self) -> Any:
        """The finished reply checked (--schema): its parsed value, or None."""
        if self.config.check is None:
            return None
        return self.config.check(self.acc.text.getvalue(), self.acc.finish_reason)

    def _finish(self, error: MintError | None, parsed: Any = None) -> Reply:
        if error is not None:
            error.message = self.term.secrets.redact(error.message)
        reply = self.acc.reply()
        if parsed is not None:
            reply.parsed = parsed
        journal = self.journal
        # With nothing received, resuming is the same as running the command again;
        # a reply that arrived whole has nothing left to resume. Kept before the
        # last writes to stdout, which may fail too.
        if (
            error is not None
            and not error.reply_complete
            and journal is not None
            and self.acc.received
        ):
            fail: dict[str, Any] = {"x": int(error.exit_code), "m": error.message}
            if isinstance(error, WriteFailed) and error.unprinted:
                fail["o"] = error.unprinted.decode("latin-1")  # for --resume to print
            journal.note(fail)
            journal.close(remove=False)
            if journal.exists:  # not when the disk had no room for it at all
                error.notes.append(
                    f"the reply is unfinished; continue it with: mint chat --resume {journal.id}"
                )
        summary = {"attempts": self.attempts, "resumed": self.resumed}
        if error is None:
            self.sink.done(reply, summary)
        else:
            self.sink.status(None)
            failure = {"code": int(error.exit_code), "message": error.message}
            self.sink.failed(reply, summary, failure)
        if self.config.stats:
            self.sink.stats(self.stats.as_dict(reply.usage, self.attempts))
        self.sink.close()
        return reply
