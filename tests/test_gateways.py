"""Real gateways and first contact: JSON replies to stream requests, Retry-After
over the cap, refused connections, the 404 hint, certificates, proxies, record and
replay, and the messages a new user meets first."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import jsonl, mock_env, run_mint

from mintcli.mock.script import POEM

PROTOCOLS = ["openai", "anthropic"]
FORMATS = ["text", "raw", "jsonl", "json"]


def _stable(fmt: str, out: bytes) -> Any:
    """An output without what differs between runs (ids, times, journal names)."""
    if fmt == "text":
        return out
    if fmt == "json":
        obj = json.loads(out)
        return {k: v for k, v in obj.items() if k not in ("attempts", "resumed", "conversation")}
    lines = [json.loads(line) for line in out.splitlines()]
    if fmt == "raw":
        return [json.dumps(x, sort_keys=True) for x in lines]
    return [
        {k: v for k, v in e.items() if k not in ("journal", "delay", "conversation")} for e in lines
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_json_reply_to_a_stream_request_prints_as_if_streamed(
    make_mock: Any, env: dict[str, str], tmp_path: Path, protocol: str
) -> None:
    script = tmp_path / "s.json"
    calls = [{"name": "get_weather", "arguments": {"location": "北京"}}]
    rule = {"text": "晴,25度。", "reasoning": "想一想", "tool_calls": calls}
    script.write_text(json.dumps([{**rule, "stream": False}]))
    whole = make_mock(script=script)
    script2 = tmp_path / "s2.json"
    script2.write_text(json.dumps([rule]))
    streamed = make_mock(script=script2)
    for fmt in ("text", "jsonl", "json"):
        args = ["chat", "--protocol", protocol, "--format", fmt, "--no-journal", "天气"]
        got = run_mint(args, mock_env(env, whole))
        want = run_mint(args, mock_env(env, streamed))
        assert got.returncode == want.returncode == 0, got.stderr
        if fmt == "jsonl":  # the same events a stream gives (text arrives in one piece)
            kinds = [e["type"] for e in jsonl(got.stdout)]
            assert kinds == ["start", "reasoning", "text", "tool_call", "usage", "done"]
            text = "".join(e["text"] for e in jsonl(got.stdout) if e["type"] == "text")
            assert text == "晴,25度。"
            assert jsonl(got.stdout)[-1] == jsonl(want.stdout)[-1]
        else:
            assert _stable(fmt, got.stdout) == _stable(fmt, want.stdout)
    raw = run_mint(["chat", "--protocol", protocol, "-f", "raw", "-v", "hi"], mock_env(env, whole))
    assert raw.returncode == 0, raw.stderr
    (line,) = raw.stdout.splitlines()  # the one object as one line
    assert json.loads(line)["model"] == "openai/gpt-4o"
    assert "one JSON body instead of an event stream" in raw.stderr.decode()


def test_a_json_body_that_is_no_reply_is_still_a_protocol_error(
    sse_server: Any, env: dict[str, str]
) -> None:
    from sse_server import Canned

    sse_server.queue(
        Canned(body=[b'{"hello": "world"}'], headers={"Content-Type": "application/json"})
    )
    r = run_mint(["chat", "hi"], {**env, "MINT_BASE_URL": sse_server.base_url})
    assert r.returncode == 8 and "expected an event stream" in r.stderr.decode()
    assert "internal error" not in r.stderr.decode()


def test_retry_after_longer_than_the_cap_fails_at_once(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="status=429,retry_after=3600")
    start = time.monotonic()
    r = run_mint(["chat", "hi"], mock_env(env, server))
    assert r.returncode == 6
    assert time.monotonic() - start < 10  # not five retries, not an hour
    assert len([q for q in server.requests if q["method"] == "POST"]) == 1
    assert "asked to wait 3600s" in r.stderr.decode()


def test_a_refused_connection_fails_at_once_naming_the_url_and_its_source(
    env: dict[str, str], refused_url: str
) -> None:
    start = time.monotonic()
    r = run_mint(["chat", "--format", "jsonl", "hi"], {**env, "MINT_BASE_URL": refused_url})
    assert r.returncode == 7 and time.monotonic() - start < 5
    err = r.stderr.decode()
    assert f"cannot connect to {refused_url} (connection refused)" in err
    assert "the base URL comes from MINT_BASE_URL" in err
    assert not [e for e in jsonl(r.stdout) if e["type"] == "retry"]
    r = run_mint(["chat", "--base-url", refused_url, "hi"], env)
    assert "comes from --base-url" in r.stderr.decode()
    # retried when asked, as curl --retry-connrefused
    r = run_mint(
        [
            "chat",
            "--retry-connrefused",
            "--max-retries",
            "2",
            "--retry-base",
            "0.01",
            "-f",
            "jsonl",
            "hi",
        ],
        {**env, "MINT_BASE_URL": refused_url},
    )
    assert r.returncode == 7
    assert len([e for e in jsonl(r.stdout) if e["type"] == "retry"]) == 2


def test_404_on_the_chat_path_hints_at_the_base_url(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    base = server.base_url.removesuffix("/v1")
    r = run_mint(["chat", "hi"], {**env, "MINT_BASE_URL": base})
    assert r.returncode == 4
    err = r.stderr.decode()
    assert f"{base}/chat/completions" in err and "does the base URL end with /v1?" in err


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_record_then_replay_gives_the_same_output_in_every_format(
    make_mock: Any, env: dict[str, str], tmp_path: Path, protocol: str
) -> None:
    live = make_mock(fault="drop=3,times=1")  # two attempts: the break is recorded too
    fast = ["--retry-base", "0.01", "--protocol", protocol]
    for fmt in FORMATS:
        record = tmp_path / f"{fmt}.jsonl"
        first = run_mint(
            ["chat", *fast, "-f", fmt, "--record", str(record), "写一首诗"], mock_env(env, live)
        )
        live._hits.clear()
        assert first.returncode == 0, first.stderr
        assert (record.stat().st_mode & 0o777) == 0o600
        assert env["MINT_API_KEY"] not in record.read_text()
        replay = make_mock(replay=record)
        again = run_mint(["chat", *fast, "-f", fmt, "写一首诗"], mock_env(env, replay))
        assert again.returncode == 0, again.stderr
        assert _stable(fmt, again.stdout) == _stable(fmt, first.stdout)
        if fmt == "text":
            assert again.stdout.decode() == POEM
            assert "retry 1/5" in again.stderr.decode()  # the break came back too


def test_mint_hi_suggests_mint_chat(env: dict[str, str]) -> None:
    r = run_mint(["hi", "there"], env)
    assert r.returncode == 2
    assert 'To send a prompt: mint chat "hi there"' in r.stderr.decode()


# -- certificates --------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server with a self-signed certificate (made with openssl)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\n'
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/v1", cert
    server.shutdown()


def test_an_untrusted_certificate_fails_at_once_and_says_how_to_trust_it(
    env: dict[str, str], tls_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, cert = tls_server
    start = time.monotonic()
    r = run_mint(["chat", "--base-url", url, "-f", "jsonl", "hi"], env)
    assert r.returncode == 7 and time.monotonic() - start < 10
    err = r.stderr.decode()
    assert "is not trusted" in err and "--ca-cert" in err
    assert not [e for e in jsonl(r.stdout) if e["type"] == "retry"]
    # trusted when told: by flag, config file or SSL_CERT_FILE
    assert (
        run_mint(["chat", "--base-url", url, "--ca-cert", str(cert), "hi"], env).stdout == b"ok\n"
    )
    r = run_mint(["chat", "--base-url", url, "hi"], {**env, "SSL_CERT_FILE": str(cert)})
    assert r.returncode == 0 and r.stdout == b"ok\n", r.stderr
    config = Path(env["XDG_CONFIG_HOME"]) / "mint"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(f'ca_cert = "{cert}"\n')
    assert run_mint(["chat", "--base-url", url, "hi"], env).returncode == 0
    (config / "config.toml").unlink()
    # a missing or junk file is a configuration error naming the variable and the file
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for path in (tmp_path / "missing.pem", junk):
        r = run_mint(["chat", "--base-url", url, "hi"], {**env, "SSL_CERT_FILE": str(path)})
        assert r.returncode == 3, r.stderr
        assert "SSL_CERT_FILE" in r.stderr.decode() and str(path) in r.stderr.decode()


# -- proxies -------------------------------------------------------------------------


def test_proxies_named_when_they_fail_and_shown_with_v(
    make_mock: Any, env: dict[str, str], refused_url: str
) -> None:
    base = "http://gateway.invalid/v1"
    r = run_mint(["chat", "--base-url", base, "hi"], {**env, "HTTP_PROXY": refused_url})
    assert r.returncode == 7
    err = r.stderr.decode()
    assert f"cannot connect to the proxy {refused_url}" in err and "HTTP_PROXY" in err
    # through a working proxy (mint mock answers requests in proxy form)
    proxy = make_mock().base_url.removesuffix("/v1")
    r = run_mint(["chat", "-v", "--base-url", base, "hi"], {**env, "http_proxy": proxy})
    assert r.returncode == 0, r.stderr
    assert f"through the proxy {proxy} (from http_proxy)" in r.stderr.decode()
    # NO_PROXY: straight to the gateway, which does not exist
    r = run_mint(
        ["chat", "--base-url", base, "hi"],
        {**env, "http_proxy": proxy, "NO_PROXY": "gateway.invalid"},
    )
    assert r.returncode == 7 and "cannot resolve the host name gateway.invalid" in r.stderr.decode()


def test_socks_proxies_need_the_extra_only_when_used(make_mock: Any, env: dict[str, str]) -> None:
    from importlib.util import find_spec

    if find_spec("socksio") is not None:
        pytest.skip("socksio is installed here")
    server = make_mock()
    socks = {**mock_env(env, server), "ALL_PROXY": "socks5h://127.0.0.1:1080"}
    r = run_mint(["chat", "hi"], socks)
    assert r.returncode == 3
    assert "ALL_PROXY=socks5h://127.0.0.1:1080" in r.stderr.decode()
    assert "pip install 'mintcli[socks]'" in r.stderr.decode()
    r = run_mint(["chat", "hi"], {**socks, "NO_PROXY": "127.0.0.1"})
    assert r.returncode == 0, r.stderr


def _ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6(), reason="no IPv6 loopback here")
def test_ipv6_mock_and_no_proxy_with_brackets(
    make_mock: Any, env: dict[str, str], refused_url: str
) -> None:
    server = make_mock(host="::1")
    assert server.base_url.startswith("http://[::1]:")
    r = run_mint(
        ["chat", "hi"], {**mock_env(env, server), "HTTP_PROXY": refused_url, "NO_PROXY": "[::1]"}
    )
    assert r.returncode == 0 and r.stdout == b"Mock reply to: hi\n", r.stderr
    # through an HTTP proxy, an IPv6 address would lose its brackets in the request line
    r = run_mint(["chat", "hi"], {**mock_env(env, server), "HTTP_PROXY": refused_url})
    assert r.returncode == 3 and "NO_PROXY" in r.stderr.decode()
