"""Process-level behaviour: output flushed into pipes, pipes closed early, Ctrl-C, SIGTERM,
start-up imports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest
from conftest import MINT, SECRET, finish, read_until
from sse_server import Canned, SSEServer


def _openai_lines(n: int) -> list[bytes]:
    pieces = []
    for i in range(n):
        obj = {"choices": [{"index": 0, "delta": {"content": f"line {i}\n"}}]}
        pieces.append(b"data: " + json.dumps(obj).encode() + b"\n\n")
    return pieces


def _end() -> bytes:
    return b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


@pytest.mark.parametrize("fmt", ["text", "raw", "jsonl"])
def test_a_piece_reaches_a_pipe_while_the_reply_is_still_coming(
    sse_server: SSEServer, env: dict[str, str], spawn: Any, fmt: str
) -> None:
    """Each piece is flushed as it arrives. stdout is a pipe here, which Python
    block-buffers: without the flush a piece would wait for the end of the reply.
    The server sends one piece and then holds the rest back until the test has seen
    that piece on mint's stdout, or until this test has failed on its deadline."""
    # The reason this test can fail at all: PYTHONUNBUFFERED=1 in the environment of the
    # process running the tests would make every write unbuffered and hide a missing flush.
    assert not [k for k in env if k.startswith("PYTHON")]
    gate = threading.Event()
    first = b'data: {"choices":[{"index":0,"delta":{"content":"first "}}]}\n\n'
    rest = b'data: {"choices":[{"index":0,"delta":{"content":"rest"}}]}\n\n' + _end()
    sse_server.queue(Canned(body=[first, rest], gate=gate))
    proc = spawn(
        [*MINT, "chat", "--format", fmt, "hi"], {**env, "MINT_BASE_URL": sse_server.base_url}
    )
    try:
        got = read_until(
            proc.stdout.fileno(),
            lambda got: b"first" in got,
            timeout=10,
            what="the first piece on stdout while the server holds back the rest",
        )
        still_running = proc.poll() is None
    finally:
        gate.set()  # the server may send the rest now
    assert still_running and b"rest" not in got  # the reply had not ended
    out, err = finish(proc)
    assert proc.returncode == 0, err
    output = (got + out).decode()
    if fmt == "text":
        assert output == "first rest\n"
    elif fmt == "raw":
        assert [
            json.loads(line)["choices"][0]["delta"].get("content") for line in output.splitlines()
        ] == ["first ", "rest", None]
    else:
        events = [json.loads(line) for line in output.splitlines()]
        assert [e["text"] for e in events if e["type"] == "text"] == ["first ", "rest"]
        assert events[-1]["type"] == "done"


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
    assert r.returncode == 0, r.stderr  # head's status
    assert r.stdout == b"line 0\n"
    err = r.stderr.decode()
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception" not in err
    assert err.strip() == "status=141"


def _start_and_read_first_piece(
    server: SSEServer, env: dict[str, str], spawn: Any, *extra: str
) -> tuple[subprocess.Popen[bytes], bytes]:
    """mint in the middle of a reply: the piece is printed, the server stalls for 20 s."""
    body = [
        b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n',
        b'data: {"choices":[{"index":0,"delta":{"content":"\xe5\x8d\x8a\xe5\x8f\xa5"}}]}\n\n',
    ]
    server.queue(Canned(body=body, stall=20))
    proc = spawn([*MINT, "chat", *extra, "hi"], {**env, "MINT_BASE_URL": server.base_url})
    first = read_until(
        proc.stdout.fileno(),
        lambda got: "半句".encode() in got or b'"text"' in got,
        timeout=10,
        what="the first piece",
    )
    return proc, first


def test_ctrl_c_keeps_text_and_exits_130(
    sse_server: SSEServer, env: dict[str, str], spawn: Any
) -> None:
    proc, first = _start_and_read_first_piece(sse_server, env, spawn)
    assert first == "半句".encode()
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, timeout=10)
    assert proc.returncode == 130
    assert first + out == "半句".encode()  # kept, nothing added to stdout
    text = err.decode()
    assert "Aborted" not in text and "Traceback" not in text
    assert "mint: error: interrupted" in text
    assert "mint chat --resume" in text


def test_sigterm_exits_143(sse_server: SSEServer, env: dict[str, str], spawn: Any) -> None:
    proc, first = _start_and_read_first_piece(sse_server, env, spawn, "--format", "jsonl")
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc, timeout=10)
    assert proc.returncode == 143
    events = [json.loads(line) for line in (first + out).decode().splitlines()]
    assert [e["text"] for e in events if e["type"] == "text"] == ["半句"]
    assert events[-1]["type"] == "error" and events[-1]["code"] == 143
    assert "Traceback" not in err.decode()


def test_ctrl_c_on_a_terminal_ends_the_line(
    sse_server: SSEServer, env: dict[str, str], spawn_pty: Any
) -> None:
    """Under a pseudo-terminal the half-printed line is ended before the message."""
    body = [b'data: {"choices":[{"index":0,"delta":{"content":"half"}}]}\n\n']
    sse_server.queue(Canned(body=body, stall=20))
    # mint with stdin, stdout and stderr on the terminal
    child = spawn_pty(
        [*MINT, "chat", "--no-stdin", "hi"],
        {**env, "MINT_BASE_URL": sse_server.base_url, "NO_COLOR": "1", "TERM": "xterm"},
    )
    seen = child.read_until(lambda got: b"half" in got, timeout=15, what="the first piece")
    os.kill(child.pid, signal.SIGINT)
    seen = child.read_until(None, timeout=10, what="the end of mint's output", got=seen)
    assert child.wait() == 130, seen
    text = seen.decode().replace("\r\n", "\n")
    assert "half\nmint: error: interrupted" in text


def test_help_and_version_do_not_import_httpx(env: dict[str, str]) -> None:
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
            env=env,
        )
        assert r.returncode == 0, r.stderr
        assert r.stderr.decode().strip().splitlines()[-1] == "[]", r.stderr
    r = subprocess.run([*MINT, "--version"], capture_output=True, timeout=30, env=env)
    from mintcli import __version__

    assert r.returncode == 0, r.stderr
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


def test_a_piped_chat_imports_no_renderer_and_no_httpx_cli(env: dict[str, str]) -> None:
    """httpx imports its own command-line client (rich, pygments) whenever they are
    installed, as they are here (import-linter needs rich): mint keeps it out."""
    pytest.importorskip("rich")
    pytest.importorskip("pygments")
    code = (
        "import sys, runpy\n"
        "sys.argv = ['mint', 'chat', '--mock', '--no-log', 'x']\n"
        "try:\n"
        "    runpy.run_module('mintcli', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "names = ('rich', 'pygments', 'markdown_it', 'httpx._main', 'mintcli.render')\n"
        "print([m for m in names if sys.modules.get(m) is not None], file=sys.stderr)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mock reply to: x\n"
    assert r.stderr.decode().strip().splitlines()[-1] == "[]", r.stderr
