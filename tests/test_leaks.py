"""The key stays out of what the tool loop prints and stores, and what a server
or a tool can make mint hold stays bounded: tool results and MCP errors, a key
given as the model name, the number of calls in one reply and of tools running
at once, the length of an MCP line, and MCP messages that are not JSON-RPC."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, SECRET, finish, jsonl, mock_env, run_mint, scripted_mock
from sse_server import Canned, SSEServer
from test_hardening import clean_error, served
from test_hostile_streams import DONE, anthropic, chunk

STRICT = Path(__file__).parent / "data" / "strict_mcp.py"
CALLS = [{"id": f"c{i}", "name": "probe", "arguments": {}} for i in range(40)]
SCRIPT = [
    {"match": {"prompt": "^echo"}, "steps": [{"tool_calls": [
        {"id": "e", "name": "echo", "arguments": {}}]}]},
    {"match": {"prompt": "^leak"}, "steps": [{"tool_calls": [
        {"id": "k", "name": "leak", "arguments": {}}]}]},
    {"match": {"prompt": "^many"}, "steps": [{"tool_calls": CALLS}]},
    {"match": {"prompt": "^wait"}, "steps": [{"tool_calls": CALLS[:20]}]},
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with scripted_mock(tmp_path_factory.mktemp("leaks"), SCRIPT) as srv:
        yield srv


def sent(server: Any) -> bytes:
    return server.log_path.read_bytes()


def strict(mode: str) -> str:
    return f"{sys.executable} {STRICT} {mode}"


# -- the key ----------------------------------------------------------------------------


def test_a_key_in_a_tool_result_or_an_mcp_error_never_reaches_stdout_or_the_next_request(
    env: dict[str, str], server: Any, tmp_path: Path
) -> None:
    held = tmp_path / "held-key"
    held.write_text(SECRET)
    leak = tmp_path / "leak"  # a tool that prints the key it found somewhere
    leak.write_text(f"#!/bin/sh\necho 'found {SECRET} in a file'\n")
    leak.chmod(0o755)
    e = mock_env(env, server)
    before = len(sent(server)) if server.log_path.exists() else 0
    mcp = ["--mcp", strict(f"keyerror={held}")]
    cmd = ["--tool-cmd", f"leak={leak}"]
    for tools, prompt in ((mcp, "echo"), (cmd, "leak")):
        for fmt in ("jsonl", "json"):
            r = run_mint(["chat", "-f", fmt, *tools, prompt], e)
            assert r.returncode == 0, r.stderr
            assert SECRET.encode() not in r.stdout + r.stderr, (fmt, r.stdout)
            if fmt == "jsonl":
                (result,) = [x for x in jsonl(r.stdout) if x["type"] == "tool_result"]
                if prompt == "echo":  # escaped as JSON, and the key replaced
                    assert (
                        result["error"] == "the MCP server refused the call: \x1b[31mbad [redacted]"
                    )
                else:
                    assert result["output"] == "found [redacted] in a file\n"
            if fmt == "json":
                obj = json.loads(r.stdout)
                (result,) = obj["steps"][0]["tool_results"]
                assert "[redacted]" in json.dumps(result)
                assert any("[redacted]" in str(m.get("content")) for m in obj["messages"])
    # a cut that leaves the key's start before the note hides that start too
    r = run_mint(["chat", "-f", "jsonl", *cmd, "--tool-output-max", "20", "leak"], e)
    (result,) = [x for x in jsonl(r.stdout) if x["type"] == "tool_result"]
    assert result["output"].startswith("found [redacted]\n[output cut at 20 bytes;"), result
    # the model was never sent it either
    requests = [json.loads(line)["body"] for line in sent(server)[before:].splitlines()]
    results = [m["content"] for q in requests for m in q["messages"] if m["role"] == "tool"]
    assert len(results) == 5 and all("[redacted]" in c for c in results), results
    assert SECRET not in json.dumps(results)


def test_a_key_given_as_the_model_name_is_sent_but_never_shown_or_stored(
    env: dict[str, str], server: Any
) -> None:
    e = mock_env(env, server)
    before = len(sent(server)) if server.log_path.exists() else 0
    r = run_mint(["chat", "-m", SECRET, "-f", "json", "hello"], e)
    assert r.returncode == 0, r.stderr
    assert SECRET.encode() not in r.stdout and json.loads(r.stdout)["model"] == "[redacted]"
    r = run_mint(["chat", "-m", f"x{SECRET}", "-f", "jsonl", "hello"], e)
    assert r.returncode == 0, r.stderr
    assert jsonl(r.stdout)[0]["model"] == "x[redacted]"
    requests = [json.loads(line)["body"] for line in sent(server)[before:].splitlines()]
    assert [q["model"] for q in requests] == [SECRET, f"x{SECRET}"]  # asked for as given
    for command in (["log", "list"], ["log", "list", "-f", "json"], ["log", "stats"]):
        r = run_mint(command, env)
        assert r.returncode == 0, r.stderr
        assert SECRET.encode() not in r.stdout and b"[redacted]" in r.stdout, command


# -- how much one reply can make mint hold or start -----------------------------------


def openai_calls(n: int) -> bytes:
    pieces = [
        chunk({"tool_calls": [{"index": i, "id": f"c{i}", "type": "function",
                               "function": {"name": "f", "arguments": "{}"}}]})
        for i in range(n)
    ]  # fmt: skip
    return b"".join(pieces) + chunk({}, "tool_calls") + DONE


def anthropic_calls(n: int) -> bytes:
    start = anthropic("message_start", message={"id": "m", "model": "x"})
    blocks = [
        anthropic("content_block_start", index=i,
                  content_block={"type": "tool_use", "id": f"t{i}", "name": "f", "input": {}})
        + anthropic("content_block_stop", index=i)
        for i in range(n)
    ]  # fmt: skip
    end = anthropic("message_delta", delta={"stop_reason": "tool_use"})
    return start + b"".join(blocks) + end + anthropic("message_stop")


@pytest.mark.parametrize(("protocol", "body"), [("openai", openai_calls),
                                                ("anthropic", anthropic_calls)])  # fmt: skip
def test_one_reply_makes_at_most_1024_tool_calls(
    sse_server: SSEServer, env: dict[str, str], protocol: str, body: Any
) -> None:
    e = served(sse_server, env, Canned(body=[body(1024)]))
    r = run_mint(["chat", "--protocol", protocol, "--no-log", "hi"], e)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 1024  # one line per call
    e = served(sse_server, env, Canned(body=[body(1025)]))
    r = run_mint(["chat", "--protocol", protocol, "--no-log", "--max-retries", "0", "hi"], e)
    err = clean_error(r, 8)
    assert "more than 1,024 tool calls, mint's limit for one reply" in err


def test_at_most_16_tool_calls_run_at_once(
    env: dict[str, str], server: Any, tmp_path: Path
) -> None:
    running = tmp_path / "running"
    running.mkdir()
    probe = tmp_path / "probe"  # notes how many calls run beside it, then ends
    probe.write_text(
        "#!/bin/sh\n"
        f'cd {running} && touch "$MINT_TOOL_CALL_ID" && sleep 0.3\n'
        f'ls | wc -l > "{tmp_path}/seen-$MINT_TOOL_CALL_ID"; rm "$MINT_TOOL_CALL_ID"\n'
    )
    probe.chmod(0o755)
    r = run_mint(["chat", "--no-log", "-q", "-f", "json", "--tool-cmd", f"probe={probe}", "many"],
                 mock_env(env, server))  # fmt: skip
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)["steps"][0]["tool_results"]
    assert [t["id"] for t in results] == [c["id"] for c in CALLS]  # all ran, in call order
    assert not any(t["is_error"] for t in results)
    seen = [int(p.read_text()) for p in tmp_path.glob("seen-*")]
    assert len(seen) == 40 and 2 <= max(seen) <= 16, seen


def test_a_call_still_waiting_for_its_turn_when_mint_is_killed_runs_on_resume(
    env: dict[str, str], server: Any, tmp_path: Path, spawn: Any
) -> None:
    """Only the calls that had started are taken for lost (the model is told
    their results were lost); the four that waited run after --resume, once."""
    running, release, ran = tmp_path / "running", tmp_path / "release", tmp_path / "ran"
    running.mkdir()
    probe = tmp_path / "probe"
    probe.write_text(
        "#!/bin/sh\n"
        f'echo $$ > "{running}/$MINT_TOOL_CALL_ID"\n'
        f'while [ ! -e "{release}" ]; do sleep 0.05; done\n'
        f'echo "$MINT_TOOL_CALL_ID" >> "{ran}"\n'
    )
    probe.chmod(0o755)
    e = mock_env(env, server)
    proc = spawn([*MINT, "chat", "--no-log", "-q", "--tool-cmd", f"probe={probe}", "wait"], e)
    deadline = time.monotonic() + 20
    while len(list(running.iterdir())) < 16 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # a 17th would have started by now
    assert len(list(running.iterdir())) == 16
    started = {p.name for p in running.iterdir()}
    proc.send_signal(signal.SIGKILL)
    finish(proc)
    pids = [int(p.read_text()) for p in running.iterdir()]
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)  # the watchdog kills the tools mint left running
    release.touch()
    r = run_mint(["chat", "--resume"], e)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count(b"was running when mint stopped") == 16, r.stderr
    late = sorted(ran.read_text().split())
    assert len(late) == 4 and late == sorted({c["id"] for c in CALLS[:20]} - started)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# -- MCP: what a server sends is JSON-RPC, of a revision mint speaks ---------------------


def test_an_mcp_line_is_at_most_16_mib(env: dict[str, str], server: Any) -> None:
    e = mock_env(env, server)
    r = run_mint(["chat", "--no-log", "-f", "jsonl", "--mcp", strict("long=17"), "echo"], e)
    assert r.returncode == 0, r.stderr
    (result,) = [x for x in jsonl(r.stdout) if x["type"] == "tool_result"]
    assert result["error"] == "the MCP server failed: the server sent a line longer than 16 MiB"


def test_tools_without_a_usable_name_are_left_out_with_a_warning(
    env: dict[str, str], server: Any
) -> None:
    r = run_mint(["chat", "--no-log", "--mcp", strict("nameless"), "echo"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert "lists a tool with no name: it is left out" in err
    assert "lists a tool with a name that is not text (5): it is left out" in err
    assert "a name that is not text (['\\x1b]0;title\\x07']): it is left out" in err
    assert "\x1b" not in err and "tool echo {}: ok" in err  # escaped; the named tool runs


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("version=1999-01-01", "it answered initialize with protocol version '1999-01-01'; "
         "mint speaks 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25 and 2026-07-28"),
        ("idtrue", "the server sent something that is not JSON-RPC (an id that is neither "
         "a string, a number nor null: true)"),
        ("empty", 'the server sent something that is not JSON-RPC (no "jsonrpc": "2.0")'),
    ],
)  # fmt: skip
def test_an_mcp_server_that_breaks_the_protocol_is_refused_at_once(
    env: dict[str, str], server: Any, mode: str, expected: str
) -> None:
    started = time.monotonic()
    r = run_mint(["chat", "--no-log", "--mcp", strict(mode), "echo"], mock_env(env, server),
                 timeout=20)  # fmt: skip
    err = clean_error(r, 2)
    assert expected in err
    assert time.monotonic() - started < 4.5  # no wait for an answer that cannot come


@pytest.mark.parametrize("mode", ["version=2024-11-05", "version=2025-11-25", "batch"])
def test_every_handshake_revision_mint_speaks_is_accepted(
    env: dict[str, str], server: Any, mode: str
) -> None:
    """Guards for the checks above: the other revisions' answers, and the
    batches of the 2025-03-26 revision, are JSON-RPC that mint speaks."""
    started = time.monotonic()
    r = run_mint(["chat", "--no-log", "--mcp", strict(mode), "echo"], mock_env(env, server))
    assert r.returncode == 0 and "tool echo {}: ok" in r.stderr.decode(), r.stderr
    assert time.monotonic() - started < 4.5  # every answer was taken for one
