"""The streaming Markdown renderer behind ``--render``.

Design (measured in ``benchmarks/render.py``): a line is shown once, as it
streams, and never redrawn, so nothing already on the screen flickers and no
cursor arithmetic can go wrong with wide glyphs, wrapping or a resize. What a
line is (heading, list item, quote, rule, fence, table row, text) is decided
from its first characters; only those few are held back until they decide
(``-`` could become a list item or a rule). A fence line and a table row are
held until their newline; a table until it ends (``table.py``). The rest of a
line goes through :class:`~mintcli.render.inline.Inline` as it arrives. Every
piece of text is escaped (control characters made visible) before any of
this, so the only escape sequences on the terminal are mint's own styles.
"""

from __future__ import annotations

import re

from mintcli.base.sanitize import escape_text
from mintcli.render.fence import Fence, may_open, opening
from mintcli.render.inline import DIM, RESET, Inline, sgr
from mintcli.render.table import Table

# What a line is while it is being read.
START, INLINE, CODE, HOLD, DONE = range(5)  # DONE: shown whole, nothing at its newline
HEADINGS = {1: "1;35", 2: "1;36"}  # other levels: bold
_RULE = re.compile(r"([-*_])(?:[ \t]*\1)*[ \t]*")
_NUMBER = re.compile(r"\d{1,9}[.)]?")
_QUOTE = re.compile(r"(?:>[ \t]?)+")
# The longest start of a line left undecided (a rule, a list item, a quote?): no
# marker is longer, and a line that stays undecided is looked at again with
# every piece, so past this it is shown as text.
HEAD_MAX = 200


class Renderer:
    def __init__(self, width: int = 80, escape: bool = True) -> None:
        self.rule_width = max(min(width, 80), 3)
        self.escape = escape
        self.mid_line = False  # the last thing shown left the cursor mid-line
        self._mode = START
        self._head = ""  # the start of the line, while what it is is undecided
        self._held: list[str] = []  # a fence line or table row, until its newline
        self._fence: Fence | None = None  # the code block we are in
        self._table: Table | None = None  # the table being read
        self._inline = Inline()

    def feed(self, text: str) -> str:
        """Terminal text for a piece of the reply (possibly nothing yet)."""
        if self.escape:
            text = escape_text(text)
        out: list[str] = []
        start = 0
        while True:
            end = text.find("\n", start)
            if end < 0:
                if start < len(text):
                    self._more(text[start:], out)
                break
            self._more(text[start:end], out)
            self._newline(out)
            start = end + 1
        return self._shown(out)

    def finish(self) -> str:
        """The reply ended (or stopped): the unfinished line and table shown."""
        out: list[str] = []
        if self._mode != START or self._head:
            self._newline(out)
        if self._table is not None:
            out.append(self._table.end())
            self._table = None
        return self._shown(out)

    def _shown(self, out: list[str]) -> str:
        text = "".join(out)
        if text:
            self.mid_line = not text.endswith("\n")
        return text

    # -- one line ------------------------------------------------------------------
    def _more(self, piece: str, out: list[str]) -> None:
        if self._mode == INLINE:
            out.append(self._inline.feed(piece))
        elif self._mode == CODE:
            out.append(piece)
        elif self._mode == HOLD:
            self._held.append(piece)
        else:
            self._head += piece
            self._decide(out, newline=False)

    def _newline(self, out: list[str]) -> None:
        if self._mode == START:
            self._decide(out, newline=True)
        mode, self._mode = self._mode, START
        if mode == INLINE:
            out.append(self._inline.end() + "\n")
        elif mode == CODE:
            out.append("\n")
        elif mode == HOLD:
            line, self._held = "".join(self._held), []
            self._whole_line(line, out)
        self._head = ""

    def _whole_line(self, line: str, out: list[str]) -> None:
        """A held line, now complete: a fence, a table row, or text after all."""
        if line.lstrip(" \t").startswith("|"):
            if self._table is None:
                self._table = Table()
            out.append(self._table.add(line))
            return
        fence = opening(line)
        if fence is not None:
            self._fence = fence
            out.append(sgr(DIM) + "╭─ " + (fence.language or "code") + RESET + "\n")
            return
        self._inline.start("")
        out.append(self._inline.feed(line) + self._inline.end() + "\n")

    def _decide(self, out: list[str], newline: bool) -> None:
        """Whether the start of the line says what the line is; if so, show the
        start and go on in that mode. At a newline it always decides."""
        head = self._head
        fence = self._fence
        waiting = not newline and len(head) <= HEAD_MAX  # may the next piece decide?
        if fence is not None:
            if newline and fence.closes(head):
                self._fence = None
                out.append(sgr(DIM) + "╰─" + RESET + "\n")
                self._mode = DONE
                return
            if newline or not fence.may_close(head):
                self._mode = CODE
                out.append(fence.content(head))
            return
        indent = head[: len(head) - len(head.lstrip(" \t"))]
        body = head[len(indent) :]
        if self._table is not None and not body.startswith("|") and (body or newline):
            out.append(self._table.end())
            self._table = None
        if not body:
            if newline:
                out.append("\n")
                self._mode = DONE
            elif not waiting:
                self._text(out, indent, "", "")
            return
        c = body[0]
        if c == "|" or (body.startswith(("```", "~~~")) and may_open(body)):
            self._mode = HOLD  # a table row or a fence: decided at its newline
            self._held = [head]
            return
        if c in "`~" and may_open(body) and waiting:
            return  # one or two: a fence or a code span, as the next character says
        if c == "#":
            level = len(body) - len(body.lstrip("#"))
            if level == len(body) and level <= 6 and waiting:
                return
            if level <= 6 and body[level : level + 1] in (" ", "\t", ""):
                self._text(out, "", body[level + 1 :], HEADINGS.get(level, "1"))
                return
        elif c in "-*+_":
            rule = _RULE.fullmatch(body)
            if (rule or body == c) and waiting:
                return  # a rule, a list item or emphasis: the next character says
            if rule and newline and sum(ch == c for ch in body) >= 3:
                out.append(sgr(DIM) + "─" * self.rule_width + RESET + "\n")
                self._mode = DONE
                return
            if c != "_" and body[1:2] in (" ", "\t"):
                self._text(out, indent + sgr("1") + "•" + RESET + " ", body[2:], "")
                return
        elif c.isdigit():
            number = _NUMBER.match(body)
            assert number is not None
            if number.end() == len(body) and waiting:
                return
            if body[number.end() - 1] in ".)" and body[number.end() : number.end() + 1] == " ":
                marker = sgr("1") + body[: number.end()] + RESET + " "
                self._text(out, indent + marker, body[number.end() + 1 :], "")
                return
        elif c == ">":
            quote = _QUOTE.match(body[:HEAD_MAX])  # as many levels as pieces would show
            assert quote is not None
            if quote.end() == len(body) and waiting:
                return
            bars = sgr(DIM) + "│ " * quote[0].count(">") + RESET
            self._text(out, indent + bars, body[quote.end() :], "")
            return
        self._text(out, indent, body, "")

    def _text(self, out: list[str], prefix: str, rest: str, base: str) -> None:
        """The line's kind is known: its marker shown, its text from now on inline."""
        self._mode = INLINE
        self._inline.start(base)
        out.append(prefix + (sgr(base) if base else "") + self._inline.feed(rest))
