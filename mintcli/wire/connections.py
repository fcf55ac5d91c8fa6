"""A connection pool split by thread, for ``mint batch``.

httpx's own pool is safe to share between threads, but every request start
and end takes its lock and looks at each of its connections; with dozens of
threads and connections that bookkeeping cost more CPU than reading the
streams (measured with ``benchmarks/batch.py``: 1.4 ms of CPU per short item
at -j 64 against 0.85 ms with this pool). Here each thread keeps its own
kept-alive connection instead: the same reuse (N threads open N connections,
whatever the number of requests), and no shared lock on the way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

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
