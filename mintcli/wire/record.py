"""``mint chat --record FILE`` and ``mint mock --replay FILE``.

A recording is JSON Lines: a header, then for each attempt (each HTTP request
mint made, retries included) the request, the response status and headers,
every body chunk as it arrived with its time, and how the body ended::

    {"mint_recording": 1, "mint": "0.2.0", "created": 1764201600.0}
    {"attempt": 1, "request": {"method": "POST", "url": "...", "headers": {...}, "body": {...}}}
    {"attempt": 1, "t": 0.051, "status": 200, "headers": [["content-type", "text/event-stream"]]}
    {"attempt": 1, "t": 0.052, "data": "data: {...}\\n\\n"}          (or "b64": ... for bytes
    {"attempt": 1, "t": 0.913, "end": "complete"}                  that are not UTF-8)
    {"attempt": 2, ...}

The runs of one process (the turns of a session) go into one recording: the
first empties the file, the next ones append, each with its own header line
and attempt numbers from 1; ``--replay`` serves them all, in that order.

``end`` is "complete" when the body was read to its end and "broken" when the
connection broke or mint stopped reading; ``error`` says what mint made of the
attempt (an HTTP error, a malformed or cut stream).

``t`` is seconds since the request was sent. Header values that carry
credentials are ``[redacted]``, and the API key is replaced wherever it appears.
The file is private (0600). ``mint mock --replay`` serves the attempts back in
order, byte for byte and chunk for chunk (with ``--pace``, at the recorded
times), starting over after the last.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from mintcli import __version__
from mintcli.base.capped import MiB, read_named
from mintcli.base.sanitize import Secrets, redact_headers, redact_url
from mintcli.errors import ConfigError, UsageError, write_failed
from mintcli.storage.paths import lock_or_refuse

VERSION = 1
# A recording mint mock --replay serves, held in memory: a 1,000,000-piece
# reply records in about 100 MiB.
REPLAY_BYTES = 256 * MiB
# The files (device, inode) this process has begun a recording in: the next
# run (a session's next turn) appends to what the first one recorded.
_BEGUN: set[tuple[int, int]] = set()


class Recorder:
    """Writes what each attempt sent and received, as it happens."""

    def __init__(self, path: Path, secrets: Secrets) -> None:
        self.path = path
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise UsageError(f"--record {path}: {exc.strerror}") from None
        # One writer per recording: emptied only once it is ours, so a second
        # mint recording into the same file neither cuts nor interleaves it.
        lock_or_refuse(fd, f"--record {path} is being written by another mint process")
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._broken = False
        self._secrets = secrets
        self._attempt = 0
        self._start = 0.0
        try:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode):
                if (info.st_dev, info.st_ino) in _BEGUN:
                    os.lseek(fd, 0, os.SEEK_END)
                else:
                    os.ftruncate(fd, 0)
                    _BEGUN.add((info.st_dev, info.st_ino))
        except OSError as exc:
            self.close()
            raise write_failed(f"--record {path}", exc) from None
        # The end of the last chunk that could begin the key, held back so a key
        # split between two network reads is still redacted whole.
        self._held = b""
        self._line({"mint_recording": VERSION, "mint": __version__, "created": time.time()})

    def _line(self, record: dict[str, Any]) -> None:
        if self._broken:
            return  # the first failure stopped the run: its last lines are dropped
        try:
            self._file.write(orjson.dumps(record) + b"\n")
            self._file.flush()
        except OSError as exc:
            self._broken = True
            raise write_failed(f"--record {self.path}", exc) from None

    def _text(self, text: str) -> str:
        return self._secrets.redact(text)

    def attempt(
        self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> None:
        self._attempt += 1
        self._start = time.monotonic()
        try:
            shown: Any = orjson.loads(self._text(body.decode("utf-8")))
        except (UnicodeDecodeError, orjson.JSONDecodeError):
            shown = None
        request = {
            "method": method,
            "url": self._text(redact_url(url)),
            "headers": redact_headers(headers),
            "body": shown,
        }
        self._line({"attempt": self._attempt, "request": request})

    def _at(self) -> dict[str, Any]:
        return {"attempt": self._attempt, "t": round(time.monotonic() - self._start, 6)}

    def response(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        # The chunks are recorded as mint read them, inflated: a replay must not
        # announce a compression they no longer have.
        pairs = [
            [k, self._text(v)]
            for k, v in redact_headers(headers).items()
            if k.lower() != "content-encoding"
        ]
        self._line({**self._at(), "status": status, "headers": pairs})

    def chunk(self, data: bytes) -> None:
        # Redacted as bytes, before any decoding: a chunk cut inside a UTF-8
        # character is stored as base64, which must not carry the key either.
        data, self._held = self._secrets.stream_part(self._held, data)
        if data:
            self._data(data)

    def _data(self, data: bytes) -> None:
        try:
            body: dict[str, str] = {"data": data.decode("utf-8")}
        except UnicodeDecodeError:
            body = {"b64": base64.b64encode(data).decode()}
        self._line({**self._at(), **body})

    def end(self, complete: bool, error: str | None) -> None:
        """The body was read to its end (``complete``), or the connection broke
        or mint stopped reading; ``error`` is what mint made of the attempt."""
        if self._held:  # it did not begin the key after all
            held, self._held = self._held, b""
            self._data(held)
        record: dict[str, Any] = {**self._at(), "end": "complete" if complete else "broken"}
        if error is not None:
            record["error"] = self._text(error)
        self._line(record)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # a failed flush was reported when it happened
            self._file.close()


@dataclass
class Recorded:
    """One recorded response, as the mock serves it back."""

    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    complete: bool = True
    end: float = 0.0


def load(path: Path) -> list[Recorded]:
    """The responses of a recording, in order (a recording is served again and
    again, so it is held in memory: at most REPLAY_BYTES of it)."""
    data = read_named(str(path), f"--replay {path}", cap=REPLAY_BYTES, error=ConfigError)
    lines = data.splitlines()
    responses: dict[tuple[int, int], Recorded] = {}
    run = 0  # a header line starts a run (a session records one per turn)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = orjson.loads(line)
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
            if number == 1 or "mint_recording" in rec:
                if rec.get("mint_recording") != VERSION:
                    raise ValueError("not a mint recording (no header line)")
                run += 1
                continue
            attempt = rec.get("attempt")
            if type(attempt) is not int or not 1 <= attempt <= 2**31 - 1:
                raise ValueError("attempt must be a whole number of at least 1")
            _apply(responses.setdefault((run, attempt), Recorded()), rec)
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"--replay {path}: line {number}: {exc}") from None
    served = [r for _, r in sorted(responses.items()) if r.status]
    if not served:
        raise ConfigError(f"--replay {path}: no recorded response")
    return served


# What a line of a recording may hold, checked when it is loaded so that a bad
# file is one error naming its line, not a failure on every request served.
# A time is at most a day after its request (--pace waits for it).
MAX_T = 86400.0
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP field name (RFC 9110)


def _t(rec: dict[str, Any]) -> float:
    t: Any = rec.get("t")
    if type(t) not in (int, float) or not 0 <= t <= MAX_T:  # NaN fails too
        raise ValueError(f"t must be a number of seconds from 0 to {MAX_T:g}")
    return float(t)


def _headers(raw: Any) -> list[tuple[str, str]]:
    if not isinstance(raw, list):
        raise ValueError("headers must be a list of [name, value] pairs")
    pairs = []
    for pair in raw:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            raise ValueError("headers must be a list of [name, value] pairs of strings")
        name, value = pair
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"header name {name!r} is not an HTTP field name")
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"header {name}: a value cannot hold CR, LF or NUL")
        pairs.append((name, value))
    return pairs


def _apply(response: Recorded, rec: dict[str, Any]) -> None:
    if "status" in rec:
        if type(rec["status"]) is not int or not 200 <= rec["status"] <= 599:
            raise ValueError("status must be a whole number from 200 to 599")
        response.status = rec["status"]
        response.headers = _headers(rec.get("headers"))
    elif "data" in rec:
        if not isinstance(rec["data"], str):
            raise ValueError("data must be a string")
        response.chunks.append((_t(rec), rec["data"].encode("utf-8")))
    elif "b64" in rec:
        if not isinstance(rec["b64"], str):
            raise ValueError("b64 must be a string")
        response.chunks.append((_t(rec), base64.b64decode(rec["b64"], validate=True)))
    elif "end" in rec:
        if rec["end"] not in ("complete", "broken"):
            raise ValueError('end must be "complete" or "broken"')
        response.complete = rec["end"] == "complete"
        response.end = _t(rec)
