"""``mint batch`` with runnable tools: each item is its own loop.

The item's first reply comes from the batch's usual run; while a reply makes
tool calls, they run (at once, as in ``mint chat``) and the next request of
the item carries their results, up to ``--max-steps`` requests (then the item
fails with code 13). There is no per-item journal: an item cut short has no
result line, so ``mint batch --resume`` runs it again whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from mintcli.errors import StepLimit
from mintcli.request.model import ChatRequest
from mintcli.toolloop.output import reply_message, tool_message
from mintcli.toolloop.proc import Outcome
from mintcli.toolloop.toolbox import Toolbox
from mintcli.toolloop.unrunnable import Unrunnable

if TYPE_CHECKING:
    from mintcli.base.events import ToolCall
    from mintcli.base.terminal import Terminal
    from mintcli.batch.results import ResultSink
    from mintcli.options.settings import BatchSettings
    from mintcli.output.accumulate import Reply
    from mintcli.run.runner import RunConfig


class ItemTools:
    """The batch's runnable tools (MCP servers shared by every item)."""

    def __init__(self, settings: BatchSettings, term: Terminal) -> None:
        from mintcli.request.tools import load_tools

        declared = load_tools(settings.tool, settings.tools)
        secrets = [settings.api_key] if settings.api_key else []
        try:
            self.box = Toolbox.build(
                settings.tool_cmd, settings.mcp, declared, secrets, term.secrets
            )
        except Unrunnable as exc:  # named as given: a flag, or a table of the config file
            raise exc.placed(settings) from None
        for warning in self.box.warnings:
            term.warn(warning)
        self.max_steps = settings.max_steps
        self.timeout = settings.tool_timeout
        self.limit = settings.tool_output_max
        self.term = term

    def offer(self, request: ChatRequest) -> ChatRequest:
        """The item's request with the runnable tools it does not define itself."""
        names = {t.name for t in request.tools}
        extra = tuple(t for t in self.box.specs if t.name not in names)
        return replace(request, tools=(*request.tools, *extra)) if extra else request

    def follow(
        self,
        reply: Reply,
        config: RunConfig,
        sink: ResultSink,
        stream: Callable[[RunConfig], Reply],
    ) -> None:
        """Run the item's loop on from its first reply; the result line then
        holds the last reply, with ``steps`` (requests made) added."""
        chain: list[dict[str, Any]] = []
        steps = 1
        totals = _Totals()
        totals.add(sink.line)
        try:
            while reply.tool_calls:
                if steps >= self.max_steps:
                    error = StepLimit(f"tool loop reached --max-steps ({self.max_steps})")
                    sink.failed(reply, {"attempts": 0}, {"code": 13, "message": error.message})
                    raise error
                calls = list(reply.tool_calls)
                results: dict[str, Outcome] = {}

                def keep(
                    call: ToolCall, outcome: Outcome, into: dict[str, Outcome] = results
                ) -> None:
                    into[call.id] = outcome

                self.box.run_all(calls, self.timeout, self.limit, keep)
                chain.append(reply_message(reply))
                chain += [tool_message(c.id, results[c.id]) for c in calls]
                request = config.request
                choice = (
                    request.tool_choice if request.tool_choice in (None, "auto", "none") else None
                )
                step = replace(request, messages=[*request.messages, *chain], tool_choice=choice)
                try:
                    reply = stream(replace(config, request=step))
                finally:
                    totals.add(sink.line)
                steps += 1
        finally:
            totals.patch(sink, steps)

    def close(self) -> None:
        self.box.close()


class _Totals:
    """Attempts and usage over an item's steps (each step's line says its own)."""

    def __init__(self) -> None:
        self.attempts = 0
        self.usage: dict[str, int | None] = {}

    def add(self, line: bytes | None) -> None:
        if line is None:
            return
        obj = orjson.loads(line)
        self.attempts += int(obj.get("attempts") or 0)
        for key, value in (obj.get("usage") or {}).items():
            if value is not None:
                self.usage[key] = (self.usage.get(key) or 0) + value

    def patch(self, sink: ResultSink, steps: int) -> None:
        """The last line, with the item's totals and its number of steps."""
        if sink.line is None:
            return
        line = orjson.loads(sink.line)
        line["attempts"] = self.attempts
        line["usage"] = self.usage or line.get("usage")
        line["steps"] = steps
        sink.line = orjson.dumps(line) + b"\n"
