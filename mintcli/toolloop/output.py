"""The four output formats across the steps of a tool loop.

Each step is a run of the runner, which starts, ends and closes its sink; the
loop's sinks start once, hold each step's end until the loop knows whether
another step follows, and add what the loop itself does: the tool results and
the step marks (jsonl), the steps (json), a line per call on stderr (text, raw).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from mintcli.base.events import Event, ToolCall
from mintcli.base.sanitize import clip
from mintcli.base.terminal import Terminal
from mintcli.errors import MintError
from mintcli.output.accumulate import Reply
from mintcli.output.sinks import JSONLSink, JSONSink, RawSink, RunInfo, Sink, TextSink
from mintcli.request.model import assistant_message
from mintcli.toolloop.proc import Outcome


def call_line(call: ToolCall, outcome: Outcome | None, refused: bool = False) -> str:
    """One stderr line for a call and how it ended (escaped by the terminal)."""
    args = call.arguments if call.arguments_error is None else "(invalid JSON)"
    shown = orjson.dumps(args).decode() if not isinstance(args, str) else args
    shown = clip(shown, 200)
    head = f"tool {call.name} {shown}"
    if outcome is None:
        return f"{head}: not run"
    if refused:
        return f"{head}: refused"
    size = f"{len(outcome.output.encode())} bytes"
    took = f"{outcome.duration_ms} ms"
    if outcome.is_error:
        return f"{head}: error: {outcome.error} ({size}, {took})"
    cut = ", cut" if outcome.truncated else ""
    return f"{head}: ok ({size}{cut}, {took})"


class LoopSink(Sink):
    """What every loop sink does (mixed in before the format's own sink)."""

    quiet = False

    def setup(self, quiet: bool) -> None:
        self.quiet = quiet
        self.chain: list[dict[str, Any]] = []  # the messages after the first request
        self._started = False
        self._held: tuple[Reply, dict[str, Any]] | None = None
        self._held_stats: dict[str, Any] | None = None
        self._ended = False

    def start(self, info: RunInfo) -> None:
        if not self._started:
            self._started = True
            super().start(info)

    def done(self, reply: Reply, summary: dict[str, Any]) -> None:
        self._held = (reply, summary)  # the loop decides whether this was the last step

    def failed(self, reply: Reply, summary: dict[str, Any], error: dict[str, Any]) -> None:
        self._ended = True
        super().failed(reply, summary, error)

    def stats(self, stats: dict[str, Any]) -> None:
        if self._ended:
            super().stats(stats)
        else:
            self._held_stats = stats

    def close(self) -> None:
        if self._ended:
            super().close()
        else:
            self.flush()

    # -- what the loop calls -----------------------------------------------------------
    def step_done(self, reply: Reply) -> None:
        """A step ended with tool calls: another follows."""
        self._held = (reply, self._held[1] if self._held else {"attempts": 0, "resumed": True})
        self._held_stats = None

    def tool_result(self, call: ToolCall, outcome: Outcome | None, refused: bool) -> None:
        if not self.quiet:
            self.term.note(call_line(call, outcome, refused))

    def next_step(self, step: int) -> None:
        pass

    def finish(self, summary: dict[str, Any], usage: dict[str, Any] | None) -> None:
        """The loop is over: the last step's end, with the loop's totals."""
        assert self._held is not None
        reply, step_summary = self._held
        self.last_step(reply)
        reply.usage = usage
        self._ended = True
        super().done(reply, {**step_summary, **summary})
        if self._held_stats is not None:
            super().stats(self._held_stats)
        self.close()

    def last_step(self, reply: Reply) -> None:
        """The last step's reply, before it gets the loop's totals."""

    def abort(self, error: MintError) -> None:
        """The loop failed outside a step (running the tools, or at --max-steps):
        the last reply ends the output, with the error."""
        if self._ended:
            return
        self._ended = True
        self.status(None)
        if self._held is not None:
            reply, summary = self._held
            super().failed(reply, summary, {"code": int(error.exit_code), "message": error.message})
        self.close()


class LoopText(LoopSink, TextSink):
    def event(self, event: Event) -> None:
        if type(event) is not ToolCall:  # mint runs it: its line goes to stderr
            super().event(event)

    def step_done(self, reply: Reply) -> None:
        super().step_done(reply)
        self._end_line()
        self.flush()


class LoopRaw(LoopSink, RawSink):
    pass


class LoopJSONL(LoopSink, JSONLSink):
    def tool_result(self, call: ToolCall, outcome: Outcome | None, refused: bool) -> None:
        out: dict[str, Any] = {"type": "tool_result", "id": call.id, "name": call.name}
        if outcome is not None:
            out.update(outcome.as_json())
        out["refused"] = refused
        self._emit(out)
        self.flush()

    def next_step(self, step: int) -> None:
        self._emit({"type": "step", "step": step})
        self.flush()


class LoopJSON(LoopSink, JSONSink):
    """The final object also lists the steps, each with its tool results (in
    call order), and ``messages`` holds the whole chain as sent."""

    def setup(self, quiet: bool) -> None:
        super().setup(quiet)
        self.steps: list[dict[str, Any]] = []

    def step_done(self, reply: Reply) -> None:
        self.steps.append(_step(reply))
        super().step_done(reply)

    def tool_result(self, call: ToolCall, outcome: Outcome | None, refused: bool) -> None:
        result = {"id": call.id, "name": call.name, "refused": refused}
        if outcome is not None:
            result.update(outcome.as_json())
        step = self.steps[-1]
        step["tool_results"].append(result)
        order = [c["id"] for c in step["tool_calls"]]
        step["tool_results"].sort(key=lambda r: order.index(r["id"]) if r["id"] in order else 0)

    def _build(self, reply: Reply, summary: dict[str, Any], error: dict[str, Any] | None) -> None:
        if self._info is not None:
            messages = [*self._info.messages, *self.chain]
            self._info = replace(self._info, messages=messages)
        super()._build(reply, summary, error)
        assert self._result is not None
        self._result["steps"] = self.steps

    def last_step(self, reply: Reply) -> None:
        self.steps.append(_step(reply))


def _step(reply: Reply) -> dict[str, Any]:
    return {
        "text": reply.text,
        "tool_calls": [c.as_json() for c in reply.tool_calls],
        "finish_reason": reply.finish_reason,
        "usage": reply.usage,
        "tool_results": [],
    }


def reply_message(reply: Reply) -> dict[str, Any]:
    """A reply as the assistant turn the next request carries. Arguments that
    were not JSON go back as ``{}`` (the Messages API takes only an object as a
    tool's input); the call's error result says what was wrong with them."""
    message = assistant_message(reply)
    for call, sent in zip(reply.tool_calls, message.get("tool_calls") or (), strict=False):
        if call.arguments_error is not None or not isinstance(call.arguments, dict):
            sent["function"]["arguments"] = "{}"
    return message


def tool_message(call_id: str, outcome: Outcome) -> dict[str, Any]:
    """A result as the tool turn of the conversation (OpenAI shape; is_error is
    sent only to Anthropic, as tool_result's is_error)."""
    message: dict[str, Any] = {"role": "tool", "tool_call_id": call_id}
    message["content"] = outcome.content()
    if outcome.is_error:
        message["is_error"] = True
    return message


LOOP_SINKS: dict[str, type[LoopSink]] = {
    "text": LoopText,
    "raw": LoopRaw,
    "jsonl": LoopJSONL,
    "json": LoopJSON,
}


def loop_sink(fmt: str, term: Terminal, reasoning: bool, quiet: bool) -> LoopSink:
    sink = LOOP_SINKS[fmt](term, reasoning)
    sink.setup(quiet)
    return sink
