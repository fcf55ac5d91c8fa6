"""The mock gateway's HTTP handler (standard library ``http.server``).

Routes: POST /v1/chat/completions (OpenAI), POST /v1/messages (Anthropic),
POST /v1/messages/count_tokens, GET /v1/models and /v1/models/{id}. Requests are
validated as the real APIs do (validate.py) unless lenient. Streams are HTTP/1.1
chunked; without a delay, events are written in batches, with a delay one by one.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import uuid
from dataclasses import replace
from http.server import ThreadingHTTPServer
from typing import Any, Protocol

import orjson

from mintcli.base.sanitize import redact_headers
from mintcli.mock import batch_routes, framing, models, render, shape, thinking, validate
from mintcli.mock.body import read_body
from mintcli.mock.faults import Fault
from mintcli.mock.refusal import Refusal
from mintcli.mock.script import Reply, content_text
from mintcli.mock.wire import WireHandler
from mintcli.options.settings import MockSettings
from mintcli.wire.record import Recorded

# Headers of a recording that describe the recorded connection, not the reply.
_NOT_REPLAYED = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "content-encoding",
     "date", "server"}
)  # fmt: skip


class Backend(Protocol):
    """What the handler asks of the mock server (server.MockServer)."""

    options: MockSettings
    ended: threading.Event  # set: the mock is to stop serving

    def connected(self) -> None: ...

    def answering(self, delta: int) -> None: ...

    def record(self, entry: dict[str, Any]) -> None: ...

    def reply_for(
        self, protocol: str, body: dict[str, Any], messages: list[dict[str, Any]]
    ) -> Reply: ...

    def fault_for(self, header: str | None, rule_fault: Fault | None) -> Fault | None: ...

    def stall_until_gone(self, conn: socket.socket) -> None: ...

    def next_recorded(self) -> Recorded | None: ...

    def lenient_for(self, protocol: str, body: dict[str, Any]) -> bool: ...


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


class Handler(WireHandler):
    server: HTTPServer

    def _refuse(self, refusal: Refusal, headers: dict[str, str] | None = None) -> None:
        self._rid = "req_" + uuid.uuid4().hex  # Anthropic's error body repeats it
        body = render.error_body(
            self._protocol(), refusal.status, refusal.message, refusal.kind, refusal.code,
            refusal.param, self._rid,
        )  # fmt: skip
        if refusal.close:
            self.close_connection = True
            headers = {**(headers or {}), "Connection": "close"}
        self._send_json(refusal.status, body, headers)

    def _record(self, raw: bytes) -> bool:
        """Log the request; False when it was answered already (the mock's
        --log failed: it is ending, and says so with a 500)."""
        headers = {k.lower(): v for k, v in redact_headers(self.headers.items()).items()}
        try:
            body: Any = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        try:
            self.server.mock.record(
                {"method": self.command, "path": self.path, "headers": headers, "body": body}
            )
        except Refusal as refusal:
            self._refuse(refusal)
            self.wfile.flush()
            self.server.mock.ended.set()  # the mock ends once the 500 is on its way
            return False
        return True

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        return bool(
            self.headers.get("x-api-key") or (auth.startswith("Bearer ") and auth[7:].strip())
        )

    # -- routes ----------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._record(b""):
            return
        path = self._route()
        if batch_routes.handles(path):  # the batch services: mock/batch_routes.py
            batch_routes.serve(self, "GET", path, b"")
            return
        if path != "/v1/models" and not path.startswith("/v1/models/"):
            self._refuse(self._not_found())
            return
        if not self._authorized():
            self._refuse(Refusal(401, "missing API key"))
            return
        protocol = "anthropic" if "anthropic-version" in self.headers else "openai"
        # /v1/models/{id}: any id, as chat takes any model name (ids hold slashes).
        model = path[len("/v1/models/") :] if path != "/v1/models" else None
        query = self.path.partition("?")[2]
        try:
            self._send_json(200, models.models_body(protocol, model, query))
        except Refusal as refusal:
            self._refuse(refusal)

    def do_POST(self) -> None:
        try:
            raw = read_body(self.rfile, self._headers())
        except Refusal as refusal:
            if self._record(b""):
                self._refuse(refusal)
            return
        if not self._record(raw):
            return
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
            elif path == "/v1/messages/count_tokens":
                self._count_tokens(raw)
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
        self._replaying = True

        def wait(until: float) -> None:
            if pace:
                time.sleep(max(0.0, start + until - time.monotonic()))

        self.send_response(recorded.status)
        for name, value in recorded.headers:
            if name.lower() not in _NOT_REPLAYED:
                # http.server writes a header as Latin-1; a value beyond it (a
                # gateway that sent UTF-8 there) goes out as its UTF-8 bytes.
                self.send_header(name, value.encode("utf-8").decode("latin-1"))
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
        if not (isinstance(body, dict) and self.server.mock.lenient_for(protocol, body)):
            validate.check(protocol, self.path, body, self._headers())
        return validate.essentials(body)

    def _count_tokens(self, raw: bytes) -> None:
        if not self._authorized():
            raise Refusal(401, "invalid x-api-key")
        body = self._validate("anthropic", raw)
        count = render.input_tokens(body["messages"], body.get("system"))
        self._send_json(200, orjson.dumps({"input_tokens": count}))

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
        reply = mock.reply_for(protocol, body, messages)
        if protocol == "anthropic" and not reply.reasoning and thinking.thinks(body):
            # With thinking on, every new turn of the real model opens with a
            # thinking block (that mint must send back with its tool results).
            reply = replace(reply, reasoning=thinking.DEFAULT)
        fault = mock.fault_for(self.headers.get("X-Mint-Mock-Fault"), reply.fault)
        if prefill is not None:
            full = reply.text * max(1, reply.repeat)
            if prefill and full.startswith(prefill):
                reply = replace(reply, text=full[len(prefill) :], repeat=1, reasoning="")
        reply = shape.fit(reply, protocol, body, messages)
        model = body["model"]
        rid_prefix = "msg_mock_" if protocol == "anthropic" else "chatcmpl-mock-"
        rid = render.reply_id(rid_prefix, raw)
        p = render.plan(reply, protocol, render.input_tokens(messages, body.get("system")))
        if reply.first_byte_delay:
            time.sleep(reply.first_byte_delay)
        if fault is not None and fault.kind == "status":
            self._status_fault(fault)
            return
        n = body["n"] if isinstance(body.get("n"), int) else 1  # OpenAI: n choices
        n = min(max(1, n), 128)  # (what validation allows, also when lenient)
        if not body.get("stream") or not reply.stream:
            if protocol == "anthropic":
                answer = render.anthropic_body(reply, p, model, rid)
            else:
                answer = render.openai_body(reply, p, model, rid, n)
            self._send_json(200, orjson.dumps(answer))
            return
        if protocol == "anthropic":
            events = render.anthropic_stream(reply, p, model, rid)
        else:
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = render.openai_stream(reply, p, model, rid, include_usage, n)
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
        elif fault.kind == "malformed":  # a cut-off event, in the protocol's own shape
            self._chunk(render.MALFORMED[protocol])
        # error, malformed and truncate all end the body cleanly here
        self._chunk(b"")
