"""The HTTP plumbing under the mock's routes (handler.py): reading the route and
protocol of a request, writing JSON and chunked bodies, a request id header on
every response, and TCP_NODELAY on every connection."""

from __future__ import annotations

import contextlib
import socket
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any


class WireHandler(BaseHTTPRequestHandler):
    """What every response of the mock has in common, below its routes."""

    protocol_version = "HTTP/1.1"
    _replaying = False  # a replayed response keeps its recorded headers only
    _rid: str | None = None  # the next response's request id, when its body names it

    def setup(self) -> None:
        super().setup()
        # A JSON answer is two writes (head, body): without this, Nagle holds the
        # body until the client's delayed ACK, 40 ms per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: stdout belongs to the base URL line

    def send_response(self, code: int, message: str | None = None) -> None:
        super().send_response(code, message)
        if not self._replaying:  # each response has its id, as the real APIs give
            # (a request line too bad to parse has no headers to tell the protocol)
            anthropic = hasattr(self, "headers") and self._protocol() == "anthropic"
            name = "request-id" if anthropic else "x-request-id"
            self.send_header(name, self._rid or "req_" + uuid.uuid4().hex)
            self._rid = None

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _protocol(self) -> str:
        if "/messages" in self._route() or "anthropic-version" in self.headers:
            return "anthropic"
        return "openai"

    def _route(self) -> str:
        """The request path without its query. A request in absolute form
        (``POST http://host/v1/...``, as sent to a proxy) is served too, so the
        mock can stand in for an HTTP proxy in tests."""
        path = self.path.split("?")[0]
        if "://" in path:
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        return path.rstrip("/")

    def _send_json(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, data: bytes) -> None:
        """One HTTP/1.1 chunk (the empty one ends the body)."""
        if len(data) < 65536:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:  # spare a copy of a big batch
            self.wfile.write(b"%x\r\n" % len(data))
            self.wfile.write(data)
            self.wfile.write(b"\r\n")

    def _drop(self) -> None:
        """Cut the connection mid-body, as a broken network would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
