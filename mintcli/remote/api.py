"""HTTP for the batch services: JSON calls with retries, uploads, and downloads
streamed to a file. Errors are mint's own (``wire.transport.mapped_errors`` and
``wire.transport.status_error``); a call is retried as a chat request is (5xx, 429,
a broken connection; Retry-After honoured), except where retrying could
create a second batch (``once=True``).

Every path is under the base URL: an id from the server never makes a URL of
its own. Bodies are asked for uncompressed; one compressed anyway is inflated
in bounded pieces (``wire.bodies.body_pieces``), and a download stops at the
cap its caller gives (a small gzip body may inflate to gigabytes)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import orjson

from mintcli.errors import MintError, ProtocolError, write_failed
from mintcli.options.settings import BatchSettings
from mintcli.run.retry import RetryPolicy
from mintcli.wire.bodies import body_pieces
from mintcli.wire.transport import MAX_BODY_BYTES, MAX_ERROR_BYTES, Transport, status_error


class Api:
    def __init__(
        self,
        base_url: str,
        settings: BatchSettings,
        headers: dict[str, str],
        warn: Callable[[str], None] | None,
        verbose: Callable[[str], None] | None = None,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.verbose = verbose  # -v: one line per request and per answer
        self.transport = Transport(base_url, settings)
        self.client = self.transport.client
        # httpx would ask for gzip and deflate, and inflate a bomb whole.
        self.headers = dict(headers, **{"Accept-Encoding": "identity"})
        self.policy = RetryPolicy(settings.max_retries, settings.retry_base, settings.retry_max)
        self.warn = warn

    def close(self) -> None:
        self.transport.close()

    def url(self, path: str) -> str:
        return self.base + path

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content: Iterable[bytes] | None = None,
        files: Callable[[], dict[str, Any]] | None = None,
        data: dict[str, str] | None = None,
        once: bool = False,
    ) -> Any:
        """One JSON call; the parsed answer. ``content`` (an iterable, so a big
        request body is never held whole) must be re-iterable and ``files``
        (a multipart upload) makes fresh file objects, for a retry."""
        headers = dict(self.headers, Accept="application/json")
        if body is not None:
            content = [orjson.dumps(body)]
        if content is not None:
            headers["Content-Type"] = "application/json"
            if hasattr(content, "length"):
                headers["Content-Length"] = str(content.length)
        url = self.url(path)

        def attempt() -> Any:
            with self.transport.mapped_errors():
                request = self.client.build_request(
                    method,
                    url,
                    headers=headers,
                    content=_iterate(content),
                    files=files() if files else None,
                    data=data,
                )
                raw = self._send(request)
                try:
                    limit = MAX_ERROR_BYTES if raw.status_code >= 300 else MAX_BODY_BYTES
                    answer = _read(raw, limit)
                finally:
                    raw.close()
            if raw.status_code >= 300:
                raise status_error(raw, answer, url)
            try:
                return orjson.loads(answer)
            except orjson.JSONDecodeError:
                raise ProtocolError(f"{url} did not answer with JSON") from None

        return self.retried(attempt, f"{method} {path}", once=once)

    def _send(self, request: httpx.Request) -> httpx.Response:
        if self.verbose is not None:
            self.verbose(f"> {request.method} {request.url}")
        raw = self.client.send(request, stream=True)
        if self.verbose is not None:
            self.verbose(f"< {raw.status_code} {raw.reason_phrase}")
        return raw

    def retried(self, attempt: Callable[[], Any], what: str, *, once: bool = False) -> Any:
        done = 0
        while True:
            try:
                return attempt()
            except MintError as error:
                wait = None if once else self.policy.delay(error, done)
                if wait is None:
                    raise
                if self.warn is not None:
                    self.warn(f"{what}: {error.message}; retrying in {wait:.1f}s")
                time.sleep(wait)
                done += 1

    def download(self, path: str, dest: Path, limit: int) -> None:
        """The body of ``path`` into ``dest``, streamed (never held whole),
        through a temporary file renamed when complete: a cut download is
        started again, and a kill leaves no partial file under ``dest``. A
        body past ``limit`` bytes (inflated) is a protocol error."""
        url = self.url(path)
        partial = dest.with_name(dest.name + ".part")

        def attempt() -> None:
            with self.transport.mapped_errors():
                raw = self._send(self.client.build_request("GET", url, headers=self.headers))
                try:
                    if raw.status_code >= 300:
                        raise status_error(raw, _read(raw, MAX_ERROR_BYTES), url)
                    _save(body_pieces(raw), partial, limit, path)
                finally:
                    raw.close()
            os.replace(partial, dest)

        self.retried(attempt, f"downloading {path}")


def _iterate(content: Iterable[bytes] | None) -> Any:
    """A fresh iterator over ``content`` for each attempt (httpx sends an
    iterator with chunked transfer encoding, never holding it whole)."""
    if content is None:
        return None
    if isinstance(content, list):
        return b"".join(content)
    return iter(content)


def _save(pieces: Iterable[bytes], partial: Path, limit: int, path: str) -> None:
    size = 0
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in pieces:
                size += len(chunk)
                if size > limit:
                    break
                out.write(chunk)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise write_failed(f"the download {partial}", exc) from None
    if size > limit:
        partial.unlink(missing_ok=True)
        raise ProtocolError(
            f"the results at {path} are over {limit >> 20} MiB, more than the batch's "
            "requests can have made: mint stopped reading them"
        )


def _read(raw: httpx.Response, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    for chunk in body_pieces(raw):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(parts)[:limit]
