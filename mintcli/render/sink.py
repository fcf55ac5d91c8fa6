"""The text sinks of ``-x`` and ``--render``: ``output.sinks.TextSink`` with the
reply's text passed through an :class:`~mintcli.render.extract.Extractor` or
a :class:`~mintcli.render.markdown.Renderer` on its way to stdout."""

from __future__ import annotations

from typing import Any

from mintcli.base.events import Event, ToolCall
from mintcli.base.sanitize import escape_bytes
from mintcli.base.terminal import Terminal
from mintcli.output.accumulate import Reply
from mintcli.output.sinks import TextSink
from mintcli.render.extract import Extractor
from mintcli.render.markdown import Renderer


class ExtractSink(TextSink):
    """Only the code block: streamed with --extract, at the end with --extract-last.
    Tool calls are not code and are left out."""

    seeds_tail = False

    def __init__(self, term: Terminal, show_reasoning: bool = False, last: bool = False) -> None:
        super().__init__(term, show_reasoning)
        self.extractor = Extractor(last)

    def _text(self, text: str) -> None:
        got = self.extractor.feed(text)
        if got:
            super()._text(got)

    def event(self, event: Event) -> None:
        if type(event) is not ToolCall:
            super().event(event)

    def done(self, reply: Reply, summary: dict[str, Any]) -> None:
        rest = self.extractor.finish()
        if rest:
            super()._text(rest)
        super().done(reply, summary)


class RenderSink(TextSink):
    """The reply's Markdown laid out for a terminal as it streams (--render)."""

    def __init__(self, term: Terminal, show_reasoning: bool = False, escape: bool = True) -> None:
        import shutil

        super().__init__(term, show_reasoning)
        self.renderer = Renderer(shutil.get_terminal_size().columns, escape)
        # The renderer escapes the reply's text itself (when escaping is on) and
        # adds escape sequences of its own, which the terminal must not escape.
        term.escape_stdout = False

    def _text(self, text: str) -> None:
        self._show(self.renderer.feed(text))

    def _show(self, shown: str) -> None:
        if shown:
            if self._reasoning_open:
                self.close_reasoning()
            self._out.append(shown.encode())
            self._last = "x" if self.renderer.mid_line else "\n"

    def event(self, event: Event) -> None:
        if type(event) is ToolCall:
            self._show(self.renderer.finish())
        super().event(event)

    def _call_line(self, call: ToolCall) -> bytes:
        # The terminal no longer escapes stdout (see __init__): the sink does.
        line = super()._call_line(call)
        return escape_bytes(line) if self.renderer.escape else line

    def done(self, reply: Reply, summary: dict[str, Any]) -> None:
        self._show(self.renderer.finish())
        super().done(reply, summary)

    def failed(self, reply: Reply, summary: dict[str, Any], error: dict[str, Any]) -> None:
        self._show(self.renderer.finish())  # what was held, and the styles reset
        super().failed(reply, summary, error)


def text_sink(term: Terminal, show_reasoning: bool, extract: str | None, escape: bool) -> TextSink:
    """-x/--extract-last: the code block; otherwise the Markdown laid out."""
    if extract is not None:
        return ExtractSink(term, show_reasoning, last=extract == "last")
    return RenderSink(term, show_reasoning, escape)
