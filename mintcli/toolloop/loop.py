"""The loop: stream a reply, run its tool calls, send their results, again.

Each step is one run of the runner (``ChatRun``) on the request grown by the
chain so far; the same transport, sink and journal serve every step. The calls
are journaled before they start, and each result the moment it ends, so a
``--resume`` after a kill at any point runs only what had not started; a call
that started and has no result is not run again (see chain.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mintcli.base.events import ToolCall
from mintcli.base.terminal import Terminal, signals_as_errors
from mintcli.errors import ExitCode, MintError, StepLimit, UsageError
from mintcli.output.accumulate import Accumulator, Reply, UsageTotals
from mintcli.request.model import ChatRequest
from mintcli.toolloop.chain import ChainJournal, read_steps
from mintcli.toolloop.output import LoopSink, call_line, loop_sink, reply_message, tool_message
from mintcli.toolloop.proc import Outcome
from mintcli.toolloop.toolbox import Toolbox
from mintcli.toolloop.unrunnable import Unrunnable

if TYPE_CHECKING:
    from mintcli.options.settings import ChatSettings
    from mintcli.run.exchange import Run
    from mintcli.storage.journal import JournalState
    from mintcli.wire.transport import Transport


LOST = (
    "the result of this call was lost: mint stopped while the tool ran and did not run it "
    "again, so it may or may not have done its work"
)


class ToolLoop:
    """One run with runnable tools. Another command (an interactive session)
    uses it as ``mint chat`` does: ``loop = ToolLoop.open(settings, request,
    None, term)`` (the tools start; ``loop.request`` offers them), then ``with
    loop: loop.run(Run(settings, loop.request, shown, pending, url), base_url,
    headers)`` (``run/exchange.py`` does so); ``loop.chain`` then holds the
    steps' messages."""

    def __init__(
        self,
        settings: ChatSettings,
        request: ChatRequest,
        box: Toolbox,
        spec: dict[str, Any],
        state: JournalState | None,
        term: Terminal,
    ) -> None:
        self.settings = settings
        self.request = request
        self.box = box
        self.spec = spec
        self.state = state
        self.term = term
        self.always: set[str] = set()  # --approve: tools the user allowed for good
        self.ended: Reply | None = None  # a resumed loop that had already ended

    @classmethod
    def open(
        cls,
        settings: ChatSettings,
        request: ChatRequest,
        state: JournalState | None,
        term: Terminal,
    ) -> ToolLoop:
        """Check the options and start the tools (MCP servers list theirs now)."""
        if settings.approve and not (term.stdin_isatty and term.stderr_isatty):
            raise UsageError("--approve asks on the terminal: stdin and stderr must be one")
        limits = ("max_steps", "tool_timeout", "tool_output_max")
        if state is not None and "loop" in state.header:
            saved = state.header["loop"]
            keys = ("tool_cmd", "mcp", *limits)
            if not isinstance(saved, dict) or not all(k in saved for k in keys):
                raise UsageError(f"journal {state.id} is damaged (its tool loop is not mint's)")
            spec = {**saved, **{k: getattr(settings, k) for k in limits if settings.given(k)}}
        else:
            if request.schema is not None:
                whence = f" ({w})" if (w := settings.tools_from_file()) else ""
                raise UsageError(f"--schema cannot be combined with --tool-cmd or --mcp{whence}")
            spec = {"tool_cmd": list(settings.tool_cmd), "mcp": list(settings.mcp)}
            spec.update({k: getattr(settings, k) for k in limits})
        secrets = [settings.api_key] if settings.api_key else []
        resumed = state is not None
        declared = () if resumed else request.tools
        try:
            box = Toolbox.build(
                tuple(spec["tool_cmd"]), tuple(spec["mcp"]), declared, secrets, term.secrets
            )
        except Unrunnable as exc:  # named as given: a flag, or a table of the config file
            raise exc if resumed else exc.placed(settings) from None
        if not resumed:
            request = replace(request, tools=(*request.tools, *box.specs))
        for warning in box.warnings:
            term.warn(warning)
        if settings.verbose:
            for note in box.notes:
                term.note(note)
        return cls(settings, request, box, spec, state, term)

    def __enter__(self) -> ToolLoop:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.box.close()

    # -- the run -------------------------------------------------------------------------
    def run(self, run: Run, base_url: str, headers: dict[str, str]) -> None:
        from mintcli.run.exchange import save_exchange
        from mintcli.wire.transport import Transport

        settings, term, state = self.settings, self.term, self.state
        journal = None
        if state is not None and settings.journal:
            journal = ChainJournal.reopen(state, term.secrets)
        elif settings.journal:
            journal = ChainJournal.start(
                settings, run.request, run.pending, secrets=term.secrets, loop=self.spec
            )
        assert journal is None or isinstance(journal, ChainJournal)
        sink = loop_sink(settings.format, term, settings.reasoning, settings.quiet)
        transport, recorder = Transport.open(settings, base_url, term, settings.record)
        self.chain: list[dict[str, Any]] = []  # grown in place: the json sink reads it
        sink.chain = self.chain
        self.usage = UsageTotals()
        self.attempts = 0
        self.streaming: Accumulator | None = None  # what the step being streamed has received
        self.calling: Reply | None = None  # the last reply whose calls were run (session hook)
        self.finished: dict[str, Outcome] = {}  # what its calls' runs gave so far (session hook)
        try:
            # Ctrl-C between two steps is an Interrupted too (each step and the
            # tools' wait set their own handlers inside).
            with signals_as_errors():
                final = self._steps(run, headers, journal, sink, transport)
        except MintError as error:
            cut = run.turn is not None and error.exit_code == ExitCode.INTERRUPTED
            if cut and self._keep_cut(run, journal):
                return  # the session goes on
            sink.abort(error)
            if journal is not None and error.reply_complete:
                # A reply that arrived whole and ended the run (a refusal,
                # --max-steps) leaves nothing to resume.
                journal.finish()
            elif journal is not None:
                journal.keep()
                note = f"the reply is unfinished; continue it with: mint chat --resume {journal.id}"
                if journal.exists and note not in error.notes:
                    error.notes.append(note)
            raise
        finally:
            transport.close()
            if recorder is not None:
                recorder.close()
        if journal is not None:
            journal.finish()
        save_exchange(run, final, term, self.chain)

    def _keep_cut(self, run: Run, journal: ChainJournal | None) -> bool:
        """In a session, a Ctrl-C while an answer streams keeps what came (the
        chain so far and the answer, marked cut), as it does without tools. Cut
        while tools run, or before a later step's answer began, the turn is kept
        up to the last reply's calls (marked cut); the results that finished go
        to the session, which sends them (and "not run" for the other calls)
        with the next prompt. Cut before the first answer began: nothing kept."""
        from mintcli.run.exchange import save_exchange

        acc = self.streaming
        reply = acc.reply() if acc is not None and acc.received else None
        chain = self.chain
        if reply is None or reply.tool_calls or not reply.has_words:
            reply = self.calling  # the last reply whose calls were being run
            at = max((i for i, m in enumerate(chain) if m.get("role") == "assistant"), default=-1)
            ids = [c.get("id") for c in chain[at].get("tool_calls") or ()] if at >= 0 else []
            if reply is None or run.turn is None or ids != [c.id for c in reply.tool_calls]:
                return False  # (or stopped before that reply joined the chain)
            done = chain[at + 1 :] or [
                tool_message(c.id, self.finished[c.id])
                for c in reply.tool_calls
                if c.id in self.finished
            ]
            run.turn.results.extend(done)
            chain = chain[:at]
        if journal is not None:
            journal.path.unlink(missing_ok=True)  # the conversation keeps it instead
        save_exchange(run, reply, self.term, chain, cut=True)
        return True

    def _steps(
        self,
        run: Run,
        headers: dict[str, str],
        journal: ChainJournal | None,
        sink: LoopSink,
        transport: Transport,
    ) -> Reply:
        """Every step, from the first (or where a --resume picks up) to a reply
        without calls, which is returned."""
        from mintcli.run.exchange import run_config
        from mintcli.run.runner import ChatRun

        state, term = self.state, self.term
        started = time.monotonic()
        first = run_config(run, headers, journal, state)
        sink.start(first.info)
        step, acc, todo = self._restore(sink)
        final = self.ended
        while final is None:
            if todo is None:
                step_run = replace(run, request=self._step_request(run.request, step))
                config = run_config(step_run, headers, journal, state)
                if config.timeout is not None:  # --timeout bounds the whole loop
                    left = config.timeout - (time.monotonic() - started)
                    config = replace(config, timeout=max(left, 0.001))
                chat = ChatRun(
                    config, transport=transport, sink=sink, term=term, journal=journal, acc=acc
                )
                self.streaming = acc
                reply = chat.run()
                self.streaming = None
                self.attempts += chat.attempts
                self._count(reply)
                if not reply.tool_calls:
                    final = reply
                    break
                if step >= int(self.spec["max_steps"]):
                    self._step_limit(run, reply, sink, journal)
                if journal is not None:
                    journal.write({"s": step})
                self.calling, self.finished = reply, {}  # for a session's Ctrl-C
                sink.step_done(reply)
                self.chain.append(reply_message(reply))
                todo = (list(reply.tool_calls), {}, set())
            calls, done, lost = todo
            results = self._execute(calls, done, lost, journal, sink)
            self.chain += [tool_message(c.id, results[c.id]) for c in calls]
            step += 1
            sink.next_step(step)
            acc, todo = Accumulator(), None
        summary = {"attempts": self.attempts, "steps": step}
        if state is not None:
            summary["resumed"] = True
        sink.finish(summary, self.usage.as_dict())
        return final

    def _count(self, reply: Reply) -> None:
        usage = reply.usage or {}
        self.usage.add(UsageTotals(usage.get("input_tokens"), usage.get("output_tokens")))

    def _step_request(self, request: ChatRequest, step: int) -> ChatRequest:
        if step == 1:
            return request
        # A forced choice holds for the first request only: forcing a call at every
        # step would loop until --max-steps.
        choice = request.tool_choice if request.tool_choice in (None, "auto", "none") else None
        return replace(request, messages=[*request.messages, *self.chain], tool_choice=choice)

    def _step_limit(
        self, run: Run, reply: Reply, sink: LoopSink, journal: ChainJournal | None
    ) -> None:
        from mintcli.run.exchange import save_exchange

        if not self.settings.quiet and self.settings.format in ("text", "raw"):
            for call in reply.tool_calls:
                self.term.note(call_line(call, None))
        if journal is not None:
            journal.finish()  # every reply arrived whole: nothing to resume
        save_exchange(run, reply, self.term, self.chain)
        steps = self.spec["max_steps"]
        raise StepLimit(
            f"tool loop reached --max-steps ({steps}); the last reply's calls were not run"
        )

    # -- resuming ------------------------------------------------------------------------
    def _restore(
        self, sink: LoopSink
    ) -> tuple[int, Accumulator, tuple[list[ToolCall], dict[str, Outcome], set[str]] | None]:
        """Where a --resume picks up: the step, what it received, and its calls
        with the results journaled and the IDs of those that started without
        one (None: the step's reply must be streamed first)."""
        if self.state is None:
            return 1, Accumulator(), None
        steps = read_steps(self.state)
        for number, step in enumerate(steps, 1):
            acc = Accumulator()
            for event in step.state.events():
                acc.add(event)
            acc.end_attempt()
            if not step.complete:
                return number, acc, None
            reply = acc.reply()
            self._count(reply)
            calls = list(reply.tool_calls)
            done = {i: Outcome.from_json(r) for i, r in step.results.items()}
            if not calls:  # the loop had ended; only the journal's removal was missed
                sink.done(reply, {"attempts": 0, "resumed": True})
                self.ended = reply
                return number, acc, None
            sink.step_done(reply)
            self.chain.append(reply_message(reply))
            if number == len(steps) or any(c.id not in done for c in calls):
                return number, Accumulator(), (calls, done, step.started - set(done))
            self.chain += [tool_message(c.id, done[c.id]) for c in calls]
        raise UsageError(f"journal {self.state.id} holds no step to continue")

    # -- running the calls ---------------------------------------------------------------
    def _execute(
        self,
        calls: list[ToolCall],
        done: dict[str, Outcome],
        lost: set[str],
        journal: ChainJournal | None,
        sink: LoopSink,
    ) -> dict[str, Outcome]:
        """Run the calls not yet done, all at once, once the journal says they
        started; each result is journaled and shown the moment it ends. A call
        in ``lost`` (started before mint stopped, no result) is not run again."""
        results = dict(done)
        lock = threading.Lock()
        self.finished = results  # what a session keeps if Ctrl-C stops the tools

        def finished(call: ToolCall, outcome: Outcome, refused: bool = False) -> None:
            with lock:
                if journal is not None:
                    record = {"id": call.id, "name": call.name, "refused": refused}
                    journal.write({"tr": {**record, **outcome.as_json()}})
                results[call.id] = outcome
                sink.tool_result(call, outcome, refused)

        todo = []
        with signals_as_errors():
            for call in calls:
                if call.id in results:
                    continue
                if call.id in lost:
                    self.term.warn(
                        f"tool {call.name} (call {call.id}) was running when mint stopped: "
                        "its result was lost, and it was not run again (the model is told so)"
                    )
                    finished(call, Outcome("", True, error=LOST))
                elif self.settings.approve and not self._approved(call):
                    refusal = "the user refused to run this call"
                    finished(call, Outcome("", True, error=refusal), refused=True)
                else:
                    todo.append(call)

            def started(calls: list[ToolCall]) -> None:
                # Before they run: a failed first write (exit 11) runs nothing; a
                # call that waited for its turn is journaled when it comes.
                if journal is not None:
                    with lock:
                        journal.write({"ts": [call.id for call in calls]})

            timeout, limit = float(self.spec["tool_timeout"]), int(self.spec["tool_output_max"])
            self.box.run_all(todo, timeout, limit, finished, started)
        return results

    def _approved(self, call: ToolCall) -> bool:
        from mintcli.toolloop.approve import ask

        return ask(call, self.term, self.always)
