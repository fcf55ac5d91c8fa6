"""Process-level behaviour: pipes closed early, Ctrl-C, SIGTERM, start-up imports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import MINT, SECRET
from sse_server import Canned, SSEServer


def _openai_lines(n: int) -> list[bytes]:
    pieces = []
    for i in range(n):
        obj = {"choices": [{"index": 0, "delta": {"content": f"line {i}\n"}}]}
        pieces.append(b"data: " + json.dumps(obj).encode() + b"\n\n")
    return pieces


def _end() -> bytes:
    return b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


def test_pipe_closed_early_is_quiet(sse_server: SSEServer, env: dict[str, str]) -> None:
    sse_server.queue(Canned(body=[*_openai_lines(400), _end()], pause=0.005))
    cmd = " ".join(MINT) + ' chat hi | head -1; echo "status=${PIPESTATUS[0]}" >&2'
    r = subprocess.run(
        ["bash", "-c", cmd],
        env={**env, "MINT_BASE_URL": sse_server.base_url},
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert r.stdout == b"line 0\n"
    err = r.stderr.decode()
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception" not in err
    assert err.strip() == "status=141"


def _start_and_read_first_piece(
    server: SSEServer, env: dict[str, str], *extra: str
) -> tuple[subprocess.Popen[bytes], bytes]:
    body = [
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"\xe5\x8d\x8a\xe5\x8f\xa5"}}]}\n\n',
    ]
    server.queue(Canned(body=body, stall=20))
    proc = subprocess.Popen(
        [*MINT, "chat", *extra, "hi"],
        env={**env, "MINT_BASE_URL": server.base_url},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    first = os.read(proc.stdout.fileno(), 100)
    return proc, first


def test_ctrl_c_keeps_text_and_exits_130(sse_server: SSEServer, env: dict[str, str]) -> None:
    proc, first = _start_and_read_first_piece(sse_server, env)
    assert first == "半句".encode()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert first + out == "半句".encode()  # kept, nothing added to stdout
    text = err.decode()
    assert "Aborted" not in text and "Traceback" not in text
    assert "mint: error: interrupted" in text
    assert "mint chat --resume" in text


def test_sigterm_exits_143(sse_server: SSEServer, env: dict[str, str]) -> None:
    proc, first = _start_and_read_first_piece(sse_server, env, "--format", "jsonl")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 143
    events = [json.loads(line) for line in (first + out).decode().splitlines()]
    assert events[-1]["type"] == "error" and events[-1]["code"] == 143
    assert "Traceback" not in err.decode()


def test_ctrl_c_on_a_terminal_ends_the_line(sse_server: SSEServer, env: dict[str, str]) -> None:
    """Under a pseudo-terminal the half-printed line is ended before the message."""
    import pty

    body = [b'data: {"choices":[{"index":0,"delta":{"content":"half"}}]}\n\n']
    sse_server.queue(Canned(body=body, stall=20))
    pid, fd = pty.fork()
    if pid == 0:  # child: mint with stdout and stderr on the terminal
        os.environ.clear()
        os.environ.update({**env, "MINT_BASE_URL": sse_server.base_url, "NO_COLOR": "1"})
        os.execv(sys.executable, [*MINT, "chat", "--no-stdin", "hi"])
    seen = b""
    deadline = time.monotonic() + 15
    while b"half" not in seen and time.monotonic() < deadline:
        seen += os.read(fd, 1024)
    os.kill(pid, signal.SIGINT)
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 130
    text = seen.decode().replace("\r\n", "\n")
    assert "half\nmint: error: interrupted" in text


def test_help_and_version_do_not_import_httpx() -> None:
    code = (
        "import sys, runpy\n"
        "sys.argv = ['mint', ARG]\n"
        "try:\n"
        "    runpy.run_module('mintcli', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('httpx', 'httpx_sse', 'ssl', 'h11', 'anyio', 'orjson') if m in sys.modules]\n"
        "print(heavy, file=sys.stderr)\n"
    )
    for arg in ("--version", "--help"):
        r = subprocess.run(
            [sys.executable, "-c", code.replace("ARG", repr(arg))],
            capture_output=True,
            timeout=30,
        )
        assert r.returncode == 0
        assert r.stderr.decode().strip().splitlines()[-1] == "[]", r.stderr
    r = subprocess.run([*MINT, "--version"], capture_output=True, timeout=30)
    from mintcli import __version__

    assert r.stdout.decode() == f"mint {__version__}\n"


def test_key_never_printed(sse_server: SSEServer, env: dict[str, str]) -> None:
    body = [b'data: {"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}\n\n']
    sse_server.queue(Canned(body=body))
    env = {**env, "MINT_BASE_URL": sse_server.base_url}
    for args in (["-v", "hi"], ["--dry-run", "hi"], ["--api-key", SECRET, "--dry-run", "hi"]):
        r = subprocess.run(
            [*MINT, "chat", *args],
            env=env,
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert r.returncode == 0, r.stderr
        assert SECRET.encode() not in r.stdout + r.stderr
        assert b"[redacted]" in r.stdout + r.stderr
