"""Incremental Server-Sent Events framing, on bytes.

``SSEDecoder.feed(chunk)`` takes whatever a network read returned and gives back
the events completed by it; ``flush()`` is called at end of stream. It follows
the WHATWG event-stream rules: LF, CRLF and lone CR line ends (also split across
reads), comment lines, ``event``/``data``/``id``/``retry`` fields, a single
optional space after the colon, multi-line data joined with LF, a leading BOM,
and an unterminated last event being dropped at end of stream.

Data stays as bytes: orjson parses bytes directly and ``--format raw`` writes
them out untouched, so text is never decoded twice.
"""

from __future__ import annotations

_BOM = b"\xef\xbb\xbf"


class SSEEvent:
    """One dispatched event. ``id`` is the last-event-ID in force when it fired."""

    __slots__ = ("data", "event", "id")

    def __init__(self, event: str, data: bytes, id: str | None) -> None:
        self.event = event
        self.data = data
        self.id = id

    def __repr__(self) -> str:
        return f"SSEEvent(event={self.event!r}, data={self.data!r}, id={self.id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SSEEvent) and (self.event, self.data, self.id) == (
            other.event,
            other.data,
            other.id,
        )

    __hash__ = None  # type: ignore[assignment]


class SSEDecoder:
    def __init__(self) -> None:
        self._pending = b""  # an incomplete last line (or a lone trailing CR)
        self._data: list[bytes] = []
        self._event = ""
        self._has_data = False
        self._started = False
        self.last_event_id: str | None = None
        self.retry_ms: int | None = None
        # Event names repeat endlessly; decode each distinct one only once.
        self._names: dict[bytes, str] = {}

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._pending + chunk if self._pending else chunk
        if not self._started:
            if len(buf) < 3 and _BOM.startswith(buf):
                self._pending = buf
                return []
            self._started = True
            if buf.startswith(_BOM):
                buf = buf[3:]
        if b"\r" in buf:
            # A CR at the very end may be the first half of a CRLF split across reads.
            hold = buf.endswith(b"\r")
            if hold:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buf.split(b"\n")
            self._pending = lines.pop()
            if hold:
                # The held CR ends the (possibly empty) pending line on the next read.
                self._pending += b"\r"
        else:
            lines = buf.split(b"\n")
            self._pending = lines.pop()
        return self._lines(lines) if lines else []

    def flush(self) -> list[SSEEvent]:
        """End of stream. A pending lone CR still ends its line; whatever event has
        not been closed by a blank line is discarded, as the spec requires."""
        out: list[SSEEvent] = []
        if self._pending.endswith(b"\r"):
            out = self._lines([self._pending[:-1]])
        self._pending = b""
        self._data = []
        self._has_data = False
        self._event = ""
        return out

    def _lines(self, lines: list[bytes]) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if self._has_data:
                    payload = data[0] if len(data) == 1 else b"\n".join(data)
                    out.append(SSEEvent(self._event or "message", payload, self.last_event_id))
                    data.clear()
                    self._has_data = False
                self._event = ""
                continue
            if line.startswith(b"data:"):
                value = line[5:]
                if value[:1] == b" ":
                    value = value[1:]
                data.append(value)
                self._has_data = True
                continue
            if line[:1] == b":":
                continue  # comment (keep-alive)
            name, sep, value = line.partition(b":")
            if sep and value[:1] == b" ":
                value = value[1:]
            if name == b"event":
                cached = self._names.get(value)
                if cached is None:
                    cached = self._names[value] = value.decode("utf-8", "replace")
                self._event = cached
            elif name == b"data":  # "data" with no colon: an empty data line
                data.append(b"")
                self._has_data = True
            elif name == b"id":
                if b"\0" not in value:
                    self.last_event_id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                self.retry_ms = int(value)
            # any other field name is ignored
        return out
