"""Fenced code blocks: the lines that open and close one.

A fence is three or more backticks or tildes, after any indentation (more
lenient than CommonMark's three spaces: models indent fences inside list
items). An opening backtick fence's info string (the language) may not hold a
backtick; a closing fence is the same character, at least as long, and
nothing but blanks after it.
"""

from __future__ import annotations

import re

_OPEN = re.compile(r"([ \t]*)(`{3,}|~{3,})([^\n]*)")
_CLOSE = re.compile(r"[ \t]*(`{3,}|~{3,})[ \t]*\r?")


class Fence:
    """An opening fence (a plain class: a dataclass costs milliseconds at import)."""

    __slots__ = ("char", "indent", "info", "length")

    def __init__(self, char: str, length: int, indent: int, info: str) -> None:
        self.char = char  # "`" or "~"
        self.length = length
        self.indent = indent  # leading blanks of the opening line, removed from content lines
        self.info = info  # the info string: the language first

    @property
    def language(self) -> str:
        return self.info.split()[0] if self.info.split() else ""

    def closes(self, line: str) -> bool:
        """Whether ``line`` (without its newline) closes this fence."""
        match = _CLOSE.fullmatch(line)
        return match is not None and match[1][0] == self.char and len(match[1]) >= self.length

    def may_close(self, start: str) -> bool:
        """Whether a line starting with ``start`` may still turn out to close this
        fence (so it must be held back until more of it arrives)."""
        body = start.lstrip(" \t")
        run = len(body) - len(body.lstrip(self.char))
        return not body[run:].strip(" \t\r")

    def content(self, line: str) -> str:
        """A content line with the opening fence's indentation removed."""
        cut = 0
        while cut < self.indent and cut < len(line) and line[cut] in " \t":
            cut += 1
        return line[cut:]


def opening(line: str) -> Fence | None:
    """The fence ``line`` (without its newline) opens, if it opens one."""
    match = _OPEN.fullmatch(line)
    if match is None:
        return None
    marks, info = match[2], match[3].strip()
    if marks[0] == "`" and "`" in info:
        return None  # an inline code span at the start of a line, not a fence
    return Fence(marks[0], len(marks), len(match[1]), info)


def may_open(start: str) -> bool:
    """Whether a line starting with ``start`` may still turn out to open a fence."""
    head = start.lstrip(" \t")[:3]
    return "```".startswith(head) or "~~~".startswith(head)
