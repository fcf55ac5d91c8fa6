"""Connections: a pool split by thread, for ``mint batch``; and what each
connection read first after a request (``not_http``), for the transport's
errors.

httpx's own pool is safe to share between threads, but every request start
and end takes its lock and looks at each of its connections; with dozens of
threads and connections that bookkeeping cost more CPU than reading the
streams (measured with ``benchmarks/batch.py``: 1.4 ms of CPU per short item
at -j 64 against 0.85 ms with this pool). Here each thread keeps its own
kept-alive connection instead: the same reuse (N threads open N connections,
whatever the number of requests), and no shared lock on the way.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import httpx

ONE = httpx.Limits(max_connections=1, max_keepalive_connections=1)


class ThreadConnections(httpx.BaseTransport):
    """An httpx transport that hands each thread its own ``make()`` transport
    (one connection, kept alive between that thread's requests)."""

    def __init__(self, make: Callable[[], httpx.BaseTransport]) -> None:
        self._make = make
        self._mine = threading.local()
        self._lock = threading.Lock()
        self._all: list[httpx.BaseTransport] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        transport: httpx.BaseTransport | None = getattr(self._mine, "transport", None)
        if transport is None:
            transport = self._mine.transport = self._make()
            with self._lock:
                self._all.append(transport)
        return transport.handle_request(request)

    def close(self) -> None:
        with self._lock:
            every, self._all = self._all, []
        for transport in every:
            transport.close()


# -- what a connection read first ------------------------------------------------------
HEAD = 200  # bytes of an answer's first read kept: a cut, or another protocol?

_first = threading.local()  # per thread: requests are sent and read in one thread


# How httpcore ("Server disconnected without sending a response") and h11 ("peer
# closed connection without sending complete message body", "peer unexpectedly
# closed connection") name a connection that ended early: a cut, which a new
# attempt may well not meet. Every other RemoteProtocolError is about the bytes.
_CUT_SHORT = ("disconnected", "peer closed", "unexpectedly closed")


def cut_short(exc: httpx.RemoteProtocolError) -> bool:
    text = str(exc).lower()
    return any(words in text for words in _CUT_SHORT)


_STATUS_LINE = re.compile(rb"HTTP/\d\.\d \d{3}(?: |\r?$)")


def not_http() -> bytes | None:
    """The start of what the server sent back to this thread's last request,
    when it is not, and cannot become, an HTTP status line; else None."""
    head: bytes = getattr(_first, "head", b"").lstrip(b"\r\n")
    line, ended, _ = head.partition(b"\n")
    if not head or (_STATUS_LINE.match(line) if ended else b"HTTP/".startswith(line[:5])):
        return None
    return head


def note_first_bytes(transport: httpx.HTTPTransport) -> httpx.HTTPTransport:
    """Make ``transport``'s connections note the first bytes each request gets
    back (``not_http``). A server on the wrong port (SSH, SMTP, Redis) sends a
    line of its own protocol and closes, which httpcore reports as a connection
    cut before the answer; these bytes tell the two apart. httpx has no public
    way to hand its pool a network backend, so this wraps the one the pool has,
    and leaves the pool alone where there is none (a future httpx)."""
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if backend is not None:
        pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return transport


class _Backend:
    """httpcore's network backend, its streams wrapped in :class:`_Stream`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(self, *args: Any, **kwargs: Any) -> _Stream:
        return _Stream(self._inner.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> _Stream:
        return _Stream(self._inner.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Stream:
    """One connection. A request written on it arms ``read`` to note the first
    read that follows; that read then hands ``read`` back to the inner stream,
    so the body's reads cost nothing more."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.close = inner.close
        self.get_extra_info = inner.get_extra_info
        self.read: Callable[..., bytes] = self._first_read

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        _first.head = b""
        self.read = self._first_read
        self._inner.write(buffer, timeout)

    def _first_read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._inner.read(max_bytes, timeout)
        _first.head = data[:HEAD]
        self.read = self._inner.read
        return data

    def start_tls(self, *args: Any, **kwargs: Any) -> _Stream:
        return _Stream(self._inner.start_tls(*args, **kwargs))
