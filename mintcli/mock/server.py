"""The mock gateway: its state (script, faults, request log) and its life
(start, stop, ``mint mock`` in the foreground). The HTTP side is handler.py."""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any

import orjson

from mintcli.base.terminal import Terminal, silence_stdout
from mintcli.errors import MintError, write_failed
from mintcli.mock.batches import BatchFaultError, BatchFaults
from mintcli.mock.faults import Fault, FaultSpecError, parse_fault
from mintcli.mock.handler import HTTPServer
from mintcli.mock.refusal import Refusal
from mintcli.mock.script import (
    MockScriptError,
    Reply,
    Rule,
    choose_reply,
    load_script,
    prompt_text,
)
from mintcli.options.settings import MockSettings
from mintcli.wire.record import Recorded
from mintcli.wire.record import load as load_recording


class MockServer:
    """The mock gateway, serving in a background thread."""

    def __init__(
        self, options: MockSettings | None = None, *, recorded: list[Recorded] | None = None
    ) -> None:
        self.options = options = options or MockSettings()
        # --replay: recorded responses, served in order (then again from the first).
        if recorded is None and self.options.replay:
            recorded = load_recording(Path(self.options.replay))
        self.recorded = recorded
        self._served = 0
        script = self.options.script
        rules = load_script(Path(script)) if script else []
        # A rule with "lenient" turns validation off for what it matches; one with
        # nothing else (besides match) gives no reply.
        self.lenient_rules = [r for r in rules if r.fields.get("lenient")]
        self.rules: list[Rule] = [
            replace(r, fields={k: v for k, v in r.fields.items() if k != "lenient"})
            for r in rules
            if set(r.fields) != {"lenient"}
        ]
        try:
            self._fault = parse_fault(self.options.fault) if self.options.fault else None
        except FaultSpecError as exc:
            raise MockScriptError(str(exc)) from None
        try:  # checked now, used by the first batch request (mock/batch_routes.py)
            BatchFaults.parse(self.options.batch_fault)
        except BatchFaultError as exc:
            raise MockScriptError(str(exc)) from None
        self._base = Reply(
            piece_chars=self.options.piece_chars,
            delay=self.options.delay,
            first_byte_delay=self.options.first_byte_delay,
        )
        self.requests: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # time.monotonic() of each request, as requests
        self.connections = 0  # TCP connections accepted
        self.in_flight = 0  # requests being answered now
        self.max_in_flight = 0  # the most at once
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._stopping = threading.Event()
        # Set by a signal (serve_main) or by a failure that ends the mock (a --log
        # that cannot be written: ``failure`` says which).
        self.ended = threading.Event()
        self.failure: MintError | None = None
        self._httpd = _listen(options.host, options.port)
        self._httpd.mock = self
        try:
            self._log = _open_log(options.log) if options.log else None
        except MockScriptError:
            self._httpd.server_close()
            raise
        bound_host, bound_port = self._httpd.server_address[:2]
        self.base_url = f"http://{_url_host(str(bound_host))}:{bound_port}/v1"
        self._thread: threading.Thread | None = None

    # -- used by the handler ------------------------------------------------------------
    def connected(self) -> None:
        with self._lock:
            self.connections += 1

    def answering(self, delta: int) -> None:
        """A request starts (+1) or ends (-1) being answered."""
        with self._lock:
            self.in_flight += delta
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def record(self, entry: dict[str, Any]) -> None:
        """Keep a request (and append it to --log). Once --log could not be
        written the mock is ending: this request and any other before the end
        are answered 500 (Refusal), naming the file, instead of being served
        and missing from the log."""
        with self._lock:
            self.requests.append(entry)
            self.arrivals.append(time.monotonic())
            if self._log is not None:
                try:
                    self._log.write(orjson.dumps(entry) + b"\n")
                    self._log.flush()
                except (OSError, ValueError) as exc:
                    self._log_failed(exc)
            if self.failure is not None:
                raise Refusal(500, f"mint mock: {self.failure}", close=True)

    def _log_failed(self, exc: OSError | ValueError) -> None:
        """The first failure to write --log ends the mock (serve_main reports it),
        once the request that found it has been answered (Handler._record)."""
        if isinstance(exc, ValueError):  # the file object is closed
            exc = OSError(errno.EBADF, os.strerror(errno.EBADF))
        if self.failure is None:
            self.failure = write_failed(f"--log {self.options.log}", exc)
        log, self._log = self._log, None
        if log is not None:
            with suppress(OSError):  # what is still buffered would fail again
                log.close()

    def next_recorded(self) -> Recorded | None:
        if not self.recorded:
            return None
        with self._lock:
            response = self.recorded[self._served % len(self.recorded)]
            self._served += 1
        return response

    def reply_for(
        self, protocol: str, body: dict[str, Any], messages: list[dict[str, Any]]
    ) -> Reply:
        return choose_reply(self.rules, protocol, body, messages, self._base)

    def fault_for(self, header: str | None, rule_fault: Fault | None) -> Fault | None:
        """Header beats rule beats the server-wide fault; ``times`` is counted here."""
        if header:
            try:
                fault: Fault | None = parse_fault(header)
            except FaultSpecError as exc:
                raise Refusal(400, f"X-Mint-Mock-Fault: {exc}") from None
        else:
            fault = rule_fault or self._fault
        if fault is None:
            return None
        with self._lock:
            self._hits[fault.spec] += 1
            hits = self._hits[fault.spec]
        if fault.times is not None and hits > fault.times:
            return None
        return fault

    def lenient_for(self, protocol: str, body: dict[str, Any]) -> bool:
        """Is validation off for this request (--lenient, or a lenient rule)?"""
        if self.options.lenient:
            return True
        if not self.lenient_rules:
            return False
        messages = body["messages"] if isinstance(body.get("messages"), list) else []
        user = next(
            (m for m in reversed(messages) if isinstance(m, dict) and m.get("role") == "user"), {}
        )
        prompt = prompt_text(user.get("content"))
        model = str(body.get("model", ""))
        return any(r.matches(protocol, model, prompt) for r in self.lenient_rules)

    def stall_until_gone(self, conn: socket.socket) -> None:
        """Send nothing; return once the client closes or the server stops."""
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([conn], [], [], 0.2)
            except (OSError, ValueError):
                return
            if readable:
                try:
                    if not conn.recv(1024):
                        return
                except OSError:
                    return

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> MockServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._close_log()

    def release(self) -> None:
        """For a process about to exit: end stalls and close the log, but leave
        the daemon threads to end with the process (no shutdown wait)."""
        self._stopping.set()
        self._close_log()

    def _close_log(self) -> None:
        with self._lock:
            if self._log is not None:
                try:
                    self._log.close()
                    self._log = None
                except OSError as exc:
                    self._log_failed(exc)

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _listen(host: str, port: int) -> HTTPServer:
    """The listening server, or why not: the port is taken, the address is not
    this machine's, the host name does not resolve. All are fixed by another
    --host or --port, so they are usage errors (exit 2), not network ones."""
    try:
        return HTTPServer(host, port)
    except (OSError, UnicodeError, OverflowError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MockScriptError(f"cannot listen on {host} port {port}: {reason}") from None


def _open_log(name: str) -> IO[bytes]:
    """--log, opened before serving: a directory or a missing folder is said now
    (exit 2, as for --record), not found by the first request."""
    try:
        return Path(name).expanduser().open("ab")
    except OSError as exc:
        raise MockScriptError(f"--log {name}: {exc.strerror or exc}") from None


def serve_main(settings: MockSettings, term: Terminal | None = None) -> None:
    """``mint mock``: print the base URL, serve until SIGINT or SIGTERM, exit 0;
    a --log that cannot be written ends it (exit 11)."""
    term = term or Terminal.from_process()
    server = MockServer(settings)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        server.ended.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    server.start()
    try:
        term.write(server.base_url.encode() + b"\n")
    except (MintError, BrokenPipeError) as exc:
        # The mock is the service, the URL line a convenience: with stdout closed
        # or unwritable it keeps serving (a fixed --port is known anyway) and says
        # once, on stderr, where.
        silence_stdout()  # what is left in its buffer would fail again at exit
        if isinstance(exc, BrokenPipeError):
            exc = write_failed("to stdout", exc)
        term.warn(f"{exc.message}; serving at {server.base_url}")
    try:
        while not server.ended.wait(0.5):
            pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        server.stop()
    if server.failure is not None:
        raise server.failure
