"""The mock's batch services: OpenAI ``/files`` + ``/batches`` and Anthropic
``/messages/batches``, on a fast clock.

A batch is validating for the first tenth of ``--batch-delay``, in progress
(its counts growing) until the delay has passed, finalizing for a fifth of it
more (OpenAI), and then ends; its results are made once, when it ends, from
the same replies the chat routes give (a script's rules apply, and each
request is validated as there). ``--batch-fault`` (comma-separated) injects:

* ``invalid``: validation fails (OpenAI ``failed`` with ``errors``; Anthropic
  answers the create with a 400);
* ``errored=N``: every N-th request fails (a 400 reply in OpenAI's error file,
  an ``errored`` result for Anthropic);
* ``expired=N``: every N-th request expires (the batch ends ``expired``);
* ``garbled=N``: every N-th line of the results is cut short (not JSON), and
  a line of noise is added;
* ``stuck``: the batch stays in progress until cancelled;
* ``poll500=N``: the first N polls of each batch answer HTTP 500 (with
  Retry-After: 0.2);
* ``cut``: the first download of each results file breaks off half-way;
* ``hold=STEP``: the first request of STEP (``upload``, ``create``, ``poll``,
  ``download``) is carried out (a download half sent) and then never
  answered, until the client goes away: where tests kill mint.

Standard library and orjson only; the requests' shapes (routing, ids, list
paging) are in :mod:`mintcli.mock.batch_routes`.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from mintcli.mock import render, validate
from mintcli.mock.refusal import Refusal

STEPS = ("upload", "create", "poll", "download")
COUNTED = ("errored", "expired", "poll500", "garbled")  # the faults that take =N


class BatchFaultError(ValueError):
    pass


@dataclass(frozen=True)
class BatchFaults:
    invalid: bool = False
    errored: int = 0
    expired: int = 0
    stuck: bool = False
    poll500: int = 0
    garbled: int = 0
    cut: bool = False
    hold: str | None = None

    @classmethod
    def parse(cls, spec: str | None) -> BatchFaults:
        values: dict[str, Any] = {}
        for word in filter(None, (spec or "").split(",")):
            name, _, value = word.strip().partition("=")
            if name in ("invalid", "stuck", "cut") and not value:
                values[name] = True
            elif name in COUNTED and value.isdigit() and int(value):
                values[name] = int(value)
            elif name == "hold" and value in STEPS:
                values[name] = value
            else:
                raise BatchFaultError(
                    f"--batch-fault: cannot use {word!r} (invalid, errored=N, expired=N, "
                    "garbled=N, stuck, poll500=N, cut, hold=upload|create|poll|download)"
                )
        return cls(**values)


@dataclass
class Batch:
    id: str
    protocol: str  # "openai" or "anthropic"
    requests: list[dict[str, Any]]  # each with custom_id and body (OpenAI) or params
    created: float  # time.time()
    started: float  # time.monotonic()
    metadata: dict[str, Any] | None = None
    input_file_id: str | None = None
    cancelled: float | None = None
    polls: int = 0
    results: list[tuple[str, str, dict[str, Any]]] | None = None  # (custom_id, kind, payload)
    files: dict[str, str] = field(default_factory=dict)  # "output"/"error" -> file id


class Store:
    """Every file and batch this mock holds (in memory, for its lifetime)."""

    def __init__(self, delay: float, faults: BatchFaults) -> None:
        self.delay = delay
        self.faults = faults
        self.lock = threading.Lock()
        self.files: dict[str, tuple[str, bytes]] = {}  # id -> (filename, content)
        self.file_times: dict[str, int] = {}  # id -> when it was made (created_at)
        self.outputs: set[str] = set()  # the files a batch wrote (purpose batch_output)
        self.batches: dict[str, Batch] = {}  # in creation order
        self.downloads: set[str] = set()  # file ids downloaded at least once (the cut fault)
        self.held: set[str] = set()  # the steps held once already (the hold fault)
        self._ids = itertools.count(1)

    def hold(self, step: str) -> bool:
        """Whether this request of ``step`` is the one to hold (the first)."""
        with self.lock:
            if self.faults.hold != step or step in self.held:
                return False
            self.held.add(step)
            return True

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}mock"

    def add_file(self, name: str, content: bytes, output: bool = False) -> str:
        with self.lock:
            ident = self.new_id("file-")
            self.files[ident] = (name, content)
            self.file_times[ident] = int(time.time())
            if output:
                self.outputs.add(ident)
        return ident

    def add_batch(self, batch: Batch) -> None:
        with self.lock:
            self.batches[batch.id] = batch

    # -- the clock -------------------------------------------------------------------
    def state(self, batch: Batch, reply: Any) -> tuple[str, int]:
        """(OpenAI status, how many requests are done so far); makes the results
        when the batch ends. ``reply`` answers one request (the chat routes' replies)."""
        elapsed = time.monotonic() - batch.started
        total = len(batch.requests)
        if self.faults.invalid:
            return "failed", 0
        if batch.cancelled is not None:
            self._finish(batch, reply, cancelled=True)
            return "cancelled", self._done_at(batch, batch.cancelled - batch.started)
        if elapsed < self.delay / 10:
            return "validating", 0
        if elapsed < self.delay or self.faults.stuck:
            return "in_progress", self._done_at(batch, elapsed)
        if elapsed < self.delay * 1.2 and batch.results is None:
            return "finalizing", total  # (OpenAI's last state before the results exist)
        self._finish(batch, reply, cancelled=False)
        expired = any(kind == "expired" for _, kind, _ in batch.results or ())
        return ("expired" if expired else "completed"), total

    def _done_at(self, batch: Batch, elapsed: float) -> int:
        if self.faults.stuck or self.delay <= 0:
            return 0 if self.faults.stuck else len(batch.requests)
        return min(len(batch.requests), int(len(batch.requests) * elapsed / self.delay))

    def _finish(self, batch: Batch, reply: Any, *, cancelled: bool) -> None:
        with self.lock:
            if batch.results is not None:
                return
            done = self._done_at(batch, (batch.cancelled or time.monotonic()) - batch.started)
            results: list[tuple[str, str, dict[str, Any]]] = []
            for n, request in enumerate(batch.requests, 1):
                custom_id = request["custom_id"]
                if cancelled and n > done:
                    results.append((custom_id, "canceled", {}))
                elif self.faults.expired and n % self.faults.expired == 0:
                    results.append((custom_id, "expired", {}))
                elif self.faults.errored and n % self.faults.errored == 0:
                    results.append((custom_id, "errored", {"message": "mock: this item failed"}))
                else:
                    try:
                        results.append((custom_id, "succeeded", reply(batch.protocol, request)))
                    except Refusal as refusal:  # the request breaks a validation rule
                        results.append((custom_id, "errored", {"message": refusal.message}))
            batch.results = results


def answer(server: Any, protocol: str, request: dict[str, Any]) -> dict[str, Any]:
    """The whole JSON reply the chat route would give to one batch request,
    validated as the chat route validates (a Refusal makes it an errored item)."""
    body = request.get("body") if protocol == "openai" else request.get("params")
    if not isinstance(body, dict):
        body = {}
    if not server.lenient_for(protocol, body):
        validate.check(protocol, "/v1/messages", body, {"anthropic-version": "2023-06-01"})
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    reply = server.reply_for(protocol, body, messages)
    model = str(body.get("model") or "")
    raw = orjson.dumps(request)
    p = render.plan(reply, protocol, render.input_tokens(messages, body.get("system")))
    if protocol == "anthropic":
        return render.anthropic_body(reply, p, model, render.reply_id("msg_mock_", raw))
    return render.openai_body(reply, p, model, render.reply_id("chatcmpl-mock-", raw))


def garble(lines: list[bytes], every: int) -> list[bytes]:
    """The garbled=N fault: every N-th line cut in half, and one line of noise."""
    if not every:
        return lines
    cut = [line[: len(line) // 2] if n % every == 0 else line for n, line in enumerate(lines, 1)]
    return [*cut, b"<html>mock noise</html>"]


def counts(batch: Batch, done: int) -> tuple[int, int, int]:
    """(succeeded, failed, total) so far."""
    if batch.results is None:
        return done, 0, len(batch.requests)
    failed = sum(kind != "succeeded" for _, kind, _ in batch.results)
    return len(batch.results) - failed, failed, len(batch.requests)
