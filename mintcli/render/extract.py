"""``-x/--extract``: the first fenced code block of a reply, streamed as it
arrives; ``--extract-last``: the last one, printed when the reply ends.

:class:`Extractor` is fed the reply's text in pieces and returns what may be
printed now. Outside a block it keeps only the current line, and only while
that line may still be an opening fence. Inside the block it holds back the
start of a line only while it may still be the closing fence; the rest of the
line streams through at once. A block the reply never closes ends with the
reply.
"""

from __future__ import annotations

from mintcli.errors import NoCodeBlock
from mintcli.output.accumulate import Reply
from mintcli.render.fence import Fence, may_open, opening


class Extractor:
    def __init__(self, last: bool = False) -> None:
        self.last = last
        self.found = False  # a block was opened
        self._fence: Fence | None = None  # the block we are in
        self._line = ""  # the current line's start, held back while undecided
        self._held = True  # whether the current line is still being held
        self._block: list[str] = []  # --extract-last: the block being read
        self._kept: list[str] | None = None  # --extract-last: the last finished block
        self._done = False  # --extract: the first block has ended

    def feed(self, text: str) -> str:
        """What of ``text`` (and of what was held) may be printed now."""
        if self._done:
            return ""
        out: list[str] = []
        start = 0
        while start < len(text) and not self._done:
            end = text.find("\n", start)
            if end < 0:
                self._partial(text[start:], out)
                break
            self._partial(text[start:end], out)
            self._end_line(out)
            start = end + 1
        return "".join(out)

    def _partial(self, piece: str, out: list[str]) -> None:
        """More of the current line (no newline in it)."""
        if not self._held:
            if self._fence is not None:
                self._emit(piece, out)
            return
        self._line += piece
        fence = self._fence
        if fence is None:
            if not may_open(self._line):
                self._held, self._line = False, ""  # prose: nothing of it is kept
        elif not fence.may_close(self._line):
            self._held = False
            self._emit(fence.content(self._line), out)
            self._line = ""

    def _end_line(self, out: list[str]) -> None:
        line, held = self._line, self._held
        self._line, self._held = "", True
        fence = self._fence
        if fence is None:
            if held and (new := opening(line)) is not None:
                self._fence, self.found = new, True
                self._block = []
            return
        if held and fence.closes(line):
            self._close()
            return
        if held:
            self._emit(fence.content(line), out)
        self._emit("\n", out)

    def _close(self) -> None:
        self._fence = None
        if self.last:
            self._kept, self._block = self._block, []
        else:
            self._done = True

    def _emit(self, text: str, out: list[str]) -> None:
        if self.last:
            self._block.append(text)
        else:
            out.append(text)

    def finish(self) -> str:
        """The end of the reply: what is still owed (all of it with --extract-last)."""
        out: list[str] = []
        if self._fence is not None and not self._done:
            if self._held and self._line and not self._fence.closes(self._line):
                self._emit(self._fence.content(self._line), out)
            self._close()  # a block the reply never closed ends with it
        self._line = ""
        if self.last and self._kept is not None:
            out.append("".join(self._kept))
            self._kept = None
        return "".join(out)


def extract(text: str, last: bool = False) -> str | None:
    """The first (or last) fenced code block of a whole text; None when it has none."""
    extractor = Extractor(last)
    got = extractor.feed(text) + extractor.finish()
    return got if extractor.found else None


def require_block(reply: Reply, last: bool) -> None:
    """-x: exit 14, after the reply has been shown and saved, when it held no block."""
    if reply.has_text and extract(reply.text, last) is not None:
        return
    raise NoCodeBlock("the reply has no fenced code block (```) to extract")
