"""A tiny real HTTP server for tests: serves queued canned responses.

Each test queues :class:`Canned` responses; requests take them in order (the
last one repeats). Bodies are sent as given, piece by piece, so tests control
chunk boundaries, pauses, abrupt closes and missing terminators.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# The text of the recorded replies in data/*_poem.sse.
POEM = "床前明月光,\n疑是地上霜。\n举头望明月,\n低头思故乡。🌙"


@dataclass
class Canned:
    body: list[bytes] = field(default_factory=list)  # pieces, each sent and flushed
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/event-stream"})
    pause: float = 0.0  # seconds between pieces
    abort: bool = False  # drop the connection after the pieces (no chunked end)
    stall: float = 0.0  # after the pieces, wait this long before ending
    # After the first piece, send nothing more until the test sets this (30 s at most).
    gate: threading.Event | None = None


def sse_file(name: str) -> bytes:
    from pathlib import Path

    return (Path(__file__).parent / "data" / name).read_bytes()


def split_every(data: bytes, n: int) -> list[bytes]:
    return [data[i : i + n] for i in range(0, len(data), n)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.server.requests.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        canned = self.server.next_response()
        self.send_response(canned.status)
        for k, v in canned.headers.items():
            self.send_header(k, v)
        if canned.body and not canned.abort and canned.status >= 300:
            payload = b"".join(canned.body)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for i, piece in enumerate(canned.body):
                if piece:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.flush()
                if canned.pause:
                    time.sleep(canned.pause)
                if i == 0 and canned.gate is not None:
                    canned.gate.wait(30)
            if canned.abort:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if canned.stall:
                time.sleep(canned.stall)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_POST = _serve
    do_GET = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.queue: list[Canned] = []
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-reply (tests do that) is no server error: keep quiet.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def next_response(self) -> Canned:
        with self._lock:
            if len(self.queue) > 1:
                return self.queue.pop(0)
            return self.queue[0] if self.queue else Canned(status=404, body=[b"{}"])


class SSEServer:
    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def queue(self, *responses: Canned) -> None:
        self._server.queue = list(responses)
        self._server.requests.clear()

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self._server.requests

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
