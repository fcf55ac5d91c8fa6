"""Inline Markdown as it streams: emphasis, strong, strike, code spans, links.

:class:`Inline` is fed the pieces of one line and returns terminal text at
once, except for a few characters whose meaning depends on what follows (a
run of ``*``, ``_``, ``~`` or backticks at the end of a piece, a backslash, a
link until its ``)``, at most :data:`LINK_MAX` characters). Each character is
looked at about once, so a piece costs the same however long the reply.
Emphasis follows CommonMark's flanking rules in a simplified form; a style
left open ends with its line, so one stray ``**`` cannot bleed into the rest
of the reply.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"[*_`~\[\\]")
PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
LINK_MAX = 300  # a '[' with no link after this many characters is a plain '['
RESET = "\x1b[0m"

# SGR codes of the inline styles.
BOLD, ITALIC, STRIKE, CODE, LINK, DIM = "1", "3", "9", "36", "4;34", "2"


def sgr(*codes: str) -> str:
    return "\x1b[0;" + ";".join(c for c in codes if c) + "m" if any(codes) else RESET


class Inline:
    def __init__(self) -> None:
        self.start("")

    def start(self, base: str) -> None:
        """A new line whose text has the style ``base`` (a heading's, or none)."""
        self.base = base
        self.bold: str | None = None  # the delimiter character that opened it
        self.italic: str | None = None
        self.strike = False
        self.code = 0  # the length of the backtick run that opened a code span
        self.pending = ""  # held back until the next piece says what it is
        self.prev = " "  # the last character shown, for the flanking rules
        self.plain_run = ""  # a run of * _ ~ too long to style, shown as it grows

    @property
    def styled(self) -> bool:
        return bool(self.base or self.bold or self.italic or self.strike or self.code)

    def _style(self) -> str:
        if self.code:
            return sgr(self.base, CODE)
        return sgr(
            self.base,
            BOLD if self.bold else "",
            ITALIC if self.italic else "",
            STRIKE if self.strike else "",
        )

    def feed(self, text: str) -> str:
        out: list[str] = []
        self._run(self.pending + text, out, final=False)
        return "".join(out)

    def end(self) -> str:
        """The line ends: what was held, shown, and the styles reset."""
        out: list[str] = []
        pending, self.pending = self.pending, ""
        self._run(pending, out, final=True)
        if self.styled:
            out.append(RESET)
        return "".join(out)

    def _run(self, s: str, out: list[str], final: bool) -> None:
        self.pending = ""
        i, n = 0, len(s)
        if self.plain_run:
            if s.startswith(self.plain_run):  # the run goes on: as it is, too
                i = _run_end(s, 0)
                out.append(s[:i])
            self.plain_run = ""
        while i < n:
            if self.code:
                j = s.find("`", i)
                if j < 0:
                    out.append(s[i:])
                    self.prev = s[-1]
                    return
                if j > i:
                    out.append(s[i:j])
                k = _run_end(s, j)
                if k == n and not final:
                    self.pending = s[j:]
                    return
                if k - j == self.code:
                    self.code = 0
                    out.append(self._style())
                else:
                    out.append(s[j:k])
                self.prev, i = "`", k
                continue
            m = _SPECIAL.search(s, i)
            if m is None:
                out.append(s[i:])
                self.prev = s[-1]
                return
            j = m.start()
            if j > i:
                out.append(s[i:j])
                self.prev = s[j - 1]
            c = s[j]
            if c == "\\":
                if j + 1 == n and not final:
                    self.pending = s[j:]
                    return
                nxt = s[j + 1] if j + 1 < n else ""
                shown = nxt if nxt and nxt in PUNCT else "\\"
                out.append(shown)
                self.prev, i = shown, j + (2 if shown != "\\" else 1)
                continue
            if c == "[":
                i = self._link(s, j, out, final)
                if i < 0:
                    return
                continue
            k = _run_end(s, j)
            if k == n and not final:
                if c in "*_~" and k - j > 3:
                    # No style takes more than three: shown now, not held and
                    # scanned again with every piece (a long run cost its square).
                    out.append(s[j:k])
                    self.prev, self.plain_run = c, c
                    return
                self.pending = s[j:]
                return
            nxt = s[k] if k < n else " "
            self._delimiter(c, k - j, nxt, out)
            i = k

    def _delimiter(self, c: str, run: int, nxt: str, out: list[str]) -> None:
        prev = self.prev
        prev_ws, next_ws = prev.isspace(), nxt.isspace()
        prev_p, next_p = prev in PUNCT, nxt in PUNCT
        left = not next_ws and (not next_p or prev_ws or prev_p)
        right = not prev_ws and (not prev_p or next_ws or next_p)
        if c == "_":  # snake_case stays as it is
            can_open, can_close = left and (not right or prev_p), right and (not left or next_p)
        else:
            can_open, can_close = left, right
        acted = False
        if c == "`":
            self.code, acted = run, True
        elif c == "~":
            if run == 2 and (can_close if self.strike else can_open):
                self.strike, acted = not self.strike, True
        elif run <= 3:
            for name in _STYLES[run]:
                current = getattr(self, name)
                if current == c and can_close:
                    setattr(self, name, None)
                    acted = True
                elif current is None and can_open:
                    setattr(self, name, c)
                    acted = True
        out.append(self._style() if acted else c * run)
        self.prev = c

    def _link(self, s: str, j: int, out: list[str], final: bool) -> int:
        """``[text](url)`` starting at ``j``: shown as underlined text and the
        URL; the index after it, or -1 when the rest is held."""
        n = len(s)
        close = s.find("]", j + 1)
        paren = s.find(")", close + 2) if close >= 0 and close + 1 < n else -1
        if close >= 0 and close + 1 < n and s[close + 1] == "(" and paren >= 0:
            text, url = s[j + 1 : close], s[close + 2 : paren].strip()
            if " " in url:  # [text](url "title")
                url = url.split()[0]
            after = self._style()
            out.append(sgr(LINK) + (text or url) + after)
            if url and url != text:
                out.append(sgr(DIM) + f" ({url})" + after)
            self.prev = ")"
            return paren + 1
        broken = close >= 0 and close + 1 < n and s[close + 1] != "("
        if final or broken or n - j > LINK_MAX:
            out.append("[")
            self.prev = "["
            return j + 1
        self.pending = s[j:]
        return -1


_STYLES = {1: ("italic",), 2: ("bold",), 3: ("bold", "italic")}


def _run_end(s: str, j: int) -> int:
    c, k = s[j], j + 1
    while k < len(s) and s[k] == c:
        k += 1
    return k
