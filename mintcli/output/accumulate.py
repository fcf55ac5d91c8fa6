"""Everything received so far, folded from mint's events.

The accumulator lives for the whole run, across retries and a ``--resume``: it
is the one place that knows the text a continuation must start from, the tool
calls already emitted, and the usage of each attempt. When the run ends it
gives a :class:`Reply`, which is what the sinks print. :class:`ReadBatch` folds
the same events once more, per network read, into that read's journal record.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, BinaryIO

from mintcli.base.events import (
    Event,
    Finish,
    MessageStart,
    ReasoningBlock,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from mintcli.errors import Refused

if TYPE_CHECKING:
    from mintcli.base.sanitize import Secrets


class TextBuffer:
    """Append-only text whose memory stays flat however long it grows.

    Pieces are joined into one chunk after ``COMPACT_AT`` appends, or sooner
    once they hold ``SPILL_AT`` characters (events can be megabytes each);
    once the chunks held in memory pass ``SPILL_AT`` characters they move, as
    UTF-8, to an anonymous temporary file (private, and gone when the process
    ends). So what is held is under ~2 x ``SPILL_AT`` characters besides the
    piece being appended. The whole text is only rebuilt by :meth:`getvalue`,
    which a run needs at most at a retry seam and for ``--format json``.
    """

    __slots__ = ("_chunks", "_done", "_held", "_pending", "_per_piece", "_room", "_spool")

    COMPACT_AT = 1024  # pieces held loose before they are joined into one chunk
    SPILL_AT = 1 << 16  # characters held in memory before they go to the spool file

    def __init__(self, initial: str = "") -> None:
        self._chunks: list[str] = []
        self._held = 0  # characters in _chunks
        self._pending: list[str] = []
        # One counter for both limits on _pending, so an append does one subtraction
        # and one test: each piece takes its length plus a fixed share from a room of
        # SPILL_AT, so the room runs out at COMPACT_AT pieces or SPILL_AT characters.
        self._per_piece = max(1, self.SPILL_AT // self.COMPACT_AT)
        self._room = self.SPILL_AT
        self._done = 0  # characters compacted (in _chunks or the spool)
        self._spool: BinaryIO | None = None
        self.append(initial)

    def append(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text)
        self._room -= len(text) + self._per_piece
        if self._room <= 0:
            self._compact()

    def _compact(self) -> None:
        chunk = "".join(self._pending)
        self._pending.clear()
        self._room = self.SPILL_AT
        self._done += len(chunk)
        self._chunks.append(chunk)
        self._held += len(chunk)
        if self._held >= self.SPILL_AT:
            if self._spool is None:
                import tempfile  # only long replies get here

                self._spool = tempfile.TemporaryFile()  # noqa: SIM115 - lives with the buffer
            for held in self._chunks:  # one by one: a huge piece is not copied once more
                self._spool.write(held.encode("utf-8", "surrogatepass"))
            self._chunks.clear()
            self._held = 0

    def __len__(self) -> int:
        # What the room lost, less the per-piece shares: the pending characters.
        pending = self.SPILL_AT - self._room - self._per_piece * len(self._pending)
        return self._done + pending

    def __bool__(self) -> bool:
        return self._done > 0 or bool(self._pending)

    def pieces(self, block: int = 1 << 14) -> Iterator[str]:
        """The text in order, in pieces, without putting it together (to write
        a long reply out with flat memory). The spool is read ``block`` bytes at
        a time: small pieces keep the log's save of a long reply (which groups
        them into its own blocks) from holding much more than one block."""
        if self._spool is not None:
            self._spool.seek(0)
            decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
            while data := self._spool.read(block):
                yield decoder.decode(data)
            yield decoder.decode(b"", final=True)
            self._spool.seek(0, 2)
        yield from self._chunks
        yield from self._pending

    def getvalue(self) -> str:
        if self._pending:
            self._compact()
        held = "".join(self._chunks)
        if self._spool is None:
            self._chunks = [held] if held else []
            return held
        self._spool.seek(0)
        spilled = self._spool.read().decode("utf-8", "surrogatepass")
        self._spool.seek(0, 2)
        return spilled + held


@dataclass
class UsageTotals:
    input_tokens: int | None = None
    output_tokens: int | None = None

    def add(self, usage: UsageTotals) -> None:
        if usage.input_tokens is not None:
            self.input_tokens = (self.input_tokens or 0) + usage.input_tokens
        if usage.output_tokens is not None:
            self.output_tokens = (self.output_tokens or 0) + usage.output_tokens

    def as_dict(self) -> dict[str, Any] | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens}


class Reply:
    """The reply as received: what ``--format json`` prints and jsonl's end
    events carry. The text is only put together when asked for (a long reply's
    text lives in a temporary file, and the text format never needs it whole)."""

    def __init__(self, acc: Accumulator) -> None:
        self._acc = acc
        self.tool_calls = tuple(acc.tool_calls)
        self.reasoning_blocks = tuple(acc.reasoning_blocks)
        self.finish_reason = acc.finish_reason
        self.usage = acc.current_usage()
        self.model = acc.model
        self.parsed: Any = None  # with --schema: the text parsed, once it passed the check

    @cached_property
    def text(self) -> str:
        return self._acc.text.getvalue()

    def text_pieces(self) -> Iterator[str]:
        """The text in pieces, never put together here (see TextBuffer.pieces)."""
        if "text" in self.__dict__:
            yield self.text
        else:
            yield from self._acc.text.pieces()

    @property
    def has_text(self) -> bool:
        return bool(self._acc.text)

    def reasoning_pieces(self) -> Iterator[str]:
        """The reasoning in pieces, as :meth:`text_pieces`."""
        if "reasoning" in self.__dict__:
            yield self.reasoning or ""
        else:
            yield from self._acc.reasoning.pieces()

    @property
    def has_reasoning(self) -> bool:
        return bool(self._acc.reasoning)

    @property
    def has_words(self) -> bool:
        """Text with more than white space: what an answer cut short needs to be
        kept in a conversation (the APIs refuse an empty assistant message)."""
        return any(piece.strip() for piece in self.text_pieces())

    @cached_property
    def reasoning(self) -> str | None:
        return self._acc.reasoning.getvalue() or None

    @cached_property
    def refusal(self) -> str | None:
        return self._acc.refusal.getvalue() or None


class Accumulator:
    def __init__(self) -> None:
        self.text = TextBuffer()
        self.reasoning = TextBuffer()
        self.refusal = TextBuffer()  # the model's reason for not answering, if any
        self.tool_calls: list[ToolCall] = []
        # Signed reasoning, sent back before the text and calls of this reply
        # when the turn goes on (tool results, a prefill): see ReasoningBlock.
        self.reasoning_blocks: list[ReasoningBlock] = []
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.usage = UsageTotals()  # summed over finished attempts
        self._attempt_usage = UsageTotals()  # latest figures of the current attempt

    def extend(self, events: list[Event]) -> None:
        text = self.text
        for event in events:
            if type(event) is TextDelta:  # nearly every event: the short way
                text.append(event.text)
            else:
                self.add(event)

    def add(self, event: Event) -> None:
        match event:
            case TextDelta():
                self.text.append(event.text)
            case ReasoningDelta():
                self.reasoning.append(event.text)
            case ToolCall():
                self.tool_calls.append(event)
            case ReasoningBlock():
                self.reasoning_blocks.append(event)
            case RefusalDelta():
                self.refusal.append(event.text)
            case Usage():
                # Within one response the latest figure wins (Anthropic repeats and grows them).
                if event.input_tokens is not None:
                    self._attempt_usage.input_tokens = event.input_tokens
                if event.output_tokens is not None:
                    self._attempt_usage.output_tokens = event.output_tokens
            case Finish():
                self.finish_reason = event.reason
            case MessageStart():
                self.model = event.model or self.model

    @property
    def received(self) -> bool:
        """Whether any content arrived (what a continuation must not repeat)."""
        return bool(self.text or self.reasoning or self.tool_calls)

    def refused(self) -> Refused | None:
        """A refusal instead of an answer (exit 12), with the model's reason."""
        if not self.refusal and self.finish_reason != "refusal":
            return None
        reason = self.refusal.getvalue()
        return Refused("the model refused" + (f": {reason}" if reason else ""))

    def end_attempt(self) -> dict[str, Any] | None:
        """Close the current attempt's usage into the totals; return what it added."""
        added = self._attempt_usage
        self.usage.add(added)
        self._attempt_usage = UsageTotals()
        return added.as_dict()

    def current_usage(self) -> dict[str, Any] | None:
        total = UsageTotals(self.usage.input_tokens, self.usage.output_tokens)
        total.add(self._attempt_usage)
        return total.as_dict()

    def reply(self) -> Reply:
        return Reply(self)


class ReadBatch:
    """The content of one network read, as one journal record: ``t`` text, ``r``
    reasoning, ``g`` signed reasoning blocks, ``c`` tool calls, ``f`` the finish
    reason (see storage/journal.py)."""

    __slots__ = ("blocks", "calls", "finish", "pieces", "reasoning", "text")

    def __init__(self) -> None:
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.blocks: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.finish: str | None = None
        self.pieces = 0

    def extend(self, events: list[Event]) -> None:
        for event in events:
            if type(event) is TextDelta:  # nearly every event: the short way
                self.text.append(event.text)
                self.pieces += 1
            else:
                self.add(event)

    def add(self, event: Event) -> None:
        match event:
            case TextDelta():
                self.text.append(event.text)
                self.pieces += 1
            case ReasoningDelta():
                self.reasoning.append(event.text)
                self.pieces += 1
            case ToolCall():
                self.calls.append(event.as_json())
                self.pieces += 1
            case ReasoningBlock():
                self.blocks.append(event.as_json())
            case Finish():
                self.finish = event.reason

    def take(self, secrets: Secrets | None = None) -> dict[str, Any] | None:
        """The record (None when the read brought no content), and a fresh start.
        A signed block holding one of ``secrets`` is not journaled: it could
        only go back unchanged, key and all (a --resume then restarts)."""
        record: dict[str, Any] = {}
        if self.text:
            record["t"] = "".join(self.text)
        if self.reasoning:
            record["r"] = "".join(self.reasoning)
        if self.blocks and (secrets is None or secrets.redact_json(self.blocks) == self.blocks):
            record["g"] = self.blocks
        if self.calls:
            record["c"] = self.calls
        if self.finish:
            record["f"] = self.finish
        self.__init__()  # type: ignore[misc]
        return record or None
