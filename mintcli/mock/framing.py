"""SSE framing for the mock: a reply's events as bytes, in batches.

A long reply is hundreds of thousands of pieces; they are kept as runs of
strings with a common prefix and suffix (:class:`Run`) and framed in one pass,
so the mock stays several times faster than any client it serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import orjson


class Event(NamedTuple):
    data: bytes
    piece: bool = False
    name: str | None = None  # the SSE "event:" field (Anthropic)


class Run(NamedTuple):
    """Consecutive piece events whose data is ``pre + JSON string + post``, one
    per text. A long reply is hundreds of thousands of these: keeping them as
    strings (no object per event for the garbage collector to track) and
    framing each with a single format operation is what keeps the mock several
    times faster than any client."""

    pre: bytes
    texts: list[str]
    post: bytes
    name: str | None = None

    def data(self, i: int) -> bytes:
        return self.pre + orjson.dumps(self.texts[i]) + self.post


Stream = list[Event | Run]


def pieces(pre: bytes, texts: list[str], post: bytes, name: str | None = None) -> Run:
    return Run(pre, texts, post, name)


def _head(name: str | None) -> bytes:
    return b"" if name is None else b"event: " + name.encode() + b"\n"


def frame(event: Event, seq: int | None) -> bytes:
    head = b"" if seq is None else b"id: %d\n" % seq
    return head + _head(event.name) + b"data: " + event.data + b"\n\n"


@dataclass
class Framed:
    frames: list[bytes]  # SSE-framed events, ready to send
    marks: list[bool]  # per frame: is it a content piece (for delays)
    cut: bool  # the piece limit was reached: the fault happens after these frames


class Framer:
    """Frames a stream's events in batches, so a long reply starts going out
    while the rest is still being rendered. Events are numbered from 1 (the
    SSE ids); the first ``skip`` are left out (Last-Event-ID) and, with
    ``limit``, framing stops before the ``limit``-th content piece after them,
    setting :attr:`cut`."""

    def __init__(self, stream: Stream, ids: bool, skip: int = 0, limit: int | None = None):
        self.stream = stream
        self.ids = ids
        self.skip = skip
        self.limit = limit
        self.cut = False

    def batches(self, size: int = 2048) -> Iterator[tuple[list[bytes], list[bool]]]:
        ids, skip, limit = self.ids, self.skip, self.limit
        dumps = orjson.dumps
        seq = 0  # events passed so far
        seen = 0  # pieces framed so far
        for item in self.stream:
            if isinstance(item, Run):
                texts = item.texts
                lo, hi = max(0, skip - seq), len(texts)
                cut = False
                if limit is not None and hi - lo > limit - seen:
                    hi, cut = lo + (limit - seen), True
                head = _head(item.name) + b"data: " + item.pre
                tail = item.post + b"\n\n"
                for a in range(lo, hi, size):
                    b = min(hi, a + size)
                    if ids:
                        out = [
                            b"id: %d\n%s%s%s" % (seq + 1 + i, head, dumps(texts[i]), tail)
                            for i in range(a, b)
                        ]
                    else:
                        out = [head + dumps(t) + tail for t in texts[a:b]]
                    seen += b - a
                    yield out, [True] * (b - a)
                seq += len(texts)
                if cut:
                    self.cut = True
                    return
                continue
            seq += 1
            if seq <= skip:
                continue
            if limit is not None and item.piece and seen >= limit:
                self.cut = True
                return
            seen += item.piece
            yield [frame(item, seq if ids else None)], [item.piece]


def frames(stream: Stream, ids: bool, skip: int = 0, limit: int | None = None) -> Framed:
    """All of a stream's frames at once (see :class:`Framer`)."""
    framer = Framer(stream, ids, skip, limit)
    out: list[bytes] = []
    marks: list[bool] = []
    for batch, batch_marks in framer.batches():
        out += batch
        marks += batch_marks
    return Framed(out, marks, framer.cut)
