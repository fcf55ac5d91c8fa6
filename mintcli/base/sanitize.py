"""Keeping secrets and foreign control characters out of what mint prints.

* Header values that carry credentials are replaced by ``[redacted]`` wherever
  headers are shown (``-v``, ``--dry-run``, ``mint mock --log``, recordings).
* The API key itself is replaced by ``[redacted]`` in any text mint shows or
  stores that may have come from outside: a server's error message that
  echoes it, an HTTP library message (:class:`Secrets`).
* Control characters from outside (C0 but tab and newline, DEL, C1, ESC,
  and the bidirectional overrides and marks, U+200E, U+200F and U+061C among
  them, that can make text read differently from what it is) are shown as
  visible escapes such as ``\\x1b`` instead of reaching the terminal, where
  they could move the cursor, rewrite the screen, set the window title or
  write the clipboard.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, AnyStr

SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie", "set-cookie"}
)
REDACTED = "[redacted]"

# What may not reach a terminal unescaped. Newline and tab are kept by
# escape_text(); one-line messages escape the newline too.
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_TEXT = re.compile(f"[{_CONTROLS}]")
_LINE = re.compile(f"[{_CONTROLS}\n\t]")
_BYTES = re.compile(
    rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xaa-\xae]"
    rb"|\xe2\x81[\xa6-\xa9]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _visible_bytes(match: re.Match[bytes]) -> bytes:
    return _TEXT.sub(_visible, match.group().decode("utf-8")).encode()


def escape_line(text: str) -> str:
    """Foreign text for a one-line message: every control character visible."""
    return _LINE.sub(_visible, text)


def escape_text(text: str) -> str:
    """Foreign text shown as text (reasoning on stderr): newlines and tabs kept."""
    return _TEXT.sub(_visible, text)


def escape_bytes(data: bytes) -> bytes:
    """Model output for a terminal: the same as escape_text, on UTF-8 bytes."""
    return _BYTES.sub(_visible_bytes, data)


def _json_escape(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode("utf-8"))


def escape_json_bytes(data: bytes) -> bytes:
    """JSON text for a terminal: what escape_bytes escapes, as JSON escapes
    (``\\u009b``), so what is shown is still valid JSON with the same strings.
    Such characters can only be inside strings: JSON between tokens is spaces,
    tabs and newlines, and an escape is one character of a string."""
    return _BYTES.sub(_json_escape, data)


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in items}


def redact_url(url: str) -> str:
    """A URL as mint shows or stores it: a password in its userinfo
    (``https://user:pass@host/``) replaced by ``***``, however short (brackets
    would read as an IPv6 address to a URL parser)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{host}{rest[end:]}"


CUT = "…"  # marks where clip() cut outside text
SECRET_PART = 4  # the shortest start of a secret, left by a cut, that is hidden


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters of text from outside, a cut marked with "…".
    A secret the cut leaves a part of is still hidden (``Secrets.redact``)."""
    return text if len(text) <= limit else text[:limit] + CUT


class Secrets:
    """The secrets of this run (the API key), to be redacted from any text."""

    def __init__(self) -> None:
        self._values: list[str] = []
        self._bytes: list[bytes] = []

    def add(self, value: str | None) -> None:
        # Very short values would redact ordinary words; a real key is long.
        if value and len(value) >= 8 and value not in self._values:
            self._values.append(value)
            self._bytes.append(value.encode("utf-8", "surrogateescape"))

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        if CUT in text and self._values:
            text = self._cut_parts(text)
        return text

    def redact_json(self, value: Any) -> Any:
        """A JSON value with the secrets redacted from every string in it."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.redact_json(v) for k, v in value.items()}
        return value

    def redact_pieces(self, pieces: Iterable[str]) -> Iterator[str]:
        """Text in pieces, redacted as if joined: a secret split between two
        pieces is replaced whole (the start of one is held back a piece)."""
        if not self._values:
            yield from pieces
            return
        held = ""
        for piece in pieces:
            text, held = self.stream_part(held, piece)
            if text:
                yield text
        if held:
            yield held

    def stream_part(self, held: AnyStr, piece: AnyStr) -> tuple[AnyStr, AnyStr]:
        """One piece of a stream (text or bytes) after what was ``held`` back:
        what can go out now, redacted, and what to hold back again, since it may
        be the start of a secret that the next piece completes."""
        joined = held + piece
        done = self.redact(joined) if isinstance(joined, str) else self.redact_bytes(joined)
        keep = self.tail(done)
        return done[: len(done) - keep], done[len(done) - keep :]

    def _cut_parts(self, text: str) -> str:
        """The start of a secret that clip() cut off before its end."""
        for value in self._values:
            for size in range(len(value) - 1, SECRET_PART - 1, -1):
                part = value[:size] + CUT
                if part in text:
                    text = text.replace(part, REDACTED + CUT)
        return text

    def redact_bytes(self, data: bytes) -> bytes:
        for value in self._bytes:
            if value in data:
                data = data.replace(value, REDACTED.encode())
        return data

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(self._values)

    def tail(self, text: AnyStr) -> int:
        """How much of the end of ``text`` could be the start of a secret. A
        writer that gets a stream in pieces holds that much back until the next
        piece: a secret split between two pieces is then redacted whole."""
        values: list[str] | list[bytes] = self._values if isinstance(text, str) else self._bytes
        keep = 0
        for value in values:
            first = value[:1]
            at = text.find(first, max(0, len(text) - len(value) + 1))  # type: ignore[arg-type]
            while at >= 0:
                if value.startswith(text[at:]):  # type: ignore[arg-type]
                    keep = max(keep, len(text) - at)
                    break
                at = text.find(first, at + 1)  # type: ignore[arg-type]
        return keep
