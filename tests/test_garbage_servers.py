"""A server that does not speak HTTP is a protocol error (exit 8), asked once; a
connection that is cut short is still a network failure, retried or continued.

The server here is a raw socket on 127.0.0.1 that answers each connection with
the bytes a test gives (no HTTP library in between, so it can send anything)
and counts the requests it read."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import run_mint

TEXT = "Hello, world"
STREAM = (
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"Hello, "}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":"world"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


def chunked(*pieces: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)


WHOLE = SSE_HEAD + chunked(STREAM) + b"0\r\n\r\n"


class RawServer:
    """Answers request N with ``answers[N]`` (the last one repeats), then closes the
    connection; or, with ``hold``, keeps it open until the client leaves; or, with
    ``at_once``, answers as soon as a connection comes, without reading a request
    (a server of another protocol speaks first)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"
        self.answers: list[bytes] = []
        self.hold = self.at_once = False
        self.requests = 0  # or connections, with at_once
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def answer(self, *answers: bytes, hold: bool = False, at_once: bool = False) -> None:
        with self._lock:
            self.answers, self.requests = list(answers), 0
            self.hold, self.at_once = hold, at_once

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            if not self.at_once and not self._read_request(conn):
                return
            with self._lock:
                answer = self.answers[min(self.requests, len(self.answers) - 1)]
                self.requests += 1
            try:
                conn.sendall(answer)
                while self.hold and conn.recv(65536):
                    pass
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    @staticmethod
    def _read_request(conn: socket.socket) -> bool:
        """Read one request (head and Content-Length body); False if the client left."""
        data = b""
        while b"\r\n\r\n" not in data:
            got = conn.recv(65536)
            if not got:
                return False
            data += got
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(h.split(b":")[1])
                for h in head.split(b"\r\n")
                if h.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            got = conn.recv(65536)
            if not got:
                return False
            body += got
        return True

    def close(self) -> None:
        self._sock.close()


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


def chat(server: RawServer, env: dict[str, str], *args: str) -> Any:
    e = {**env, "MINT_BASE_URL": server.base_url}
    return run_mint(["chat", "--retry-base", "0.01", "--max-retries", "2", *args, "hi"], e)


def one_error(r: Any, code: int) -> str:
    err: str = r.stderr.decode()
    assert r.returncode == code, err
    assert err.count("mint: error:") == 1 and "retry" not in err, err
    return err


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (b"HTTP/1.1 abc\r\n\r\n", "illegal status line: b'HTTP/1.1 abc'"),
        (b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", "b'HTTP/1.1 2000 OK'"),
        (b"HTTP/1.1 2\x1b[2J00 OK\r\n\r\n", "b'HTTP/1.1 2\\x1b[2J00 OK'"),
        (b"\x16\x03\x01\x02\x00garbage that is no HTTP", "not valid HTTP"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n", "bad Content-Length"),
        (SSE_HEAD + b"zz\r\n" + STREAM, "illegal chunk header"),
        (
            b"HTTP/1.1 " + b"\x1b[31m" * 4000 + b"\r\n\r\n",
            "illegal status line: b'HTTP/1.1 \\x1b[31m",
        ),
    ],
    ids=["letters", "four-digits", "escape", "binary", "content-length", "chunk-size", "long"],
)
def test_an_answer_that_is_not_http_is_exit_8_asked_once(
    raw_server: RawServer, env: dict[str, str], answer: bytes, shown: str
) -> None:
    raw_server.answer(answer)
    r = chat(raw_server, env)
    err = one_error(r, 8)
    assert raw_server.requests == 1
    assert "mint: error: the server at 127.0.0.1 sent a reply that is not valid HTTP (" in err
    assert shown in err and "\x1b" not in err
    assert len(err) < 400  # server text is clipped
    assert r.stdout == b""


@pytest.mark.parametrize(
    ("answer", "hold"),
    [
        (b"SSH-2.0-OpenSSH_9.6\r\nInvalid SSH identification string.\r\n", False),
        (
            b"-ERR unknown command 'POST', with args beginning with: '/v1/chat/completions'\r\n",
            False,
        ),
        (b"HTTP/1.1 abc\r\n", False),  # a status line, and the server gone before a header
        (b"220 mail.example ESMTP\r\n", True),  # it waits for more: the idle timeout
    ],
    ids=["ssh", "redis", "status-line-alone", "smtp-waits"],
)
def test_a_server_of_another_protocol_is_exit_8_asked_once(
    raw_server: RawServer, env: dict[str, str], answer: bytes, hold: bool
) -> None:
    # httpcore reports these as a connection closed (or quiet) before the answer,
    # like a cut; the first bytes the connection read tell them apart.
    raw_server.answer(answer, hold=hold)
    err = one_error(chat(raw_server, env, "--idle-timeout", "0.5"), 8)
    assert raw_server.requests == 1
    assert "mint: error: the server at 127.0.0.1 does not answer in HTTP (it sent b" in err
    assert repr(answer)[2:40] in err and "is the port in the base URL right?" in err


def test_tls_asked_of_a_server_that_speaks_plain_http_is_exit_8(
    raw_server: RawServer, env: dict[str, str]
) -> None:
    raw_server.answer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", at_once=True)
    url = raw_server.base_url.replace("http://", "https://")
    r = run_mint(["chat", "--retry-base", "0.01", "hi"], {**env, "MINT_BASE_URL": url})
    err = one_error(r, 8)
    assert raw_server.requests == 1
    assert "does not answer in TLS (" in err
    assert "the base URL (from MINT_BASE_URL) start with http:// instead of https://?" in err


@pytest.mark.parametrize(
    "location",
    [
        b"javascript:alert(1)",  # httpx could not even rebase it (InvalidURL)
        b"http://[::1",  # no URL (a bad port)
        b"file:///etc/passwd",
        b"../../elsewhere",
        b"http://x/\x01\x1b]52;c;aGk=\x07",  # control bytes
        b"\xff\xfe caf\xc3\xa9",  # not UTF-8
    ],
    ids=["javascript", "no-url", "file", "relative", "control", "not-utf8"],
)
def test_a_redirect_is_exit_8_asked_once_whatever_its_location(
    raw_server: RawServer, env: dict[str, str], location: bytes
) -> None:
    # mint follows no redirect (the key would go along): any Location, usable or not,
    # ends the same documented way, the 3xx as a protocol error naming the target.
    raw_server.answer(
        b"HTTP/1.1 302 Found\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
    )
    r = chat(raw_server, env)
    err = one_error(r, 8)
    assert raw_server.requests == 1
    assert "mint: error: unexpected HTTP status 302 (a redirect to " in err
    assert "which mint does not follow" in err
    for raw in ("\x01", "\x1b", "\x07"):
        assert raw not in err


def test_v_shows_the_location_of_a_redirect(raw_server: RawServer, env: dict[str, str]) -> None:
    raw_server.answer(
        b"HTTP/1.1 301 Moved\r\nLocation: https://elsewhere/v1\r\nContent-Length: 0\r\n\r\n"
    )
    err = one_error(chat(raw_server, env, "-v"), 8)
    assert "< location: https://elsewhere/v1" in err
    assert "a redirect to https://elsewhere/v1, which mint does not follow" in err


@pytest.mark.parametrize(
    "cut",
    [
        b"",  # closed before a byte of the answer
        b"HTTP/1.1 200 OK\r\nContent-Type: text/ev",  # mid-headers
        SSE_HEAD + chunked(STREAM[:40]),  # mid-body: an incomplete chunked read
    ],
    ids=["nothing", "mid-headers", "mid-body"],
)
def test_a_connection_cut_short_is_still_retried(
    raw_server: RawServer, env: dict[str, str], cut: bytes
) -> None:
    raw_server.answer(cut, WHOLE)
    r = chat(raw_server, env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == TEXT + "\n"
    assert raw_server.requests == 2
    assert "retry 1/2" in r.stderr.decode()


def test_a_connection_cut_every_time_is_exit_7(raw_server: RawServer, env: dict[str, str]) -> None:
    raw_server.answer(SSE_HEAD + chunked(STREAM[:40]))
    r = chat(raw_server, env)
    assert r.returncode == 7, r.stderr
    assert raw_server.requests == 3


def test_a_remote_batch_names_the_redirect_too(raw_server: RawServer, env: dict[str, str]) -> None:
    raw_server.answer(
        b"HTTP/1.1 307 Moved\r\nLocation: https://elsewhere/v1/files\r\nContent-Length: 0\r\n\r\n"
    )
    e = {**env, "MINT_BASE_URL": raw_server.base_url}
    r = run_mint(["batch", "--remote", "--max-retries", "0", "--lines", "-"], e, input=b"hi\n")
    err = r.stderr.decode()
    assert r.returncode == 8, err
    assert "a redirect to https://elsewhere/v1/files, which mint does not follow" in err
