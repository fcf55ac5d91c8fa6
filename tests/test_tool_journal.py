"""A tool never runs twice, and never outlives mint: the tool loop's "started"
records and its watchdog, in real processes against the mock gateway.

A call is journaled as started before it runs; a --resume runs no call that
started without a result (mint was killed while it ran, or the disk filled up
before its result was kept): the model is told the result was lost.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, finish, mock_env, run_mint, scripted_mock
from test_local_faults import small_disk  # noqa: F401 (a fixture: a 16 KiB tmpfs)
from test_toolloop import SCRIPT as LOOP_SCRIPT
from test_toolloop import (
    counting_tool,
    gone,
    has,
    log_mark,
    requests_since,
    runs,
    tool,
    wait_for,
)

from mintcli.errors import ExitCode

ONE = "one\u001b[2J_1"
LOST = "the result of this call was lost: mint stopped while the tool ran"
SCRIPT = [
    # the trip of test_toolloop: Paris and Oslo at once, then Rome
    next(rule for rule in LOOP_SCRIPT if rule.get("match") == {"prompt": "^trip"}),
    # arguments larger than a pipe holds
    {
        "match": {"prompt": "^big"},
        "steps": [{"tool_calls": [{"name": "weather", "arguments": {"text": "x" * 100_000}}]}],
    },
    # slow to answer: mint is still running while the test looks at its tools
    {"match": {"prompt": "^hold"}, "steps": [{"text": "late", "first_byte_delay": 5}]},
    {
        "match": {"prompt": "^one"},
        # an ID with an escape sequence: the warning shows it escaped
        "steps": [{"tool_calls": [{"id": ONE, "name": "weather", "arguments": {"x": 1}}]}],
    },
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with scripted_mock(tmp_path_factory.mktemp("script"), SCRIPT) as srv:
        yield srv


@pytest.fixture
def menv(env: dict[str, str], server: Any) -> dict[str, str]:
    return {**mock_env(env, server), "MINT_MAX_RETRIES": "0"}


def journals(env: dict[str, str]) -> list[Path]:
    return list((Path(env["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl"))


def tool_results(request: dict[str, Any]) -> dict[str, str]:
    """The tool results a logged request carried, by call ID (either protocol)."""
    found = {}
    for message in request["body"]["messages"]:
        if message.get("role") == "tool":
            found[message["tool_call_id"]] = message["content"]
        elif isinstance(message.get("content"), list):
            for block in message["content"]:
                if block.get("type") == "tool_result":
                    text = block["content"]
                    found[block["tool_use_id"]] = (
                        text if isinstance(text, str) else "".join(p["text"] for p in text)
                    )
    return found


def call_ids(path: Path, city: str) -> list[str]:
    """The IDs of the calls the journal holds for ``city``."""
    lines = path.read_bytes().split(b"\n")[1:]
    records = [json.loads(line) for line in lines if line]
    return [c["id"] for r in records for c in r.get("c", []) if city in json.dumps(c)]


@pytest.mark.parametrize("journal", ["new", "older mint"])
def test_sigkill_mid_tool_then_resume_never_runs_it_again(
    tmp_path: Path, menv: dict[str, str], server: Any, spawn: Any, journal: str
) -> None:
    cmd = counting_tool(tmp_path, hold="Oslo")
    proc = spawn([*MINT, "chat", "--no-log", "--tool-cmd", f"weather={cmd}", "trip"], menv)
    # Paris's result is journaled, Oslo's tool is running (held)
    wait_for(lambda: has(menv, "tr") and "start Oslo" in runs(tmp_path), "the tools")
    proc.send_signal(signal.SIGKILL)
    out, _ = finish(proc)
    [path] = journals(menv)
    [oslo] = call_ids(path, "Oslo")
    if journal == "older mint":  # a journal without "started" records: Oslo runs again
        kept = [line for line in path.read_bytes().split(b"\n") if b'"ts"' not in line]
        path.write_bytes(b"\n".join(kept))
    (tmp_path / "release").touch()
    mark = log_mark(server)
    r = run_mint(["chat", "--resume"], menv)
    assert r.returncode == 0, r.stderr
    done = runs(tmp_path)
    assert done.count("start Paris") == 1 and done.count("end Rome") == 1, done
    assert (out + r.stdout).decode().endswith("Rome is sunny\n")
    [sent, _] = requests_since(server, mark)  # the results of step 1, then of step 2
    err = r.stderr.decode()
    if journal == "new":
        assert done.count("start Oslo") == 1, done
        assert tool_results(sent)[oslo].startswith(f"error: {LOST}")
        assert f"warning: tool weather (call {oslo}) was running when mint stopped" in err
    else:
        assert done.count("start Oslo") == 2 and tool_results(sent)[oslo] == "Oslo is sunny\n"
        assert "warning" not in err
    assert journals(menv) == []


def test_a_sigkilled_mint_takes_its_tools_process_group_with_it(
    tmp_path: Path, menv: dict[str, str], spawn: Any
) -> None:
    pids = tmp_path / "pids"
    # (the pause: mint tells its watchdog about the group just after the tool
    # starts; a kill before that is the one moment the watchdog cannot cover)
    cmd = tool(tmp_path, "hang", f"cat >/dev/null; sleep 300 & sleep 0.2; echo $$ $! > {pids}.tmp; "
               f"mv {pids}.tmp {pids}; wait")  # fmt: skip
    proc = spawn([*MINT, "chat", "--no-log", "--tool-cmd", f"weather={cmd}", "one"], menv)
    wait_for(pids.exists, "the tool and its child")
    shell, child = (int(p) for p in pids.read_text().split())
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    try:
        wait_for(lambda: gone(shell) and gone(child), "the tool's group to die", timeout=5)
    finally:
        for pid in (shell, child):
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_sigkilled_mint_takes_an_mcp_server_that_outstays_its_stdin(
    tmp_path: Path, menv: dict[str, str], spawn: Any
) -> None:
    pidfile, methods = tmp_path / "server.pid", tmp_path / "methods.log"
    command = f"{sys.executable} {Path(__file__).parent / 'data' / 'era_mcp.py'} stateless"
    env = {**menv, "ERA_LOG": str(methods), "ERA_STAY": str(pidfile)}
    proc = spawn([*MINT, "chat", "--no-log", "--mcp", command, "hold"], env)
    listed = lambda: methods.exists() and "tools/list" in methods.read_text()  # noqa: E731
    wait_for(lambda: pidfile.exists() and listed(), "the server's tools")
    pid = int(pidfile.read_text())
    assert proc.poll() is None  # mint waits for the reply's first byte
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    try:
        wait_for(lambda: gone(pid), "the MCP server to die", timeout=5)
    finally:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_tool_never_gets_half_its_arguments_from_a_killed_mint(
    tmp_path: Path, menv: dict[str, str], spawn: Any
) -> None:
    """A reader that left the tool's group reads the arguments only after mint
    is gone: they are whole (fed through a pipe, they would end at its size)."""
    if shutil.which("setsid") is None:
        pytest.skip("needs setsid")
    got, release = tmp_path / "got", tmp_path / "release"
    reader = f"while [ ! -e {release} ]; do sleep 0.02; done; cat > {got}.tmp; mv {got}.tmp {got}"
    cmd = tool(
        tmp_path,
        "late",
        f"exec 3<&0; setsid sh -c '{reader}' <&3 & touch {tmp_path}/started; sleep 300",
    )
    proc = spawn([*MINT, "chat", "--no-log", "--tool-cmd", f"weather={cmd}", "big"], menv)
    try:
        wait_for((tmp_path / "started").exists, "the tool")
        proc.send_signal(signal.SIGKILL)
        finish(proc)
    finally:
        release.touch()
    wait_for(got.exists, "the reader")
    assert json.loads(got.read_bytes()) == {"text": "x" * 100_000}


# -- a full disk ---------------------------------------------------------------------------


def test_a_result_the_full_disk_could_not_keep_is_not_run_again(
    tmp_path: Path,
    menv: dict[str, str],
    server: Any,
    small_disk: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    env = {**menv, "XDG_STATE_HOME": str(small_disk)}
    counter, fill = tmp_path / "count", small_disk / "fill"
    # The tool does its work (one line in the counter), then the disk fills up;
    # its result (8 KiB) needs room the journal no longer has.
    cmd = tool(tmp_path, "fill", f"cat >/dev/null; echo ran >> {counter}; "
               f"cat /dev/zero > {fill} 2>/dev/null; head -c 8192 /dev/zero | tr '\\0' x")  # fmt: skip
    r = run_mint(["chat", "--no-log", "--tool-cmd", f"weather={cmd}", "one"], env)
    assert r.returncode == ExitCode.WRITE_FAILED, r.stderr
    assert b"No space left on device" in r.stderr and b"mint chat --resume" in r.stderr
    assert counter.read_text() == "ran\n"
    fill.unlink()  # room again
    mark = log_mark(server)
    again = run_mint(["chat", "--resume"], env)
    assert again.returncode == 0, again.stderr
    assert counter.read_text() == "ran\n"  # not run again
    warning = b"mint: warning: tool weather (call one\\x1b[2J_1) was running when mint stopped"
    assert warning in again.stderr and b"\x1b" not in again.stderr, again.stderr
    [sent] = requests_since(server, mark)
    assert tool_results(sent)[ONE].startswith(f"error: {LOST}")
    assert journals(env) == []


def test_a_start_the_journal_cannot_keep_runs_nothing(
    tmp_path: Path, menv: dict[str, str], spawn_pty: Any
) -> None:
    """--approve holds mint just before the start is journaled: then the journal
    file may not grow by a byte (a file size limit, set from outside)."""
    cmd = counting_tool(tmp_path)
    child = spawn_pty([*MINT, "chat", "--no-log", "--approve", "--tool-cmd", f"weather={cmd}",
                       "one"], menv)  # fmt: skip
    child.read_until(lambda b: b"[a]lways" in b, timeout=20, what="the question")
    [path] = journals(menv)
    size = path.stat().st_size
    resource.prlimit(child.pid, resource.RLIMIT_FSIZE, (size, size))
    os.write(child.fd, b"y\n")
    rest = child.read_until(None, timeout=20, what="the end")
    assert child.wait() == ExitCode.WRITE_FAILED, rest
    assert b"cannot write the journal" in rest and b"mint chat --resume" in rest
    assert runs(tmp_path) == []  # the tool never ran
    r = run_mint(["chat", "--resume"], menv)  # it had not started: now it runs, once
    assert r.returncode == 0, r.stderr
    assert [line.split()[0] for line in runs(tmp_path)] == ["start", "end"]
    assert b"warning" not in r.stderr
