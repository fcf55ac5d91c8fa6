"""A small batch service on 127.0.0.1 whose answers a test picks: the OpenAI
Batch API and Anthropic Message Batches as a hostile server might play them
(odd ids, lists that never end, the key in its words, bombs). Unlike the
mock (mintcli/mock/), nothing in it is mint's own code.

``Service.answer(method, path, body)`` returns (status, payload, headers): a
payload that is a dict is sent as JSON; bytes, or a list of bytes pieces
(the same piece repeated costs no memory), are sent as they are. The default
answers are a well-behaved service whose batches end at once; a test swaps
single routes through ``Service.routes``."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, Any, dict[str, str]]
Route = Callable[[str, bytes], Answer]


def ok(payload: Any, **headers: str) -> Answer:
    return 200, payload, headers


class Service:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers
        self.uploads: list[bytes] = []
        self.routes: dict[str, Route] = {}  # "METHOD /path-prefix" -> answer, first match
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        out += self.rfile.read(size)
                        self.rfile.readline()
                    self.rfile.readline()
                    return out
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _any(self) -> None:
                body = self._body()
                service.seen.append((self.command, self.path, dict(self.headers)))
                status, payload, headers = service.answer(self.command, self.path, body)
                if isinstance(payload, (dict, list)) and not (
                    isinstance(payload, list) and payload and isinstance(payload[0], bytes)
                ):
                    payload = json.dumps(payload).encode()
                pieces = [payload] if isinstance(payload, bytes) else payload
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(sum(map(len, pieces))))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    for piece in pieces:
                        self.wfile.write(piece)
                except OSError:
                    pass  # mint stopped reading, as it should

            do_GET = do_POST = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset(self) -> None:
        self.seen.clear()
        self.uploads.clear()
        self.routes.clear()

    def count(self, method: str, prefix: str) -> int:
        return sum(1 for m, p, _ in self.seen if m == method and p.startswith("/v1" + prefix))

    def answer(self, method: str, path: str, body: bytes) -> Answer:
        path = path.removeprefix("/v1")
        for key, route in self.routes.items():
            m, _, prefix = key.partition(" ")
            if m == method and path.startswith(prefix):
                return route(path, body)
        return self.default(method, path, body)

    # -- a well-behaved service ------------------------------------------------------
    def custom_ids(self) -> list[str]:
        """The custom_ids of the last upload."""
        last = self.uploads[-1].decode() if self.uploads else ""
        return re.findall(r'"custom_id": ?"(mint-[0-9]+-[0-9a-f]+)"', last)

    def results(self, reply: Callable[[str], dict[str, Any]] | None = None) -> bytes:
        """An OpenAI output file with a reply for every request uploaded."""

        def line(cid: str) -> dict[str, Any]:
            body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": f"ok {cid}"},
                                 "finish_reason": "stop"}], "model": "m"}  # fmt: skip
            return {"custom_id": cid, "response": {"status_code": 200, "body": body}}

        lines = [(reply or line)(cid) for cid in self.custom_ids()]
        return b"".join(json.dumps(x).encode() + b"\n" for x in lines)

    def default(self, method: str, path: str, body: bytes) -> Answer:
        if method == "POST" and path == "/files":
            self.uploads.append(body)
            return ok({"id": "file-1", "object": "file"})
        if method == "POST" and path == "/batches":
            return ok({"id": "batch_1", "status": "validating"})
        if method == "GET" and path.startswith("/batches/"):
            counts = {"total": 2, "completed": 2, "failed": 0}
            return ok({"id": "batch_1", "status": "completed", "request_counts": counts,
                       "output_file_id": "file-out"})  # fmt: skip
        if method == "GET" and path.startswith("/files/file-out/content"):
            return ok(self.results())
        if method == "POST" and path == "/messages/batches":
            self.uploads.append(body)
            return ok({"id": "msgbatch_1", "processing_status": "in_progress"})
        if method == "GET" and path.startswith("/messages/batches/msgbatch_1"):
            return ok({"id": "msgbatch_1", "processing_status": "in_progress",
                       "request_counts": {"processing": 2}})  # fmt: skip
        return 404, {"error": {"message": f"no route {method} {path}"}}, {}
