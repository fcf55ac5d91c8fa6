"""HTTP transport: one httpx client per run (one connection pool, or for mint
batch a kept-alive connection per thread), and the one seam where httpx
exceptions and HTTP statuses become mint errors."""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import orjson

from mintcli import __version__
from mintcli.base.sanitize import clip, redact_headers, redact_url
from mintcli.errors import (
    ConfigError,
    MintError,
    NetworkError,
    ProtocolError,
    ServerError,
    error_for_status,
)
from mintcli.options.settings import Common
from mintcli.protocols import error_message
from mintcli.wire.bodies import Response, body_pieces
from mintcli.wire.connections import (
    ONE,
    ThreadConnections,
    cut_short,
    not_http,
    note_first_bytes,
)
from mintcli.wire.headers import LOCATION, parse_retry_after, response_headers, unfollowed
from mintcli.wire.network import Route, check_route, route, tls_context, trust

if TYPE_CHECKING:
    from mintcli.base.terminal import Terminal
    from mintcli.wire.record import Recorder

USER_AGENT = f"mint/{__version__}"
WRITE_TIMEOUT = 30.0  # sending a request body: generous, and not a user setting
MAX_BODY_BYTES = 16 * 1024 * 1024  # a whole JSON reply (a server that did not stream)
MAX_ERROR_BYTES = 64 * 1024  # an error body: only its message is wanted


def status_error(raw: httpx.Response, body: bytes, url: str) -> MintError:
    """A non-2xx response (``body``: as much of it as was read) as a mint error
    (see ``errors.error_for_status``), naming where a redirect pointed."""
    status, location = raw.status_code, raw.extensions.get(LOCATION)
    message: str | None = None
    try:
        message = error_message(orjson.loads(body))
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        message = clip(text.splitlines()[0], 300) if text else None
    error = error_for_status(status, message, parse_retry_after(raw.headers))
    if status == 404:
        error.message += f" (the URL was {redact_url(url)}: does the base URL end with /v1?)"
    if location is not None:
        error.message += (
            f" (a redirect to {clip(location, 200)}, which mint does not follow: "
            "is the base URL right?)"
        )
    return error


def _os_error(exc: BaseException) -> BaseException | None:
    """The operating system's (or TLS's) error under httpx's and httpcore's."""
    seen = exc
    while seen.__cause__ is not None or seen.__context__ is not None:
        seen = seen.__cause__ or seen.__context__  # type: ignore[assignment]
        if isinstance(seen, OSError):
            return seen
    return None


def _reason(exc: BaseException, *, bare: bool = False) -> str:
    text = str(exc) or type(exc).__name__
    if bare:  # h11 quotes the server's line as "bytearray(b'...')": keep the b'...'
        text = re.sub(r"bytearray\((.*)\)", r"\1", text)
    # httpx nests the OS error text; keep it short and on one line.
    return clip(" ".join(text.split()), 300)


class Transport:
    """One httpx client, kept alive across retries. ``base_url`` is the gateway
    as configured (``source`` says by what), for messages and for deciding
    the proxy and the certificates this one URL needs."""

    @staticmethod
    def open(
        settings: Common, base_url: str, term: Terminal, record: str | None = None
    ) -> tuple[Transport, Recorder | None]:
        """The transport of one run, and its ``--record`` file (closed by the caller)."""
        recorder = None
        if record:
            from mintcli.wire.record import Recorder  # only then: not needed otherwise

            recorder = Recorder(Path(record), term.secrets)
        verbose = term.diag if settings.verbose else None
        return Transport(base_url, settings, verbose=verbose, recorder=recorder), recorder

    def __init__(
        self,
        base_url: str,
        settings: Common,
        *,
        verbose: Callable[[str], None] | None = None,
        recorder: Recorder | None = None,
        threads: bool = False,
    ) -> None:
        """``threads``: requests come from several threads at once (mint batch);
        each thread then keeps a connection of its own (connections.py)."""
        self._base = base_url
        self._source = "--mock" if settings.mock else settings.source("base_url")
        self._retry_refused = settings.retry_connrefused
        self._verbose = verbose
        self.recorder = recorder
        self._urls: dict[str, httpx.URL] = {}
        self.route: Route = route(base_url)
        check_route(base_url, self.route)
        certs = trust(settings.ca_cert, settings.source("ca_cert"))
        verify = tls_context(base_url, self.route, certs)
        proxy = self.route.proxy
        # What httpx.Client builds from verify= and proxy=, noting what it reads first.
        pool: httpx.BaseTransport = note_first_bytes(
            httpx.HTTPTransport(verify=verify, proxy=proxy, trust_env=False)
        )
        if threads:
            pool = ThreadConnections(lambda: note_first_bytes(
                httpx.HTTPTransport(verify=verify, proxy=proxy, limits=ONE, trust_env=False)
            ))  # fmt: skip
        self._client = httpx.Client(
            trust_env=False,  # proxies and certificates come from network.py
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.idle_timeout,  # the longest silence allowed while reading
                write=WRITE_TIMEOUT,
                pool=settings.connect_timeout,
            ),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
            event_hooks={"response": [unfollowed]},
            transport=pool,
        )

    def close(self) -> None:
        self._client.close()

    @property
    def client(self) -> httpx.Client:
        """The httpx client, for requests that are not a chat (mint batch --remote)."""
        return self._client

    # -- errors ------------------------------------------------------------------------
    @contextmanager
    def mapped_errors(self) -> Iterator[None]:
        """Translate httpx's exceptions into mint's, once, here."""
        host = urlsplit(self._base).hostname or self._base
        try:
            yield
        except httpx.ConnectTimeout:
            raise NetworkError(f"timed out connecting to {self._where()}") from None
        except httpx.ConnectError as exc:
            raise self._connect_error(exc) from None
        except httpx.ReadTimeout:
            raise self._cut(host, f"no data from {host} within the idle timeout") from None
        except httpx.WriteTimeout:
            raise NetworkError(f"timed out sending the request to {host}") from None
        except httpx.PoolTimeout:
            raise NetworkError("timed out waiting for a connection") from None
        except httpx.RemoteProtocolError as exc:
            if not cut_short(exc):
                # Bytes that are not HTTP (a status line like "HTTP/1.1 abc", a
                # header h11 refuses, a bad chunk size): the same server answers
                # the same way again, so this is final, not a network blip.
                raise ProtocolError(
                    f"the server at {host} sent a reply that is not valid HTTP "
                    f"({_reason(exc, bare=True)})"
                ) from None
            raise self._cut(host, f"connection to {host} broke: {_reason(exc)}") from None
        except httpx.LocalProtocolError as exc:  # a request h11 will not send: never better
            raise ProtocolError(f"cannot send the request to {host}: {_reason(exc)}") from None
        except httpx.ReadError as exc:
            raise self._cut(host, f"connection to {host} broke: {_reason(exc)}") from None
        except httpx.WriteError as exc:
            raise NetworkError(f"connection to {host} broke: {_reason(exc)}") from None
        except httpx.ProxyError as exc:
            raise NetworkError(f"the {self.route.describe()} failed: {_reason(exc)}") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ConfigError(f"cannot use {self._where()}: {_reason(exc)}") from None
        except httpx.TransportError as exc:
            raise NetworkError(f"network error talking to {host}: {_reason(exc)}") from None

    @staticmethod
    def _cut(host: str, message: str) -> MintError:
        """A connection that ended, or went quiet, before the answer was whole:
        a network failure, retried; unless what the server sent first was not
        HTTP at all (another protocol's server on that port), which is final."""
        head = not_http()
        if head is None:
            return NetworkError(message)
        return ProtocolError(
            f"the server at {host} does not answer in HTTP (it sent {clip(repr(head), 100)}); "
            "is the port in the base URL right?"
        )

    def _where(self) -> str:
        if self.route.proxy:
            return f"the proxy {self.route.proxy} (set by {self.route.source})"
        return f"{redact_url(self._base)} (the base URL, from {self._source})"

    def _connect_error(self, exc: httpx.ConnectError) -> MintError:
        cause = _os_error(exc)
        host = urlsplit(self._base).hostname or self._base
        if isinstance(cause, ssl.SSLCertVerificationError):
            return NetworkError(
                f"the certificate of {host} is not trusted ({cause.verify_message}); "
                "if your network uses a private CA, trust it with --ca-cert FILE "
                "(or ca_cert in the config file, or SSL_CERT_FILE)",
                retryable=False,
                setup=True,
            )
        if isinstance(cause, ssl.SSLError) and cause.reason == "WRONG_VERSION_NUMBER":
            return ProtocolError(  # plain HTTP (or anything but TLS) where TLS was asked for
                f"the server at {host} does not answer in TLS ({_reason(cause)}); should "
                f"the base URL (from {self._source}) start with http:// instead of https://?"
            )
        if isinstance(cause, socket.gaierror) and not self.route.proxy:
            what = f"cannot resolve the host name {host}"
        elif isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED:
            what = "connection refused"
        else:
            return NetworkError(f"cannot connect to {self._where()}: {_reason(exc)}")
        # Far more often a wrong setting than a blip: retried only when asked (as curl).
        hint = "" if self._retry_refused else " (--retry-connrefused retries it)"
        if self.route.proxy:
            message = (
                f"cannot connect to the proxy {self.route.proxy} ({what}); "
                f"the proxy comes from {self.route.source}"
            )
        else:
            message = (
                f"cannot connect to {redact_url(self._base)} ({what}); "
                f"the base URL comes from {self._source}"
            )
        return NetworkError(
            message + hint, retryable=self._retry_refused, setup=not self._retry_refused
        )

    # -- -v ----------------------------------------------------------------------------
    def note(self, text: str) -> None:
        """A line for -v (nothing without it)."""
        if self._verbose is not None:
            self._verbose(text)

    def _log_request(self, request: httpx.Request) -> None:
        if self._verbose is None:
            return
        self._verbose(f"> {request.method} {redact_url(str(request.url))}")
        if self.route.proxy:
            self._verbose(f"> (through the {self.route.describe()})")
        for k, v in redact_headers(request.headers.items()).items():
            self._verbose(f"> {k}: {v}")

    def _log_response(self, raw: httpx.Response) -> None:
        if self._verbose is None:
            return
        self._verbose(f"< {raw.http_version} {raw.status_code} {raw.reason_phrase}")
        for k, v in response_headers(raw):
            self._verbose(f"< {k}: {v}")

    # -- requests ------------------------------------------------------------------------
    def _read(self, raw: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
        """The body, up to ``limit`` bytes: an error body is cut there; a reply
        body longer than that is a protocol error."""
        parts: list[bytes] = []
        size = 0
        try:
            with self.mapped_errors():
                for chunk in body_pieces(raw):
                    if self.recorder is not None:
                        self.recorder.chunk(chunk)
                    parts.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        if truncate:
                            break
                        raise ProtocolError(
                            f"the reply body is larger than {limit // (1024 * 1024)} MiB, "
                            "mint's limit for a reply that is not streamed"
                        )
        except ProtocolError:
            if not truncate:
                raise  # an error body that does not decode still leaves its HTTP status
        return b"".join(parts)[:limit]

    def _parsed(self, url: str) -> httpx.URL:
        """The URL parsed once: parsing it costs about half of building a
        request (mint batch sends thousands to the same one)."""
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    @contextmanager
    def stream(self, url: str, headers: dict[str, str], body: bytes) -> Iterator[Response]:
        """POST and yield the response once its status is known to be 2xx. An
        event stream is read chunk by chunk; a whole JSON body (a server that
        does not stream) is read here. Error bodies are read and mapped first."""
        recorder = self.recorder
        with self.mapped_errors():
            request = self._client.build_request(
                "POST",
                self._parsed(url),
                content=body,
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "Accept": "text/event-stream",
                    # Compression would make the server or a proxy hold pieces back.
                    "Accept-Encoding": "identity",
                },
            )
            self._log_request(request)
            if recorder is not None:
                recorder.attempt(request.method, str(request.url), request.headers.items(), body)
            raw = self._client.send(request, stream=True)
        failure: str | None = None
        response = Response(raw, self.recorder, self.mapped_errors)
        try:
            self._log_response(raw)
            if recorder is not None:
                recorder.response(raw.status_code, response_headers(raw))
            if raw.status_code >= 300:
                content = self._read(raw, MAX_ERROR_BYTES, truncate=True)
                response.complete = len(content) < MAX_ERROR_BYTES
                raise status_error(raw, content, url)
            ctype = raw.headers.get("content-type", "")
            if "text/event-stream" not in ctype.lower():  # media types ignore case
                content = self._read(raw, MAX_BODY_BYTES)
                response.complete = True
                response.whole = self._whole_body(content, ctype, raw.status_code)
            yield response
        except BaseException as exc:
            failure = str(exc) or type(exc).__name__
            raise
        finally:
            raw.close()
            if recorder is not None:
                recorder.end(response.complete, failure)

    def _whole_body(self, content: bytes, ctype: str, status: int) -> bytes:
        try:
            parsed = orjson.loads(content)
        except orjson.JSONDecodeError:
            parsed = None
        message = error_message(parsed)
        if message:
            raise ServerError(f"server error: {message}")
        if not isinstance(parsed, dict):
            raise ProtocolError(
                f"expected an event stream, got {ctype or 'no content type'} (HTTP {status})"
            )
        if self._verbose is not None:
            self._verbose("< (one JSON body instead of an event stream: printed as if streamed)")
        return content

    def get_json(self, url: str, headers: dict[str, str]) -> Any:
        with self.mapped_errors():
            request = self._client.build_request(
                "GET",
                url,
                headers={**headers, "Accept": "application/json", "Accept-Encoding": "identity"},
            )
            self._log_request(request)
            raw = self._client.send(request, stream=True)
        try:
            self._log_response(raw)
            if raw.status_code >= 300:
                content = self._read(raw, MAX_ERROR_BYTES, truncate=True)
                raise status_error(raw, content, url)
            content = self._read(raw, MAX_BODY_BYTES)
        finally:
            raw.close()
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            raise ProtocolError(f"{url} did not return JSON") from None
