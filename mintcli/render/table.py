"""Markdown tables (``| a | b |`` rows and a ``|---|:--:|`` delimiter row),
laid out with aligned columns once the table has ended.

A table is held until its last row so that the columns can be as wide as
their widest cell; past :data:`MAX_ROWS` rows the widths are fixed and each
further row is shown when it arrives. Widths count East Asian wide characters
as two columns and combining marks as none.
"""

from __future__ import annotations

import re
import unicodedata

from mintcli.render.inline import DIM, Inline, sgr

MAX_ROWS = 200
_DELIMITER = re.compile(r"[ \t]*:?-+:?[ \t]*")
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def display_width(text: str) -> int:
    width = 0
    for ch in _SGR.sub("", text):
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
    return width


def split_row(line: str) -> list[str]:
    """The cells of a row, its outer pipes dropped (``\\|`` is a pipe in a cell)."""
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", body)]


class Table:
    def __init__(self) -> None:
        self.lines: list[str] = []  # the rows as they came, until the table is laid out
        self.widths: list[int] | None = None  # fixed once a long table has been shown
        self.aligns: list[str] = []

    def add(self, line: str) -> str:
        """One more row; what to show now (nothing until the table ends, unless long)."""
        if self.widths is not None:
            return self._row(split_row(line))
        self.lines.append(line)
        return self.end(more=True) if len(self.lines) > MAX_ROWS else ""

    def end(self, more: bool = False) -> str:
        """The table is over (or too long to hold): its rows laid out."""
        if self.widths is not None:
            return "" if more else self._rule("└", "┴", "┘")
        rows = [split_row(line) for line in self.lines]
        if len(rows) < 2 or not all(_DELIMITER.fullmatch(c) for c in rows[1]):
            # not a table after all: the lines as text
            shown, self.lines = "".join(_cell(line) + "\n" for line in self.lines), []
            return shown
        self.aligns = [_align(c) for c in rows[1]]
        cells = [rows[0], *rows[2:]]
        count = max(len(r) for r in cells)
        self.aligns += ["l"] * (count - len(self.aligns))
        self.widths = [
            max((display_width(_cell(r[i])) for r in cells if i < len(r)), default=0)
            for i in range(count)
        ]
        out = [self._rule("┌", "┬", "┐"), self._row(rows[0], header=True)]
        out.append(self._rule("├", "┼", "┤"))
        out += [self._row(r) for r in rows[2:]]
        self.lines = []
        if not more:
            out.append(self._rule("└", "┴", "┘"))
        return "".join(out)

    def _rule(self, left: str, mid: str, right: str) -> str:
        assert self.widths is not None
        line = left + mid.join("─" * (w + 2) for w in self.widths) + right
        return sgr(DIM) + line + sgr() + "\n"

    def _row(self, cells: list[str], header: bool = False) -> str:
        assert self.widths is not None
        bar = sgr(DIM) + "│" + sgr()
        shown = []
        for i, width in enumerate(self.widths):
            text = _cell(cells[i] if i < len(cells) else "", "1" if header else "")
            pad = max(width - display_width(text), 0)
            align = self.aligns[i] if i < len(self.aligns) else "l"
            left = pad // 2 if align == "c" else pad if align == "r" else 0
            shown.append(" " * (left + 1) + text + " " * (pad - left + 1))
        extra = cells[len(self.widths) :]  # a row longer than the header: kept, unaligned
        return bar + bar.join(shown) + bar + "".join(f" {c}" for c in extra) + "\n"


def _cell(text: str, base: str = "") -> str:
    inline = Inline()
    inline.start(base)
    return (sgr(base) if base else "") + inline.feed(text) + inline.end()


def _align(delimiter: str) -> str:
    d = delimiter.strip()
    if d.startswith(":") and d.endswith(":"):
        return "c"
    return "r" if d.endswith(":") else "l"
