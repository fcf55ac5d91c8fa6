"""The HTTP side of the mock's batch services (the state is batches.py).

OpenAI: ``POST /v1/files`` (multipart, purpose=batch), ``GET /v1/files``
(newest first), ``GET /v1/files/ID`` and ``/content``, ``POST /v1/batches``,
``GET /v1/batches`` (newest first, ``limit`` and ``after``), ``GET
/v1/batches/ID``, ``POST .../cancel``.
Anthropic: ``POST /v1/messages/batches``, ``GET /v1/messages/batches`` (newest
first, ``limit`` and ``after_id``), ``GET /v1/messages/batches/ID``,
``.../results`` (JSONL), ``POST .../cancel``.
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from mintcli.mock.batches import Batch, BatchFaults, Store, answer, counts, garble

_LOCK = threading.Lock()
_ENDED = ("completed", "failed", "expired", "cancelled")


def handles(path: str) -> bool:
    return path.startswith(("/v1/files", "/v1/batches", "/v1/messages/batches"))


def store_of(handler: Any) -> Store:
    server = handler.server
    with _LOCK:
        store: Store | None = getattr(server, "batch_store", None)
        if store is None:
            options = server.mock.options
            store = Store(options.batch_delay, BatchFaults.parse(options.batch_fault))
            server.batch_store = store
    return store


def serve(handler: Any, method: str, path: str, raw: bytes) -> None:
    """Answer one batch-service request; ``path`` has no query."""
    if not handler._authorized():
        _error(handler, 401, "Missing API key", "authentication_error")
        return
    store = store_of(handler)
    parts = path.split("/")[2:]  # after "" and "v1"
    if parts[:2] == ["messages", "batches"]:
        service, ident, rest = "anthropic", (parts[2:3] or [""])[0], tuple(parts[3:])
    else:
        service, ident, rest = parts[0], (parts[1:2] or [""])[0], tuple(parts[2:])
    routes: dict[tuple[Any, ...], Any] = {
        ("files", "POST", False): lambda: _upload(handler, store, raw),
        ("files", "GET", False): lambda: _file_list(handler, store),
        ("files", "GET", True): lambda: _file(handler, store, ident, content=False),
        ("files", "GET", True, "content"): lambda: _file(handler, store, ident, content=True),
        ("batches", "POST", False): lambda: _create(handler, store, raw),
        ("batches", "GET", False): lambda: _list(handler, store),
        ("batches", "GET", True): lambda: _get(handler, store, ident),
        ("batches", "POST", True, "cancel"): lambda: _cancel(handler, store, ident),
        ("anthropic", "POST", False): lambda: _anthropic_create(handler, store, raw),
        ("anthropic", "GET", False): lambda: _anthropic_list(handler, store),
        ("anthropic", "GET", True): lambda: _get(handler, store, ident),
        ("anthropic", "GET", True, "results"): lambda: _results(handler, store, ident),
        ("anthropic", "POST", True, "cancel"): lambda: _cancel(handler, store, ident),
    }
    action = routes.get((service, method, bool(ident), *rest))
    if action is None:
        _error(handler, 404, f"Unknown request URL: {method} {path}", "not_found_error")
        return
    action()


def _held(handler: Any, store: Store, step: str | None) -> bool:
    """Hold the answer (the hold fault): nothing more is sent until the client
    goes away. ``step`` None: this request is already the one held."""
    if step is not None and not store.hold(step):
        return False
    handler.close_connection = True
    handler.server.mock.stall_until_gone(handler.connection)
    return True


def _error(
    handler: Any,
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> None:
    body: dict[str, Any] = {"error": {"message": message, "type": kind}}
    if handler._protocol() == "anthropic":
        body = {"type": "error", "error": {"type": kind, "message": message}}
    handler._send_json(status, orjson.dumps(body), headers)


def _json(handler: Any, obj: Any) -> None:
    handler._send_json(200, orjson.dumps(obj))


# -- OpenAI ---------------------------------------------------------------------------


def _upload(handler: Any, store: Store, raw: bytes) -> None:
    ctype = handler.headers.get("Content-Type", "")
    if not ctype.startswith("multipart/form-data"):
        _error(handler, 400, "expected a multipart/form-data upload")
        return
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (part.get_filename(), payload)
    if fields.get("purpose", (None, b""))[1] != b"batch" or "file" not in fields:
        _error(handler, 400, "an upload needs purpose=batch and a file")
        return
    filename, content = fields["file"]
    ident = store.add_file(filename or "upload.jsonl", content)
    if not _held(handler, store, "upload"):
        _json(handler, _file_object(ident, filename or "upload.jsonl", len(content)))


def _file_object(
    ident: str, name: str, size: int, created: int | None = None, purpose: str = "batch"
) -> dict[str, Any]:
    return {"id": ident, "object": "file", "bytes": size,
            "created_at": int(time.time()) if created is None else created,
            "filename": name, "purpose": purpose, "status": "processed"}  # fmt: skip


def _file_list(handler: Any, store: Store) -> None:
    """``GET /v1/files``: newest first, ``purpose``, ``limit`` and ``after``."""
    purpose = (parse_qs(urlsplit(handler.path).query).get("purpose") or [None])[0]
    with store.lock:
        newest = [
            _file_object(i, name, len(body), store.file_times.get(i),
                         "batch_output" if i in store.outputs else "batch")
            for i in reversed(store.files) for name, body in [store.files[i]]
        ]  # fmt: skip
    newest = [f for f in newest if purpose is None or f["purpose"] == purpose]
    data, more = _page(handler, newest, lambda f: str(f["id"]), "after", 10_000, 10_000)
    _json(handler, {"object": "list", **_listing(data, more)})


def _page(
    handler: Any, newest: list[Any], ident: Any, after_key: str, most: int = 100, usual: int = 20
) -> tuple[list[Any], bool]:
    """One page of a list kept newest first: at most ``limit`` entries (``usual``
    when not given, ``most`` at most), from after the one ``after_key`` names; and
    whether more follow."""
    query = parse_qs(urlsplit(handler.path).query)
    limit = max(1, min(most, int((query.get("limit") or [str(usual)])[0] or usual)))
    after = (query.get(after_key) or [None])[0]
    if after is not None:
        ids = [ident(entry) for entry in newest]
        newest = newest[ids.index(after) + 1 :] if after in ids else []
    return newest[:limit], len(newest) > limit


def _listing(data: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    return {"data": data, "has_more": more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None}  # fmt: skip


def _file(handler: Any, store: Store, ident: str, *, content: bool) -> None:
    found = store.files.get(ident)
    if found is None:
        _error(handler, 404, f"No such File object: {ident}")
        return
    if not content:
        _json(handler, _file_object(ident, found[0], len(found[1])))
        return
    _send_file(handler, store, ident, found[1], "application/jsonl")


def _send_file(handler: Any, store: Store, ident: str, data: bytes, ctype: str) -> None:
    with store.lock:
        cut = store.faults.cut and ident not in store.downloads
        store.downloads.add(ident)
    hold = store.hold("download")
    cut = cut or hold
    handler.send_response(200)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    view = memoryview(data)[: len(data) // 2] if cut else memoryview(data)
    for start in range(0, len(view), 1 << 20):
        handler.wfile.write(view[start : start + (1 << 20)])
    if hold:
        handler.wfile.flush()
        _held(handler, store, None)
    elif cut:
        handler.wfile.flush()
        handler._drop()


def _create(handler: Any, store: Store, raw: bytes) -> None:
    body = _object(raw)
    file = store.files.get(str(body.get("input_file_id")))
    if file is None:
        _error(handler, 400, f"No such File object: {body.get('input_file_id')}")
        return
    if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
        _error(handler, 400, "endpoint must be /v1/chat/completions, completion_window 24h")
        return
    requests = []
    for line in file[1].splitlines():
        if line.strip():
            with contextlib.suppress(orjson.JSONDecodeError):
                requests.append(orjson.loads(line))
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
    batch = Batch(store.new_id("batch_"), "openai", requests, time.time(), time.monotonic(),
                  metadata, input_file_id=str(body["input_file_id"]))  # fmt: skip
    store.add_batch(batch)
    if not _held(handler, store, "create"):
        _json(handler, _openai_batch(handler, store, batch, "validating", 0))


def _list(handler: Any, store: Store) -> None:
    newest = [b for b in reversed(store.batches.values()) if b.protocol == "openai"]
    page, more = _page(handler, newest, lambda b: b.id, "after")
    data = [_openai_batch(handler, store, b, *store.state(b, _replier(handler))) for b in page]
    _json(handler, {"object": "list", **_listing(data, more)})


def _get(handler: Any, store: Store, ident: str) -> None:
    batch = _batch(handler, store, ident)
    if batch is None:
        return
    with store.lock:
        batch.polls += 1
        failing = batch.polls <= store.faults.poll500
    if failing:
        _error(handler, 500, "mock fault: a poll failed", "server_error", {"Retry-After": "0.2"})
        return
    if not _held(handler, store, "poll"):
        _answer_batch(handler, store, batch)


def _cancel(handler: Any, store: Store, ident: str) -> None:
    batch = _batch(handler, store, ident)
    if batch is None:
        return
    with store.lock:
        if batch.cancelled is None and batch.results is None:
            batch.cancelled = time.monotonic()
    _answer_batch(handler, store, batch)


def _batch(handler: Any, store: Store, ident: str) -> Batch | None:
    batch = store.batches.get(ident)
    if batch is None:
        _error(handler, 404, f"No batch found with id '{ident}'.", "not_found_error")
    return batch


def _answer_batch(handler: Any, store: Store, batch: Batch) -> None:
    state, done = store.state(batch, _replier(handler))
    if batch.protocol == "anthropic":
        _json(handler, _anthropic_batch(handler, batch, state, done))
    else:
        _json(handler, _openai_batch(handler, store, batch, state, done))


def _replier(handler: Any) -> Any:
    return lambda protocol, request: answer(handler.server.mock, protocol, request)


def _openai_batch(
    handler: Any, store: Store, batch: Batch, state: str, done: int
) -> dict[str, Any]:
    if state in _ENDED and state != "failed" and not batch.files:
        _openai_files(store, batch)
    succeeded, failed, total = counts(batch, done)
    obj: dict[str, Any] = {
        "id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions",
        "errors": None, "input_file_id": batch.input_file_id, "completion_window": "24h",
        "status": state, "output_file_id": batch.files.get("output"),
        "error_file_id": batch.files.get("error"), "created_at": int(batch.created),
        "request_counts": {"total": total, "completed": succeeded, "failed": failed},
        "metadata": batch.metadata,
    }  # fmt: skip
    if state == "failed":
        obj["errors"] = {"object": "list", "data": [
            {"code": "invalid_request", "message": "mock fault: the input file is invalid",
             "param": None, "line": 1}]}  # fmt: skip
    return obj


def _openai_files(store: Store, batch: Batch) -> None:
    output, errors = [], []
    for n, (custom_id, kind, payload) in enumerate(batch.results or ()):
        line: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": custom_id,
                                "response": None, "error": None}  # fmt: skip
        if kind == "succeeded":
            line["response"] = {"status_code": 200, "request_id": f"req_{n}", "body": payload}
            output.append(orjson.dumps(line))
            continue
        if kind == "errored":
            body = {"error": {"message": payload["message"], "type": "invalid_request_error"}}
            line["response"] = {"status_code": 400, "request_id": f"req_{n}", "body": body}
        else:
            code = "batch_expired" if kind == "expired" else "batch_cancelled"
            line["error"] = {"code": code, "message": f"mock: the request was {kind}"}
        errors.append(orjson.dumps(line))
    output = garble(output, store.faults.garbled)
    if output:
        batch.files["output"] = store.add_file("output.jsonl", b"\n".join(output) + b"\n", True)
    if errors:
        batch.files["error"] = store.add_file("errors.jsonl", b"\n".join(errors) + b"\n", True)


def _object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


# -- Anthropic ------------------------------------------------------------------------


def _anthropic_create(handler: Any, store: Store, raw: bytes) -> None:
    requests = _object(raw).get("requests")
    if not isinstance(requests, list) or not requests:
        _error(handler, 400, "requests: Field required")
        return
    if store.faults.invalid:
        _error(handler, 400, "mock fault: requests.0.params: invalid")
        return
    batch = Batch(store.new_id("msgbatch_"), "anthropic", requests, time.time(), time.monotonic())
    store.add_batch(batch)
    if not _held(handler, store, "create"):
        _json(handler, _anthropic_batch(handler, batch, "validating", 0))


def _anthropic_list(handler: Any, store: Store) -> None:
    """Newest first, ``limit`` and ``after_id`` (the next page, older)."""
    newest = [b for b in reversed(store.batches.values()) if b.protocol == "anthropic"]
    page, more = _page(handler, newest, lambda b: b.id, "after_id")
    data = [_anthropic_batch(handler, b, *store.state(b, _replier(handler))) for b in page]
    _json(handler, _listing(data, more))


def _anthropic_batch(handler: Any, batch: Batch, state: str, done: int) -> dict[str, Any]:
    ended = batch.results is not None
    tally = {"processing": 0 if ended else len(batch.requests), "succeeded": 0, "errored": 0,
             "canceled": 0, "expired": 0}  # fmt: skip
    for _, kind, _ in batch.results or ():
        tally[kind] += 1
    status = "ended" if ended else "canceling" if batch.cancelled else "in_progress"
    host = handler.headers.get("Host", "127.0.0.1")
    return {
        "id": batch.id, "type": "message_batch", "processing_status": status,
        "request_counts": tally, "created_at": _iso(batch.created),
        "ended_at": _iso(time.time()) if ended else None,
        "results_url": f"http://{host}/v1/messages/batches/{batch.id}/results" if ended else None,
    }  # fmt: skip


def _iso(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def _results(handler: Any, store: Store, ident: str) -> None:
    batch = store.batches.get(ident)
    if batch is None or batch.results is None:
        _error(handler, 404, f"batch {ident} has no results yet", "not_found_error")
        return
    lines = []
    for custom_id, kind, payload in batch.results:
        result: dict[str, Any] = {"type": kind}
        if kind == "succeeded":
            result["message"] = payload
        elif kind == "errored":
            error = {"type": "invalid_request_error", "message": payload["message"]}
            result["error"] = {"type": "error", "error": error}
        lines.append(orjson.dumps({"custom_id": custom_id, "result": result}))
    lines = garble(lines, store.faults.garbled)
    _send_file(handler, store, "results-" + ident, b"\n".join(lines) + b"\n", "application/x-jsonl")
