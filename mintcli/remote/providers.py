"""The two batch services, behind one interface: what a request line looks
like, the limits of one batch, how to submit, poll, cancel and download one,
and how to read one line of its results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import orjson

from mintcli.batch.results import error_object
from mintcli.errors import (
    ExitCode,
    ProtocolError,
    RequestRejected,
    ServerError,
    error_for_status,
)
from mintcli.protocols.base import error_kind, error_message
from mintcli.remote.answers import (
    Unfinished,
    count,
    epoch,
    ident,
    listed,
    newest,
    segment,
    string,
)
from mintcli.remote.api import Api
from mintcli.remote.job import Part, all_jobs

# A tagged batch is looked for back to this many seconds before the create
# that may have made it (clocks differ a little).
SKEW = 300.0


@dataclass(frozen=True)
class Status:
    state: str  # the provider's own word
    ended: bool
    done: int
    failed: int
    total: int
    downloads: tuple[str, ...] = ()  # what holds the results (paths under the base URL)
    problem: str | None = None  # why the whole batch failed


@dataclass(frozen=True)
class Outcome:
    """One line of a results file."""

    custom_id: str
    state: str  # succeeded, errored, expired or canceled
    body: dict[str, Any] | None  # the reply, as a whole JSON reply
    error: dict[str, Any] | None  # mint's error object


class Provider:
    name: ClassVar[str]
    max_requests: ClassVar[int]
    max_bytes: ClassVar[int]
    one_model: ClassVar[bool]

    def __init__(self, redact: Callable[[str], str] = str) -> None:
        # The key out of what the server says (a state, a failed batch's reason,
        # an item's error): it goes to stdout, the -O file and the job file, as a
        # local batch's error messages do only after term.secrets.redact.
        self.redact = redact

    def _id(self, obj: Any, what: str, key: str = "id") -> str:
        """An id the server gave, to be printed and stored: a plain token
        (answers.ID) that does not hold the key."""
        value = ident(obj, what, key)
        if self.redact(value) != value:
            raise ProtocolError(f"the server gave a {what} id that holds the API key")
        return value

    def request_line(self, custom_id: str, body: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def submit(self, api: Api, job: str, part: Part, path: Path, save: Callable[[], None]) -> None:
        """Create the part's batch, recording each id (``save``) as soon as it exists."""
        raise NotImplementedError

    def status(self, api: Api, batch: str) -> Status:
        raise NotImplementedError

    def cancel(self, api: Api, batch: str) -> Status:
        raise NotImplementedError

    def outcome(self, line: bytes) -> Outcome:
        """One line of a results file."""
        raise NotImplementedError


def get_provider(protocol: str, redact: Callable[[str], str] = str) -> Provider:
    """The service of ``protocol``; ``redact`` takes the key out of its words."""
    return AnthropicBatches(redact) if protocol == "anthropic" else OpenAIBatches(redact)


def _expired(custom_id: str) -> Outcome:
    message = "the request expired: the provider did not run it within the batch's 24h window"
    return Outcome(custom_id, "expired", None, error_object(ExitCode.SERVER, message))


def _canceled(custom_id: str) -> Outcome:
    message = "the request was canceled before it ran (the batch was cancelled)"
    return Outcome(custom_id, "canceled", None, error_object(ExitCode.SERVER, message))


def _errored(
    custom_id: str, status: int, message: str | None, redact: Callable[[str], str]
) -> Outcome:
    """A request the provider answered with an error status, classified as a chat's."""
    failure = error_for_status(status, message)
    message = redact(failure.message)
    return Outcome(custom_id, "errored", None, error_object(failure.exit_code, message))


def _load(line: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict) or not isinstance(obj.get("custom_id"), str):
        raise ProtocolError("malformed line in the batch results: not an object with custom_id")
    return obj


class OpenAIBatches(Provider):
    """The OpenAI Batch API: a JSONL file uploaded to ``/files`` (purpose
    batch), a batch made of it at ``/batches``, results in an output file and
    an error file, both unordered (joined on custom_id)."""

    name = "openai"
    # OpenAI Batch API limits for one input file (platform.openai.com/docs/guides/batch,
    # "Rate limits"): at most 50,000 requests and 200 MB, and one model per file.
    max_requests = 50_000
    max_bytes = 200 * 1000 * 1000
    one_model = True

    def request_line(self, custom_id: str, body: dict[str, Any]) -> bytes:
        line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions"}
        return orjson.dumps({**line, "body": body}) + b"\n"

    def submit(self, api: Api, job: str, part: Part, path: Path, save: Callable[[], None]) -> None:
        name = f"mint-{job}-{part.n}.jsonl"
        if part.file is None and part.uploading is not None:
            # An upload cut off before its answer was recorded: the file is
            # found by its name (the job's and the part's) and size.
            part.file = self._find_file(api, name, part.size, part.uploading - SKEW)
            if part.file is not None:
                save()
        if part.file is None:
            part.uploading = time.time()
            save()
            with path.open("rb") as fh:

                def files() -> dict[str, Any]:
                    fh.seek(0)  # from the start again on a retry
                    return {"file": (name, fh, "application/jsonl")}

                uploaded = api.call("POST", "/files", files=files, data={"purpose": "batch"})
            part.file = self._id(uploaded, "file")
            save()
        tag = {"mint_job": job, "mint_part": str(part.n)}
        if part.creating is not None:  # a create was cut off before its answer was recorded
            part.batch = self._find(api, tag, part.creating - SKEW)
            if part.batch is not None:
                save()
                return
        part.creating = time.time()
        save()
        request = {"input_file_id": part.file, "endpoint": "/v1/chat/completions",
                   "completion_window": "24h", "metadata": tag}  # fmt: skip
        created = api.call("POST", "/batches", body=request, once=True)
        part.batch = self._id(created, "batch")
        save()

    def _find_file(self, api: Api, name: str, size: int, since: float) -> str | None:
        """The uploaded file of that name and size, newest first back to ``since``.
        A gateway that cannot list files (some proxies) costs only a second upload."""
        try:
            found = newest(
                api,
                "/files?purpose=batch",
                since,
                lambda f: f.get("filename") == name and f.get("bytes") == size,
                "file",
            )
        except (RequestRejected, ServerError, ProtocolError):
            # Nor one whose list never ends (answers.Unfinished): an upload is free.
            return None
        return self._id(found, "file") if found is not None else None

    def _find(self, api: Api, tag: dict[str, str], since: float) -> str | None:
        """The batch tagged ``tag``, looked for newest first back to ``since``
        (create takes no idempotency key: the tag is how a resumed job knows)."""

        def tagged(batch: dict[str, Any]) -> bool:
            metadata = batch.get("metadata")
            return isinstance(metadata, dict) and all(metadata.get(k) == v for k, v in tag.items())

        try:
            found = newest(api, "/batches", since, tagged, "batch")
        except Unfinished as error:
            raise _undecided(error) from None
        return self._id(found, "batch") if found is not None else None

    def status(self, api: Api, batch: str) -> Status:
        return self._status(api.call("GET", f"/batches/{segment(batch)}"))

    def cancel(self, api: Api, batch: str) -> Status:
        return self._status(api.call("POST", f"/batches/{segment(batch)}/cancel"))

    def _status(self, obj: Any) -> Status:
        state = self.redact(string(obj, "status", "batch"))
        counts = obj.get("request_counts")
        failed = count(counts, "failed")
        done = count(counts, "completed") + failed
        # An output or error file's id goes into a path: a plain token, or exit 8.
        files = [self._id(obj, "results file", k) for k in ("output_file_id", "error_file_id")
                 if isinstance(obj.get(k), str) and obj[k]]  # fmt: skip
        problem = None
        if state == "failed":
            errors = obj.get("errors")
            errors = errors.get("data") if isinstance(errors, dict) else None
            first = errors[0] if isinstance(errors, list) and errors else None
            message = first.get("message") if isinstance(first, dict) else None
            problem = self.redact(str(message or "the batch failed validation"))
        return Status(
            state,
            state in ("completed", "failed", "expired", "cancelled"),
            done,
            failed,
            count(counts, "total"),
            tuple(f"/files/{segment(f)}/content" for f in files),
            problem,
        )

    def outcome(self, line: bytes) -> Outcome:
        obj = _load(line)
        custom_id = obj["custom_id"]
        error = obj.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            if code == "batch_expired":
                return _expired(custom_id)
            if code == "batch_cancelled":
                return _canceled(custom_id)
            return _errored(custom_id, 500, str(error.get("message") or code), self.redact)
        response = obj.get("response")
        if not isinstance(response, dict):
            response = {}
        status = response.get("status_code")
        body = response.get("body")
        if status == 200 and isinstance(body, dict):
            return Outcome(custom_id, "succeeded", body, None)
        code = status if isinstance(status, int) and 400 <= status < 600 else 500
        return _errored(custom_id, code, error_message(body), self.redact)


class AnthropicBatches(Provider):
    """Anthropic Message Batches: the requests in the create call's body,
    results as JSONL (unordered) at ``/messages/batches/ID/results``."""

    name = "anthropic"
    # Anthropic Message Batches limits (docs.anthropic.com, "Batch processing"):
    # at most 100,000 requests or 256 MB per batch, whichever comes first.
    max_requests = 100_000
    max_bytes = 256 * 1000 * 1000
    one_model = False

    def request_line(self, custom_id: str, body: dict[str, Any]) -> bytes:
        return orjson.dumps({"custom_id": custom_id, "params": body}) + b"\n"

    def submit(self, api: Api, job: str, part: Part, path: Path, save: Callable[[], None]) -> None:
        # No metadata and no idempotency key: the id is recorded the moment create
        # answers. After a kill before that, a batch of the part's size created
        # then is taken for it, and its results are checked (custom_ids carry the
        # job's tag) before they are used.
        if part.creating is not None:
            part.batch = self._find(api, part, part.creating - SKEW)
            if part.batch is not None:
                part.found = True
                save()
                if api.warn is not None:
                    api.warn(
                        f"part {part.n}: re-attached to {part.batch}, which the stopped run "
                        "seems to have created (its results are checked to be this job's)"
                    )
                return
        part.creating = time.time()
        save()
        created = api.call(
            "POST", "/messages/batches", content=_Requests(path, part.count), once=True
        )
        part.batch = self._id(created, "batch")
        save()

    def _find(self, api: Api, part: Part, since: float) -> str | None:
        """The newest batch no local job knows, created after ``since``, with as
        many requests as ``part`` (and not one already found not to be its)."""
        known = {batch for job in all_jobs() for batch in job.batches()}
        try:
            for batch in listed(api, "/messages/batches", "after_id", "batch"):
                created = epoch(batch.get("created_at"))
                if created is not None and created < since:
                    return None
                found = self._id(batch, "batch")
                mine = found not in known and found not in part.rejected
                if mine and self._status(batch).total == part.count:
                    return found
        except Unfinished as error:
            raise _undecided(error) from None
        return None

    def status(self, api: Api, batch: str) -> Status:
        return self._status(api.call("GET", f"/messages/batches/{segment(batch)}"))

    def cancel(self, api: Api, batch: str) -> Status:
        return self._status(api.call("POST", f"/messages/batches/{segment(batch)}/cancel"))

    def _status(self, obj: Any) -> Status:
        state = self.redact(string(obj, "processing_status", "batch"))
        counts = obj.get("request_counts")
        failed = sum(count(counts, k) for k in ("errored", "canceled", "expired"))
        done = failed + count(counts, "succeeded")
        ended = state == "ended"
        batch = self._id(obj, "batch")
        downloads = (f"/messages/batches/{segment(batch)}/results",) if ended else ()
        total = done + count(counts, "processing")
        return Status(state, ended, done, failed, total, downloads)

    def outcome(self, line: bytes) -> Outcome:
        obj = _load(line)
        custom_id = obj["custom_id"]
        result = obj.get("result")
        if not isinstance(result, dict):
            result = {}
        kind = result.get("type")
        if kind == "succeeded" and isinstance(result.get("message"), dict):
            return Outcome(custom_id, "succeeded", result["message"], None)
        if kind == "expired":
            return _expired(custom_id)
        if kind == "canceled":
            return _canceled(custom_id)
        error = result.get("error")  # {"type": "error", "error": {"type", "message"}}
        message = error_message(error) or "the request failed"
        status = 500 if (error_kind(error) or "").startswith(("api_error", "overloaded")) else 400
        return _errored(custom_id, status, message, self.redact)


class _Requests:
    """The create body ``{"requests": [...]}`` read from the part's file, once
    per attempt, never held whole."""

    def __init__(self, path: Path, count: int) -> None:
        self.path = path
        # Sent with its length: some servers take no chunked request body.
        self.length = 13 + path.stat().st_size - count + max(0, count - 1) + 2

    def __iter__(self) -> Iterator[bytes]:
        yield b'{"requests":['
        with self.path.open("rb") as fh:
            for n, line in enumerate(fh):
                yield (b"," if n else b"") + line.rstrip(b"\n")
        yield b"]}"


def _undecided(error: Unfinished) -> ProtocolError:
    """A batch search that could not finish: creating the part again might pay
    for it twice, so the run stops and says so (a file search falls back to a
    second upload instead, which costs nothing)."""
    return ProtocolError(
        f"{error.message}: mint cannot tell whether the stopped run created this part's "
        "batch, and does not create it again blindly; look for it in the provider's "
        "console, or remove the job's directory (under $XDG_STATE_HOME/mint/batches/) "
        "to send the part anew"
    )
