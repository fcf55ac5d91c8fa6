"""How a setting's value is read and checked, whatever its source.

A flag and a ``MINT_*`` variable give text (:meth:`Kind.from_text`); the config
file gives a TOML value (:meth:`Kind.from_toml`). Both go through the same
checks, and a bad value raises ``ValueError`` with the reason; ``config.py``
adds where the value came from and picks the exit code (2 for a flag, 3 for the
environment or the config file).
"""

from __future__ import annotations

import math
import re
from typing import Any

# A tool's name as both APIs take it (a function name, a tool_use name); the
# config's [tools.NAME], --tool-cmd, tool definitions and MCP names are held to it.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def not_utf8(text: str) -> bool:
    """Python decodes argv and the environment with surrogateescape: bytes that
    are not UTF-8 come out as lone surrogates."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


class Kind:
    """Free text."""

    takes_value = True
    secret = False  # never quoted in messages; a bad value is a configuration error

    def from_text(self, raw: str) -> Any:
        return raw

    def from_toml(self, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise ValueError(f"must be a string, not {_toml_type(raw)}")
        return self.from_text(raw)

    def show(self, value: Any) -> str:
        """A value as ``--help`` shows it after ``default:``."""
        return str(value)


class Name(Kind):
    """Text that names something (a model): never empty."""

    def from_text(self, raw: str) -> str:
        if not raw.strip():
            raise ValueError("must not be empty")
        return raw


def _toml_type(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), f"a {type(value).__name__}"
    )


# Beyond these a value only overflows something (a JSON encoder, a timer, the
# clock) and means nothing: no count needs more than 2^31, no wait a billion seconds.
MAX_INTEGER = 2**31 - 1
MAX_NUMBER = 1e9


class Integer(Kind):
    def __init__(self, minimum: int, maximum: int | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def _check(self, value: int) -> int:
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            if self.maximum is None:
                raise ValueError(f"must be an integer of at least {self.minimum}")
            raise ValueError(f"must be an integer from {self.minimum} to {self.maximum}")
        if value > MAX_INTEGER:
            raise ValueError(f"must be an integer from {self.minimum} to {MAX_INTEGER}")
        return value

    def from_text(self, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("must be an integer") from None
        return self._check(value)

    def from_toml(self, raw: Any) -> int:
        if type(raw) is not int:
            raise ValueError(f"must be an integer, not {_toml_type(raw)}")
        return self._check(raw)


class Number(Kind):
    """A finite number, at least ``minimum`` (above it when ``exclusive``)."""

    def __init__(self, minimum: float, exclusive: bool = False) -> None:
        self.minimum = minimum
        self.exclusive = exclusive

    def _check(self, value: float) -> float:
        low = value <= self.minimum if self.exclusive else value < self.minimum
        if not math.isfinite(value) or low:
            word = "above" if self.exclusive else "at least"
            raise ValueError(f"must be a finite number {word} {self.minimum:g}")
        if value > MAX_NUMBER:
            raise ValueError(f"must be a number of at most {MAX_NUMBER:g}")
        return value

    def from_text(self, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("must be a number") from None
        return self._check(value)

    def from_toml(self, raw: Any) -> float:
        if type(raw) not in (int, float):
            raise ValueError(f"must be a number, not {_toml_type(raw)}")
        return self._check(float(raw))

    def show(self, value: Any) -> str:
        return f"{value:g}"


class Boolean(Kind):
    def from_text(self, raw: str) -> bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError("must be true or false (1/0, yes/no, on/off)")

    def from_toml(self, raw: Any) -> bool:
        if type(raw) is not bool:
            raise ValueError(f"must be true or false, not {_toml_type(raw)}")
        return raw

    def show(self, value: Any) -> str:
        return "on" if value else "off"


class Flag(Boolean):
    """A switch given on the command line (or, for a few, as ``MINT_X=1``)."""

    takes_value = False


class Choice(Kind):
    def __init__(self, choices: tuple[str, ...]) -> None:
        self.choices = choices

    def from_text(self, raw: str) -> str:
        if raw not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}")
        return raw


class Many(Kind):
    """A repeatable flag; each value is text."""


class Commands(Many):
    """A repeatable flag whose config value is a list of strings (commands)."""

    def from_toml(self, raw: Any) -> tuple[str, ...]:
        if isinstance(raw, str):
            return (raw,)
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise ValueError("must be a string or a list of strings")
        return tuple(raw)


class Words(Kind):
    """A list of names: a TOML array of strings, or comma-separated text."""

    def from_text(self, raw: str) -> tuple[str, ...]:
        return tuple(v for v in (p.strip() for p in raw.split(",")) if v)

    def from_toml(self, raw: Any) -> tuple[str, ...]:
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise ValueError("must be a list of strings")
        return tuple(raw)


class Url(Kind):
    """The gateway's base URL: http or https, a host, no control characters.
    A query string is kept apart so that paths can be appended before it."""

    def from_text(self, raw: str) -> str:
        from urllib.parse import urlsplit

        text = raw.strip()
        if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
            raise ValueError("contains control characters")
        if " " in text:
            raise ValueError("contains a space (not a URL)")
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise ValueError(f"is not a valid URL ({exc})") from None
        if parts.scheme.lower() not in ("http", "https"):
            if not parts.scheme or not parts.netloc:
                raise ValueError("is not a URL (expected http://HOST/... or https://HOST/...)")
            raise ValueError(f"uses {parts.scheme}://, but mint speaks only http and https")
        if not parts.hostname:
            raise ValueError("has no host")
        if parts.fragment:
            raise ValueError("has a #fragment, which a base URL cannot use")
        return text


class Shard(Kind):
    """``K/N``: the K-th of N shares of a batch (0 <= K < N)."""

    def from_text(self, raw: str) -> tuple[int, int]:
        k, sep, n = raw.strip().partition("/")
        try:
            shard = (int(k), int(n))
        except ValueError:
            shard = None
        if not sep or shard is None:
            raise ValueError("must be K/N, e.g. 0/4")
        if not 0 <= shard[0] < shard[1]:
            raise ValueError("must be K/N with 0 <= K < N")
        return shard

    def show(self, value: Any) -> str:
        return f"{value[0]}/{value[1]}"


class Key(Kind):
    """An API key goes into an HTTP header: printable ASCII only. The message
    never quotes the key, only what is wrong with it."""

    secret = True

    def from_text(self, raw: str) -> str:
        for i, ch in enumerate(raw):
            code = ord(ch)
            if code < 0x20 or code == 0x7F:
                what = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)", "\0": "a NUL"}
                raise ValueError(
                    f"contains {what.get(ch, f'a control character (0x{code:02x})')} at "
                    f"position {i + 1} (a key file saved with a line end?)"
                )
            if code > 0x7E:
                raise ValueError(f"contains a non-ASCII character at position {i + 1}")
        if not raw.strip():
            raise ValueError("is empty")
        if raw != raw.strip():
            raise ValueError("starts or ends with spaces")
        return raw

    def show(self, value: Any) -> str:
        return "[redacted]"


class When(Kind):
    """A moment for ``mint log search|stats --since/--until``: a date or a local
    time (``2026-12-01``, ``2026-12-01T09:30``, ``2026-12-01 09:30:15``) or an
    age (``90m``, ``24h``, ``7d``, ``2w``). The text is kept as given;
    :func:`instant` turns it into a Unix time when the command runs."""

    def from_text(self, raw: str) -> str:
        instant(raw, end_of_day=False)  # raises ValueError saying what is expected
        return raw


_AGE = re.compile(r"(\d+)([mhdw])")
_AGE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MOMENTS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)


def instant(value: str, *, end_of_day: bool) -> float:
    """The Unix time of a :class:`When` value (``end_of_day``: a date alone means
    the start of the next day, for ``--until``)."""
    import time
    from datetime import datetime, timedelta  # only when a log command reads the value

    text = value.strip()
    if age := _AGE.fullmatch(text):
        if len(age.group(1)) > 15:  # past any clock: float() of the product would overflow
            raise ValueError("is too long an age")
        return time.time() - int(age.group(1)) * _AGE_UNITS[age.group(2)]
    for fmt in _MOMENTS:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        try:
            stamp = moment.timestamp()
        except (OverflowError, ValueError, OSError):  # year 1 is year 0 in some time zones
            raise ValueError("is outside the dates this system can convert") from None
        if end_of_day and fmt == _MOMENTS[0]:
            try:
                stamp = (moment + timedelta(days=1)).timestamp()
            except (OverflowError, ValueError, OSError):  # 9999-12-31 has no next day
                stamp += 86400
        return stamp
    raise ValueError("must be a date (2026-12-01), a local time (2026-12-01T09:30) or an age (7d)")


TEXT = Kind()
NAME = Name()
SECONDS = Number(0.0, exclusive=True)
BOOLEAN = Boolean()
FLAG = Flag()
MANY = Many()
COMMANDS = Commands()
WORDS = Words()
URL = Url()
KEY = Key()
SHARD = Shard()
