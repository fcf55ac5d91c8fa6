"""HTTP transport: one httpx client (one connection pool) per run, and the one
seam where httpx exceptions and HTTP statuses become mint errors."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import orjson

from mintcli import __version__
from mintcli.errors import (
    MintError,
    NetworkError,
    ProtocolError,
    ServerError,
    error_for_status,
)
from mintcli.protocols import error_message
from mintcli.sanitize import redact_headers
from mintcli.settings import Common

USER_AGENT = f"mint/{__version__}"


def tls_verify(base_url: str, proxies: dict[str, str] | None = None) -> Any:
    """What httpx should verify TLS servers with. ``True`` makes it load its CA
    bundle, about 20 ms at every start. A plain-http gateway (``mint mock``, a
    local proxy) reached without a proxy never does TLS, so it gets an empty
    context instead: one that trusts no certificate, failing closed if TLS ever
    did come up. ``proxies`` defaults to what httpx itself will use (the
    environment, and on macOS and Windows the system settings)."""
    if not base_url.lower().startswith("http://"):
        return True
    if proxies is None:
        from urllib.request import getproxies  # already loaded by httpx

        proxies = getproxies()
    if any(proxies.get(scheme) for scheme in ("http", "https", "all")):
        return True
    import ssl

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """``retry-after-ms`` (milliseconds), else ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_error(status: int, body: bytes, headers: httpx.Headers) -> MintError:
    """A non-2xx response as a mint error (see ``errors.error_for_status``)."""
    message: str | None = None
    try:
        message = error_message(orjson.loads(body))
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip()
        message = text.splitlines()[0][:300] if text else None
    return error_for_status(status, message, parse_retry_after(headers))


@contextmanager
def mapped_errors(host: str) -> Iterator[None]:
    """Translate httpx's exceptions into mint's, once, here."""
    try:
        yield
    except httpx.ConnectTimeout:
        raise NetworkError(f"timed out connecting to {host}") from None
    except httpx.ConnectError as exc:
        raise NetworkError(f"cannot connect to {host}: {_reason(exc)}") from None
    except httpx.ReadTimeout:
        raise NetworkError(f"no data from {host} within the idle timeout") from None
    except httpx.WriteTimeout:
        raise NetworkError(f"timed out sending the request to {host}") from None
    except httpx.PoolTimeout:
        raise NetworkError("timed out waiting for a connection") from None
    except httpx.RemoteProtocolError as exc:
        raise NetworkError(f"connection to {host} broke: {_reason(exc)}") from None
    except httpx.ReadError as exc:
        raise NetworkError(f"connection to {host} broke: {_reason(exc)}") from None
    except httpx.WriteError as exc:
        raise NetworkError(f"connection to {host} broke: {_reason(exc)}") from None
    except httpx.UnsupportedProtocol as exc:
        raise NetworkError(f"unsupported URL: {exc}") from None
    except httpx.TransportError as exc:
        raise NetworkError(f"network error talking to {host}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    # httpx nests the OS error text; keep it short and on one line.
    return " ".join(text.split())[:300]


class Response:
    """A streaming response whose status was checked."""

    def __init__(self, raw: httpx.Response, host: str) -> None:
        self._raw = raw
        self._host = host
        self.status = raw.status_code
        self.headers = raw.headers

    def chunks(self) -> Iterator[bytes]:
        with mapped_errors(self._host):
            yield from self._raw.iter_bytes()


WRITE_TIMEOUT = 30.0  # sending a request body: generous, and not a user setting


class Transport:
    """One httpx client (one connection pool, kept alive across retries).
    ``url`` is the gateway URL it will talk to: a plain-http one reached without
    a proxy never needs the CA certificates, so they are not loaded."""

    def __init__(self, url: str, settings: Common, verbose: Any = None) -> None:
        self._verbose = verbose  # callable(str) for -v lines, or None
        self._client = httpx.Client(
            verify=tls_verify(url),
            timeout=httpx.Timeout(
                connect=settings.connect_timeout,
                read=settings.idle_timeout,  # the longest silence allowed while reading
                write=WRITE_TIMEOUT,
                pool=settings.connect_timeout,
            ),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
            trust_env=True,
        )

    def close(self) -> None:
        self._client.close()

    def _log_request(self, method: str, url: str, headers: dict[str, str]) -> None:
        if self._verbose is None:
            return
        self._verbose(f"> {method} {url}")
        merged = {**dict(self._client.headers), **headers}
        for k, v in redact_headers(merged).items():
            self._verbose(f"> {k}: {v}")

    def _log_response(self, raw: httpx.Response) -> None:
        if self._verbose is None:
            return
        self._verbose(f"< {raw.http_version} {raw.status_code} {raw.reason_phrase}")
        for k, v in raw.headers.items():
            self._verbose(f"< {k}: {v}")

    @contextmanager
    def stream(self, url: str, headers: dict[str, str], body: bytes) -> Iterator[Response]:
        """POST and yield the response once its status is known to be 2xx and its
        content type an event stream. Error bodies are read and mapped first."""
        host = httpx.URL(url).host or url
        self._log_request("POST", url, headers)
        with mapped_errors(host):
            request = self._client.build_request(
                "POST",
                url,
                content=body,
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "Accept": "text/event-stream",
                    # Compression would make the server or a proxy hold pieces back.
                    "Accept-Encoding": "identity",
                },
            )
            raw = self._client.send(request, stream=True)
        try:
            self._log_response(raw)
            if raw.status_code >= 300:
                with mapped_errors(host):
                    content = raw.read()
                raise status_error(raw.status_code, content, raw.headers)
            ctype = raw.headers.get("content-type", "")
            if "text/event-stream" not in ctype:
                with mapped_errors(host):
                    content = raw.read()
                try:
                    parsed = orjson.loads(content)
                except orjson.JSONDecodeError:
                    parsed = None
                message = error_message(parsed)
                if message:
                    raise ServerError(f"server error: {message}")
                raise ProtocolError(
                    f"expected an event stream, got {ctype or 'no content type'} "
                    f"(HTTP {raw.status_code})"
                )
            yield Response(raw, host)
        finally:
            raw.close()

    def get_json(self, url: str, headers: dict[str, str]) -> Any:
        host = httpx.URL(url).host or url
        self._log_request("GET", url, headers)
        with mapped_errors(host):
            raw = self._client.get(url, headers={**headers, "Accept": "application/json"})
        self._log_response(raw)
        if raw.status_code >= 300:
            raise status_error(raw.status_code, raw.content, raw.headers)
        try:
            return orjson.loads(raw.content)
        except orjson.JSONDecodeError:
            raise ProtocolError(f"{url} did not return JSON") from None
