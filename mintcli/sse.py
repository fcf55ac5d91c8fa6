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
        hold = False
        if b"\r" in buf:
            # A CR at the very end may be the first half of a CRLF split across reads.
            hold = buf.endswith(b"\r")
            if hold:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        # Cut at blank lines: every piece but the last is one or more whole
        # events. The last piece is kept as raw bytes until its blank line comes.
        blocks = buf.split(b"\n\n")
        pending = blocks.pop()
        self._pending = pending + b"\r" if hold else pending
        if not blocks:
            return []
        out: list[SSEEvent] = []
        names = self._names
        for block in blocks:
            # The shapes real servers send, taken whole; anything else goes line by line.
            if block[:6] == b"data: " and b"\n" not in block:
                out.append(SSEEvent("message", block[6:], self.last_event_id))
                continue
            if block[:7] == b"event: ":
                name, sep, rest = block[7:].partition(b"\n")
                if sep and name and rest[:6] == b"data: " and b"\n" not in rest:
                    event = names.get(name)
                    if event is None:
                        event = names[name] = name.decode("utf-8", "replace")
                    out.append(SSEEvent(event, rest[6:], self.last_event_id))
                    continue
            lines = block.split(b"\n")
            lines.append(b"")  # the blank line that ended the block
            out.extend(self._lines(lines))
        return out

    def flush(self) -> list[SSEEvent]:
        """End of stream. Whole lines still pending are taken for their fields
        (an ``id:`` still counts); the event they belong to was never closed by a
        blank line, so it is discarded, as the spec requires. Only a held CR
        can still close an event here: it ends the blank line after it."""
        pending = self._pending
        self._pending = b""
        if pending.endswith(b"\r"):
            pending = pending[:-1] + b"\n"
        lines = pending.split(b"\n")
        lines.pop()  # an unterminated last line is not a line
        out = self._lines(lines)
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
