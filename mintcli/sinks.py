"""Output writers for ``--format text|raw|jsonl|json``.

A sink gathers what one network read produced and writes it to stdout in one
write + flush when the runner calls :meth:`Sink.flush` (after the journal got
it). Stdout only ever receives data; notes go to the terminal's stderr.
"""

from __future__ import annotations

from typing import Any

import orjson

from mintcli.accumulate import Accumulator, tool_call_json
from mintcli.events import SCHEMA_VERSION, ToolCall
from mintcli.terminal import Terminal, critical

FORMATS = ("text", "raw", "jsonl", "json")


class Sink:
    """Base: buffers bytes for the current batch. Subclasses override the hooks
    they care about; the defaults ignore the event."""

    def __init__(self, term: Terminal, show_reasoning: bool = False) -> None:
        self.term = term
        self.show_reasoning = show_reasoning
        self._out: list[bytes] = []
        self._reasoning_open = False  # reasoning printed to stderr, not yet closed
        self.wrote_any = False

    # batching
    def flush(self) -> None:
        if self._out:
            with critical():  # the batch leaves _out and reaches stdout as one step
                data = b"".join(self._out)
                self._out.clear()
                self.wrote_any = True
                self.term.write(data)

    def discard(self) -> None:
        self._out.clear()

    # hooks, in stream order
    def start(self, info: dict[str, Any]) -> None:
        pass

    def raw(self, data: bytes) -> None:
        pass

    def text(self, text: str) -> None:
        pass

    def texts(self, texts: list[str]) -> None:
        """Several text pieces in a row (the common case for one network read)."""
        for text in texts:
            self.text(text)

    def reasoning(self, text: str) -> None:
        # Reasoning is not the answer: with --reasoning it goes to stderr.
        if self.show_reasoning:
            self._reasoning_open = True
            self.term.stderr_text(text)

    def close_reasoning(self) -> None:
        if self._reasoning_open:
            self._reasoning_open = False
            self.term.stderr_text("\n")

    def tool_call(self, call: ToolCall) -> None:
        pass

    def retry(self, info: dict[str, Any]) -> None:
        pass

    def done(self, acc: Accumulator, summary: dict[str, Any]) -> None:
        pass

    def failed(self, acc: Accumulator, summary: dict[str, Any], error: dict[str, Any]) -> None:
        pass

    def stats(self, stats: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        """The run is over: write whatever is still held."""
        self.flush()


class TextSink(Sink):
    """The answer as plain text, then each tool call as one compact JSON line."""

    def __init__(self, term: Terminal, show_reasoning: bool = False) -> None:
        super().__init__(term, show_reasoning)
        self._pending: list[str] = []
        self._last = ""  # last character written, for the newline rules

    def text(self, text: str) -> None:
        if self._reasoning_open:
            self.close_reasoning()
        self._pending.append(text)

    def texts(self, texts: list[str]) -> None:
        if self._reasoning_open:
            self.close_reasoning()
        self._pending.extend(texts)

    def flush(self) -> None:
        self.flush_text_into_batch()
        super().flush()

    def discard(self) -> None:
        self._pending.clear()
        super().discard()

    def tool_call(self, call: ToolCall) -> None:
        self.flush_text_into_batch()
        if self._last not in ("", "\n"):
            self._out.append(b"\n")
        self._out.append(orjson.dumps(tool_call_json(call)) + b"\n")
        self._last = "\n"

    def flush_text_into_batch(self) -> None:
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            self._last = text[-1]
            self._out.append(text.encode())

    def done(self, acc: Accumulator, summary: dict[str, Any]) -> None:
        self.close_reasoning()
        self.flush_text_into_batch()
        if self._last not in ("", "\n"):
            self._out.append(b"\n")
            self._last = "\n"

    def failed(self, acc: Accumulator, summary: dict[str, Any], error: dict[str, Any]) -> None:
        self.close_reasoning()

    def stats(self, stats: dict[str, Any]) -> None:
        self.term.note(format_stats(stats))


class RawSink(Sink):
    """Each wire event's data as one compact JSON line, as the provider sent it."""

    def texts(self, texts: list[str]) -> None:
        pass  # the text is in the raw events

    def raw(self, data: bytes) -> None:
        if b"\n" in data:
            # Data split over several data: lines is still one JSON value; one line out.
            try:
                data = orjson.dumps(orjson.loads(data))
            except orjson.JSONDecodeError:
                data = data.replace(b"\n", b" ")
        self._out.append(data + b"\n")

    def stats(self, stats: dict[str, Any]) -> None:
        self.term.note(format_stats(stats))


class JSONLSink(Sink):
    """mint's normalized events, one JSON object per line (docs/events.md)."""

    def _emit(self, obj: dict[str, Any]) -> None:
        self._out.append(orjson.dumps(obj) + b"\n")

    def start(self, info: dict[str, Any]) -> None:
        self._emit({"type": "start", "schema": SCHEMA_VERSION, **info})

    def text(self, text: str) -> None:
        self._out.append(orjson.dumps({"type": "text", "text": text}) + b"\n")

    def texts(self, texts: list[str]) -> None:
        dumps = orjson.dumps
        self._out += [dumps({"type": "text", "text": t}) + b"\n" for t in texts]

    def reasoning(self, text: str) -> None:
        self._emit({"type": "reasoning", "text": text})

    def tool_call(self, call: ToolCall) -> None:
        self._emit({"type": "tool_call", **tool_call_json(call)})

    def retry(self, info: dict[str, Any]) -> None:
        self._emit({"type": "retry", **info})

    def done(self, acc: Accumulator, summary: dict[str, Any]) -> None:
        usage = acc.current_usage()
        if usage is not None:
            self._emit({"type": "usage", **usage})
        self._emit({"type": "done", "finish_reason": acc.finish_reason, **summary})

    def failed(self, acc: Accumulator, summary: dict[str, Any], error: dict[str, Any]) -> None:
        self._emit({"type": "error", **error, **summary})

    def stats(self, stats: dict[str, Any]) -> None:
        self._emit({"type": "stats", **stats})


class JSONSink(Sink):
    """One object when the reply ends (also when it fails, with an ``error`` field)."""

    def __init__(self, term: Terminal, show_reasoning: bool = False) -> None:
        super().__init__(term, show_reasoning)
        self._result: dict[str, Any] | None = None
        self.messages: list[dict[str, Any]] = []
        self.meta: dict[str, Any] = {}

    def texts(self, texts: list[str]) -> None:
        pass  # part of the final object

    def reasoning(self, text: str) -> None:
        pass  # part of the final object

    def _build(
        self, acc: Accumulator, summary: dict[str, Any], error: dict[str, Any] | None
    ) -> None:
        result: dict[str, Any] = {
            "text": acc.text.getvalue(),
            "reasoning": acc.reasoning.getvalue() or None,
            "tool_calls": acc.tool_calls_json(),
            "finish_reason": acc.finish_reason,
            "usage": acc.current_usage(),
            "model": acc.model or self.meta.get("model"),
            "protocol": self.meta.get("protocol"),
            **summary,
            "messages": [*self.messages, acc.assistant_message()],
        }
        if error is not None:
            result["error"] = error
        self._result = result

    def done(self, acc: Accumulator, summary: dict[str, Any]) -> None:
        self._build(acc, summary, None)

    def failed(self, acc: Accumulator, summary: dict[str, Any], error: dict[str, Any]) -> None:
        self._build(acc, summary, error)

    def stats(self, stats: dict[str, Any]) -> None:
        if self._result is not None:
            self._result["stats"] = stats

    def close(self) -> None:
        if self._result is not None:
            self._out.append(orjson.dumps(self._result) + b"\n")
            self._result = None
        self.flush()


def make_sink(fmt: str, term: Terminal, show_reasoning: bool) -> Sink:
    cls: type[Sink] = {"text": TextSink, "raw": RawSink, "jsonl": JSONLSink, "json": JSONSink}[fmt]
    return cls(term, show_reasoning)


def format_stats(stats: dict[str, Any]) -> str:
    def ms(key: str) -> str:
        value = stats.get(key)
        return "-" if value is None else f"{value * 1000:.0f} ms"

    tokens = stats.get("output_tokens")
    rate = stats.get("tokens_per_second")
    return (
        f"stats: first byte {ms('time_to_first_byte')}, first token {ms('time_to_first_token')}, "
        f"total {ms('total_time')}, {stats.get('pieces', 0)} pieces, "
        f"{'-' if tokens is None else tokens} output tokens"
        f"{'' if rate is None else f' ({rate:.1f}/s)'}, {stats.get('attempts', 1)} attempt(s)"
    )
