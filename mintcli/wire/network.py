"""How mint reaches the gateway: the proxy (if any) and the certificates it trusts.

mint decides both itself instead of leaving them to httpx's ``trust_env``, so
that it can say where a setting came from when it fails (``the proxy comes
from HTTPS_PROXY``), load only what this one URL needs (a SOCKS proxy that
NO_PROXY bypasses needs no SOCKS support; a plain-http gateway no CA bundle),
and turn a bad setting into a clear configuration error.

Proxies: ``{scheme}_proxy`` then ``all_proxy`` (lower case first, as curl and
urllib read them, then upper case), bypassed by ``no_proxy``/``NO_PROXY``: a
comma-separated list of host names (``example.com`` also covers its
subdomains, ``.example.com`` only them), IP addresses (IPv6 with or without
brackets), ``localhost``, or ``*`` for every host. On macOS and Windows the
system proxy settings count when no variable is set.

Certificates: ``--ca-cert``/``ca_cert``, else ``SSL_CERT_FILE``, else
``SSL_CERT_DIR``, else the certifi bundle that comes with httpx.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mintcli.errors import ConfigError


@dataclass(frozen=True)
class Route:
    """The proxy mint goes through for one URL (None: straight there)."""

    proxy: str | None = None
    source: str | None = None  # the variable (or "the system proxy settings") it came from

    def describe(self) -> str:
        return f"proxy {self.proxy} (from {self.source})" if self.proxy else "no proxy"


def _env(environ: Mapping[str, str], name: str) -> tuple[str | None, str]:
    for variable in (name.lower(), name.upper()):
        value = environ.get(variable)
        if value:
            return value.strip(), variable
    return None, name.upper()


def _bypassed(host: str, no_proxy: str) -> bool:
    host = host.lower().strip("[]")
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        entry = entry.strip("[]")
        if entry.startswith("."):
            if host.endswith(entry):
                return True
        elif host == entry or host.endswith("." + entry):
            return True
    return False


def route(url: str, environ: Mapping[str, str] | None = None) -> Route:
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    host = parts.hostname or ""
    no_proxy, _ = _env(env, "no_proxy")
    if no_proxy and _bypassed(host, no_proxy):
        return Route()
    for name in (f"{parts.scheme}_proxy", "all_proxy"):
        value, variable = _env(env, name)
        if value:
            return Route(value if "://" in value else f"http://{value}", variable)
    if environ is None and not any(k.lower().endswith("_proxy") for k in env):
        return _system_route(url, parts.scheme)
    return Route()


def _system_route(url: str, scheme: str) -> Route:
    """macOS and Windows keep proxies in system settings (urllib reads them;
    on Linux this finds nothing more than the environment did)."""
    from urllib.request import getproxies, proxy_bypass

    proxies = getproxies()
    value = proxies.get(scheme) or proxies.get("all")
    if not value or proxy_bypass(urlsplit(url).hostname or ""):
        return Route()
    return Route(value if "://" in value else f"http://{value}", "the system proxy settings")


def check_route(url: str, way: Route) -> None:
    """What the HTTP stack cannot do, as a configuration error before anything is
    sent: a SOCKS proxy needs httpx's optional SOCKS support (socksio); an IPv6
    address in the base URL cannot go through an HTTP proxy (httpx writes the
    request line without the brackets, which proxies reject or misread)."""
    if not way.proxy:
        return
    if ":" in (urlsplit(url).hostname or "") and way.proxy.lower().startswith("http"):
        raise ConfigError(
            f"the base URL {url} has an IPv6 address, which cannot go through the HTTP "
            f"proxy {way.proxy} (set by {way.source}); add it to NO_PROXY to connect directly"
        )
    if way.proxy.lower().startswith("socks"):
        from importlib.util import find_spec

        if find_spec("socksio") is None:
            raise ConfigError(
                f"{way.source}={way.proxy} is a SOCKS proxy, which needs SOCKS support: "
                "pip install 'mintcli[socks]'"
            )


@dataclass(frozen=True)
class Trust:
    """Where the trusted CA certificates come from."""

    path: str | None = None  # a file or directory; None: certifi's bundle
    source: str = "the default (certifi)"


def trust(ca_cert: str | None, ca_source: str, environ: Mapping[str, str] | None = None) -> Trust:
    env = os.environ if environ is None else environ
    if ca_cert:
        return Trust(ca_cert, ca_source)
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        if env.get(variable):
            return Trust(env[variable], variable)
    return Trust()


def tls_context(url: str, way: Route, certs: Trust) -> Any:
    """What httpx verifies servers with. Loading a CA bundle costs about 20 ms,
    so a plain-http gateway reached without a proxy (mint mock, a local proxy)
    gets an empty context instead: it trusts no certificate, failing closed if
    TLS ever did come up."""
    if url.lower().startswith("http://") and way.proxy is None:
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if certs.path is None:
        return True  # httpx loads certifi's bundle
    path = os.path.expanduser(certs.path)
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise ConfigError(
            f"{certs.source}: cannot load CA certificates from {certs.path} ({reason})"
        ) from None
