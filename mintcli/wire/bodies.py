"""Reading a response body: chunk by chunk as it streams (:class:`Response`),
whatever compression the server chose.

mint asks for none (``Accept-Encoding: identity``): compression would make a
server or a proxy hold pieces of a stream back. A server that compresses
anyway is read here, inflated in bounded pieces.
"""

from __future__ import annotations

import _thread
import contextlib
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import httpx

from mintcli.errors import NetworkError, ProtocolError

if TYPE_CHECKING:
    from mintcli.wire.record import Recorder

INFLATE_PIECE = 64 * 1024  # the most one compressed read may inflate to at a time


def body_pieces(raw: httpx.Response) -> Iterator[bytes]:
    """The body as bytes. mint asks for no compression; a server that
    compresses anyway (gzip, deflate) is inflated here, never more than
    INFLATE_PIECE at a time (a small body may inflate to gigabytes), and
    a body that does not decode is a protocol error, not a crash."""
    coding = raw.headers.get("content-encoding", "").strip().lower()
    if coding in ("", "identity"):
        return raw.iter_bytes()
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise ProtocolError(
            f"the server compressed its reply with {coding!r}, which mint did not ask for "
            "and cannot read"
        )
    return _inflate(raw.iter_raw(), coding)


def _inflate(pieces: Iterator[bytes], coding: str) -> Iterator[bytes]:
    # gzip has its header and trailer; deflate is zlib-wrapped (32 + MAX_WBITS
    # takes a zlib or a gzip header, as servers mix them up).
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in coding else 32 + zlib.MAX_WBITS)
    try:
        for piece in pieces:
            data = piece
            while data and not inflater.eof:
                out = inflater.decompress(data, INFLATE_PIECE)
                data = inflater.unconsumed_tail
                if out:
                    yield out
        rest = inflater.flush(INFLATE_PIECE)
    except zlib.error as exc:
        raise ProtocolError(
            f"the reply says Content-Encoding: {coding} but does not decode as such ({exc})"
        ) from None
    if rest:
        yield rest


class Response:
    """A response whose status was checked: an event stream to read chunk by
    chunk, or (``whole``) the bytes of one JSON reply. ``mapped``: the
    transport's translation of httpx's errors into mint's."""

    def __init__(
        self,
        raw: httpx.Response,
        recorder: Recorder | None,
        mapped: Callable[[], AbstractContextManager[None]],
    ) -> None:
        self._raw = raw
        self._recorder = recorder
        self._mapped = mapped
        self.whole: bytes | None = None
        self.complete = False  # the body was read to its end

    def chunks(self) -> Iterator[bytes]:
        recorder = self._recorder
        with self._mapped():
            for chunk in body_pieces(self._raw):
                if recorder is not None:
                    recorder.chunk(chunk)
                yield chunk
        self.complete = True

    @contextlib.contextmanager
    def ending(self, grace: float) -> Iterator[None]:
        """The reply is whole; what is read inside (the body's own end, which
        normally came with it) lets the connection be used again. A server
        that keeps the body open longer than ``grace`` seconds is cut off (its
        socket shut from a timer), and an error here is no failure."""
        stream = self._raw.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        lock = threading.Lock()
        over = threading.Event()

        def cut_off() -> None:
            if over.wait(grace):
                return
            with lock:
                if not over.is_set() and isinstance(sock, socket.socket):
                    with contextlib.suppress(OSError):
                        # the plain socket's shutdown: an SSLSocket's own would
                        # also drop its TLS state under the reading thread
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)

        # A bare thread: threading.Timer's start handshake costs several times more.
        _thread.start_new_thread(cut_off, ())
        try:
            with contextlib.suppress(NetworkError):
                yield
        finally:
            with lock:  # before the connection goes back to the pool
                over.set()
