"""The mock gateway's HTTP handler (standard library ``http.server``).

Routes: POST /v1/chat/completions (OpenAI), POST /v1/messages (Anthropic),
GET /v1/models. Streams are HTTP/1.1 chunked; without a delay, events are
written in batches, with a delay one by one.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

import orjson

from mintcli.mock import batch_routes, framing, render
from mintcli.mock.faults import Fault
from mintcli.mock.script import Reply, content_text
from mintcli.record import Recorded
from mintcli.sanitize import redact_headers
from mintcli.settings import MockSettings

# Headers of a recording that describe the recorded connection, not the reply.
_NOT_REPLAYED = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding",
     "date", "server"}
)  # fmt: skip


class Refusal(Exception):
    """Answer with an error status and body (in the protocol's shape)."""

    def __init__(
        self, status: int, message: str, kind: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code


class Backend(Protocol):
    """What the handler asks of the mock server (server.MockServer)."""

    options: MockSettings

    def connected(self) -> None: ...

    def answering(self, delta: int) -> None: ...

    def record(self, entry: dict[str, Any]) -> None: ...

    def reply_for(
        self, protocol: str, body: dict[str, Any], messages: list[dict[str, Any]]
    ) -> Reply: ...

    def fault_for(self, header: str | None, rule_fault: Fault | None) -> Fault | None: ...

    def stall_until_gone(self, conn: socket.socket) -> None: ...

    def next_recorded(self) -> Recorded | None: ...


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog (5) drops connections when a client
    # opens dozens at once (mint batch -j 64); they would wait for a SYN resend.
    request_queue_size = 256
    mock: Backend

    def __init__(self, host: str, port: int) -> None:
        # An IPv6 address (::1) needs an IPv6 socket.
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer is ordinary (Ctrl-C, | head, a
        # retry test): no traceback on the mock's stderr for it.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.mock.connected()  # counted, so tests can see connections being reused
        super().process_request(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: stdout belongs to the base URL line

    # -- plumbing -------------------------------------------------------------------
    def _protocol(self) -> str:
        if self._route().endswith("/messages") or "anthropic-version" in self.headers:
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

    def _refuse(self, refusal: Refusal, headers: dict[str, str] | None = None) -> None:
        body = render.error_body(
            self._protocol(), refusal.status, refusal.message, refusal.kind, refusal.code
        )
        self._send_json(refusal.status, body, headers)

    def _record(self, raw: bytes) -> None:
        headers = {k.lower(): v for k, v in redact_headers(self.headers.items()).items()}
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self.server.mock.record(
            {"method": self.command, "path": self.path, "headers": headers, "body": body}
        )

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        return bool(
            self.headers.get("x-api-key") or (auth.startswith("Bearer ") and auth[7:].strip())
        )

    # -- routes ----------------------------------------------------------------------
    def do_GET(self) -> None:
        self._record(b"")
        path = self._route()
        if batch_routes.handles(path):  # the batch services: mock/batch_routes.py
            batch_routes.serve(self, "GET", path, b"")
            return
        if path != "/v1/models":
            self._refuse(self._not_found())
            return
        if not self._authorized():
            self._refuse(Refusal(401, "missing API key"))
            return
        protocol = "anthropic" if "anthropic-version" in self.headers else "openai"
        self._send_json(200, render.models_body(protocol))

    def do_POST(self) -> None:
        raw = self._read_body()
        self._record(raw)
        path = self._route()
        self.server.mock.answering(+1)
        try:
            recorded = self.server.mock.next_recorded()
            if recorded is not None:
                self._replay(recorded)
            elif batch_routes.handles(path):  # the batch services: mock/batch_routes.py
                batch_routes.serve(self, "POST", path, raw)
            elif path == "/v1/chat/completions":
                self._chat("openai", raw)
            elif path == "/v1/messages":
                self._chat("anthropic", raw)
            else:
                self._refuse(self._not_found())
        except Refusal as refusal:
            self._refuse(refusal)
        except ConnectionError:  # the client went away
            self.close_connection = True
        finally:
            self.server.mock.answering(-1)

    def _replay(self, recorded: Recorded) -> None:
        """A recorded response, chunk for chunk; a body that broke off in the
        recording breaks off here too (the connection is dropped)."""
        pace = self.server.mock.options.pace
        start = time.monotonic()

        def wait(until: float) -> None:
            if pace:
                time.sleep(max(0.0, start + until - time.monotonic()))

        self.send_response(recorded.status)
        for name, value in recorded.headers:
            if name.lower() not in _NOT_REPLAYED:
                self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for at, data in recorded.chunks:
            wait(at)
            if data:
                self._chunk(data)
                self.wfile.flush()
        wait(recorded.end)
        if recorded.complete:
            self._chunk(b"")
        else:
            self._drop()

    def _not_found(self) -> Refusal:
        if "anthropic-version" in self.headers:
            return Refusal(404, "Not found", "not_found_error")
        return Refusal(
            404,
            f"Unknown request URL: {self.command} {self.path}. Please check the URL for typos.",
            "invalid_request_error",
            "unknown_url",
        )

    # -- chat ------------------------------------------------------------------------
    def _validate(self, protocol: str, raw: bytes) -> dict[str, Any]:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise Refusal(400, "We could not parse the JSON body of your request.") from None
        if not isinstance(body, dict):
            raise Refusal(400, "The request body must be a JSON object.")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise Refusal(
                400,
                "model: Field required"
                if protocol == "anthropic"
                else "you must provide a model parameter",
            )
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) for m in messages)
        ):
            raise Refusal(400, "messages: Field required (a non-empty list of message objects)")
        if protocol == "anthropic":
            tokens = body.get("max_tokens")
            if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 1:
                raise Refusal(400, "max_tokens: Field required (a positive integer)")
            for m in messages:
                if m.get("role") not in ("user", "assistant"):
                    raise Refusal(400, f"messages: unexpected role {m.get('role')!r}")
        return body

    def _chat(self, protocol: str, raw: bytes) -> None:
        mock = self.server.mock
        if not self._authorized():
            raise Refusal(
                401, "invalid x-api-key" if protocol == "anthropic" else "Missing API key"
            )
        body = self._validate(protocol, raw)
        messages: list[dict[str, Any]] = body["messages"]
        prefill = None
        if messages[-1].get("role") == "assistant":
            prefill = content_text(messages[-1].get("content"))
            messages = messages[:-1]
            if protocol == "anthropic" and prefill != prefill.rstrip():
                raise Refusal(
                    400, "messages: final assistant content cannot end with trailing whitespace"
                )
        reply = mock.reply_for(protocol, body, messages)
        fault = mock.fault_for(self.headers.get("X-Mint-Mock-Fault"), reply.fault)
        if prefill is not None:
            full = reply.text * max(1, reply.repeat)
            if prefill and full.startswith(prefill):
                reply = replace(reply, text=full[len(prefill) :], repeat=1, reasoning="")
        model = body["model"]
        rid_prefix = "msg_mock_" if protocol == "anthropic" else "chatcmpl-mock-"
        rid = render.reply_id(rid_prefix, raw)
        p = render.plan(reply, protocol, render.input_tokens(messages, body.get("system")))
        if reply.first_byte_delay:
            time.sleep(reply.first_byte_delay)
        if fault is not None and fault.kind == "status":
            self._status_fault(fault)
            return
        if not body.get("stream") or not reply.stream:
            make = render.anthropic_body if protocol == "anthropic" else render.openai_body
            self._send_json(200, orjson.dumps(make(reply, p, model, rid)))
            return
        if protocol == "anthropic":
            events = render.anthropic_stream(reply, p, model, rid)
        else:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = render.openai_stream(reply, p, model, rid, include_usage)
        skip = 0
        last_id = self.headers.get("Last-Event-ID")
        if last_id and reply.honor_last_event_id and not mock.options.ignore_last_event_id:
            with contextlib.suppress(ValueError):
                skip = max(0, int(last_id))
        self._stream(protocol, events, skip, reply, fault)

    def _status_fault(self, fault: Fault) -> None:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        if fault.retry_after_ms is not None:
            headers["retry-after-ms"] = str(fault.retry_after_ms)
        message = fault.message or f"mock fault: HTTP {fault.value}"
        self._refuse(Refusal(fault.value, message, fault.error_type), headers)

    def _stream(
        self,
        protocol: str,
        events: framing.Stream,
        skip: int,
        reply: Reply,
        fault: Fault | None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ids = reply.ids and self.server.mock.options.ids
        # A stream fault strikes before its n-th piece (counted after the events a
        # Last-Event-ID skipped); if the reply is shorter, it never comes.
        limit = fault.value if fault is not None else None
        framer = framing.Framer(events, ids, skip, limit)
        # With a delay, piece k is due k delays after the start: a late wake-up
        # (dozens of streams at once share one interpreter) shortens the next
        # wait instead of adding up over the reply.
        due = time.monotonic()
        for batch, marks in framer.batches():
            if reply.delay:
                for data, piece in zip(batch, marks, strict=True):
                    self._chunk(data)
                    if piece:
                        due += reply.delay
                        time.sleep(max(0.0, due - time.monotonic()))
            else:
                self._chunk(b"".join(batch))
        if fault is not None and framer.cut:
            self._stream_fault(protocol, fault)
            return
        self._chunk(b"")

    def _stream_fault(self, protocol: str, fault: Fault) -> None:
        if fault.kind == "drop":
            self._drop()
            return
        if fault.kind == "stall":
            self.close_connection = True
            self.server.mock.stall_until_gone(self.connection)
            return
        if fault.kind == "error":
            if protocol == "anthropic":
                event = render.anthropic_error_event(
                    fault.message or "Overloaded", fault.error_type or "overloaded_error"
                )
            else:
                event = render.openai_error_event(
                    fault.message or "The server had an error while processing your request.",
                    fault.error_type or "server_error",
                )
            self._chunk(framing.frame(event, None))
        elif fault.kind == "malformed":
            self._chunk(b'data: {"choices": [{"delta": \n\n')
        # error, malformed and truncate all end the body cleanly here
        self._chunk(b"")
