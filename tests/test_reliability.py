"""The fault matrix: retries, continuation without repeats, and --resume, against
``mint mock`` over real HTTP, for both protocols."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, finish, jsonl, mock_env, read_until, run_mint

from mintcli.mock.script import POEM
from mintcli.storage.journal import load

PROTOCOLS = ["openai", "anthropic"]
FAST = ["--retry-base", "0.01", "--idle-timeout", "1"]


def chat(
    server: Any, env: dict[str, str], *args: str, **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    return run_mint(["chat", *FAST, *args], mock_env(env, server), **kw)


def retries(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "retry"]


def joined_text(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "text")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("fault", "ids", "resume_how"),
    [
        ("drop=3,times=3", True, "last-event-id"),
        ("drop=3,times=3", False, "prefill"),
        ("stall=4,times=1", True, "last-event-id"),
        ("error=5,times=2", False, "prefill"),
        ("truncate=2,times=2", True, "last-event-id"),
        ("malformed=3,times=1", True, None),
    ],
)
def test_broken_streams_continue_exactly_once(
    make_mock: Any,
    env: dict[str, str],
    protocol: str,
    fault: str,
    ids: bool,
    resume_how: str | None,
) -> None:
    server = make_mock(fault=fault, ids=ids)
    if fault.startswith("malformed"):
        # A malformed piece is a protocol error, not retried: exit 8, text kept.
        r = chat(server, env, "--protocol", protocol, "写一首诗")
        assert r.returncode == 8
        assert POEM.startswith(r.stdout.decode()) and len(r.stdout) > 0
        return
    for fmt in ("text", "jsonl", "json"):
        r = chat(server, env, "--protocol", protocol, "--format", fmt, "写一首诗")
        assert r.returncode == 0, r.stderr
        if fmt == "text":
            assert r.stdout.decode() == POEM
            assert r.stderr.decode().count("mint: warning:") >= 1
        elif fmt == "jsonl":
            events = jsonl(r.stdout)
            assert joined_text(events) == POEM
            seams = retries(events)
            assert seams and all(s["resume"] == resume_how for s in seams)
            assert events[-1]["type"] == "done" and events[-1]["resumed"] is True
            assert events[-1]["attempts"] == len(seams) + 1
        else:
            out = json.loads(r.stdout)
            assert out["text"] == POEM
            assert out["resumed"] is True and out["attempts"] >= 2
        # every format meets the fault afresh
        server._hits.clear()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fallback_to_prefill_when_server_ignores_last_event_id(
    make_mock: Any, env: dict[str, str], protocol: str
) -> None:
    server = make_mock(fault="drop=4,times=2", ignore_last_event_id=True)
    r = chat(server, env, "--protocol", protocol, "--format", "jsonl", "写一首诗")
    assert r.returncode == 0, r.stderr
    events = jsonl(r.stdout)
    assert joined_text(events) == POEM
    # the second request carried Last-Event-ID, got a fresh reply, and mint
    # switched to a prefill at once
    bodies = [q for q in server.requests if q["method"] == "POST"]
    assert "last-event-id" in bodies[1]["headers"]
    assert bodies[2]["body"]["messages"][-1]["role"] == "assistant"
    assert events[-1]["attempts"] == len(bodies)


def test_anthropic_prefill_drops_trailing_whitespace_and_repeat(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "s.json"
    # the first piece, "one\n\n", ends in whitespace that a prefill may not carry
    script.write_text(json.dumps([{"text": "one\n\ntwo three\n", "piece_chars": 5}]))
    server = make_mock(script=script, fault="drop=1,times=1", ids=False)
    r = chat(server, env, "--protocol", "anthropic", "--format", "jsonl", "go")
    assert r.returncode == 0, r.stderr
    events = jsonl(r.stdout)
    assert joined_text(events) == "one\n\ntwo three\n"
    second = [q for q in server.requests if q["method"] == "POST"][1]["body"]
    assert second["messages"][-1] == {"role": "assistant", "content": "one"}
    assert retries(events)[0]["resume"] == "prefill"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("ids", [True, False])
def test_tool_call_cut_in_the_middle_is_emitted_once_and_whole(
    make_mock: Any, env: dict[str, str], tmp_path: Path, protocol: str, ids: bool
) -> None:
    script = tmp_path / "s.json"
    args = {"location": "北京", "unit": "celsius", "days": 3}
    script.write_text(
        json.dumps(
            [
                {
                    "text": "查询中",
                    "tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": args}],
                    "piece_chars": 3,
                }
            ],
            ensure_ascii=False,
        )
    )
    server = make_mock(script=script, fault="drop=6,times=1", ids=ids)
    r = chat(server, env, "--protocol", protocol, "--format", "jsonl", "weather")
    assert r.returncode == 0, r.stderr
    events = jsonl(r.stdout)
    calls = [e for e in events if e["type"] == "tool_call"]
    assert calls == [
        {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": args}
    ]
    assert joined_text(events) == "查询中"
    assert len(retries(events)) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_rate_limit_honours_retry_after(make_mock: Any, env: dict[str, str], protocol: str) -> None:
    server = make_mock(fault="status=429,retry_after=0.6,times=1")
    start = time.monotonic()
    r = chat(
        server, env, "--protocol", protocol, "--retry-base", "20", "--format", "jsonl", "写一首诗"
    )
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    events = jsonl(r.stdout)
    seam = retries(events)[0]
    assert seam["delay"] == 0.6 and seam["code"] == 6 and seam["resume"] == "restart"
    assert joined_text(events) == POEM
    # It slept what the server asked (the lower bound), not the backoff of --retry-base 20,
    # which would be 10 to 20 s. The upper bound only has to stay below that: the slack
    # is process start-up on a slow machine.
    assert 0.6 <= elapsed < 8


def test_retry_after_ms_wins(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="status=529,retry_after_ms=150,times=1")
    r = chat(server, env, "--protocol", "anthropic", "--retry-base", "5", "--format", "jsonl", "hi")
    assert r.returncode == 0, r.stderr
    assert retries(jsonl(r.stdout))[0]["delay"] == 0.15


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_server_errors_then_success_with_backoff(
    make_mock: Any, env: dict[str, str], protocol: str
) -> None:
    server = make_mock(fault="status=500,times=2")
    start = time.monotonic()
    r = chat(
        server, env, "--protocol", protocol, "--retry-base", "0.2", "--format", "json", "写一首诗"
    )
    elapsed = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["text"] == POEM and out["attempts"] == 3 and out["resumed"] is False
    warnings = [line for line in r.stderr.decode().splitlines() if "retry" in line]
    assert len(warnings) == 2 and "retry 1/5" in warnings[0] and "retry 2/5" in warnings[1]
    # equal jitter from --retry-base 0.2: the waits are within [0.1, 0.2] and [0.2, 0.4]
    # (announced with one decimal), not the 1 s default's [0.5, 1] and [1, 2]
    delays = [float(re.search(r" in ([0-9.]+)s", w)[1]) for w in warnings]  # type: ignore[index]
    assert 0.1 <= delays[0] <= 0.2 and 0.2 <= delays[1] <= 0.4, warnings
    # The waits really happened (at least the shortest possible), and were not much longer
    # than announced: the 5 s slack is for process start-up on a slow machine.
    assert 0.3 <= elapsed < sum(delays) + 5


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("status=503", 5),
        ("status=429", 6),
        ("truncate=2", 8),
        ("error=2", 5),
        ("stall=2", 7),
        ("drop=2", 7),
    ],
)
def test_retries_exhausted_exit_with_last_failure(
    make_mock: Any, env: dict[str, str], fault: str, code: int
) -> None:
    server = make_mock(fault=fault)
    r = chat(
        server, env, "--max-retries", "2", "--idle-timeout", "0.3", "--format", "jsonl", "写一首诗"
    )
    assert r.returncode == code, r.stderr
    events = jsonl(r.stdout)
    assert len(retries(events)) == 2
    assert events[-1]["type"] == "error" and events[-1]["code"] == code
    assert events[-1]["attempts"] == 3
    # text received before the failures is there once
    assert POEM.startswith(joined_text(events))


def test_client_errors_are_not_retried(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="status=400,message=bad thing")
    r = chat(server, env, "hi")
    assert r.returncode == 4
    assert "bad thing" in r.stderr.decode()
    assert len([q for q in server.requests if q["method"] == "POST"]) == 1


def test_conflict_409_is_retried_but_exits_4(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="status=409")
    r = chat(server, env, "--max-retries", "1", "hi")
    assert r.returncode == 4
    assert len([q for q in server.requests if q["method"] == "POST"]) == 2


def test_max_retries_zero_disables(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="status=500,times=1")
    r = chat(server, env, "--max-retries", "0", "hi")
    assert r.returncode == 5
    assert len(server.requests) == 1


@pytest.mark.parametrize("failure", ["refused", "unresolvable"])
def test_network_failures_exit_7_after_retries(
    env: dict[str, str], refused_url: str, failure: str
) -> None:
    base_url = {"refused": refused_url, "unresolvable": "http://mint-does-not-exist.invalid/v1"}
    r = run_mint(
        [
            "chat",
            "--max-retries",
            "2",
            "--retry-base",
            "0.01",
            "--connect-timeout",
            "2",
            "--format",
            "jsonl",
            "--retry-connrefused",
            "hi",
        ],
        {**env, "MINT_BASE_URL": base_url[failure]},
    )
    assert r.returncode == 7, r.stderr
    events = jsonl(r.stdout)
    assert len(retries(events)) == 2 and events[-1]["code"] == 7


def test_whole_run_timeout(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="stall=2")
    start = time.monotonic()
    r = chat(server, env, "--idle-timeout", "30", "--timeout", "1", "写一首诗")
    elapsed = time.monotonic() - start
    assert r.returncode == 7
    assert r.stdout and POEM.startswith(r.stdout.decode())  # the two pieces before the stall
    assert "--timeout" in r.stderr.decode()
    # It ran until --timeout 1, and gave up then rather than at the 30 s idle timeout:
    # the upper bound is generous (start-up on a slow machine), but far below 30 s.
    assert 1 <= elapsed < 10


def _journal_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "mint" / "journals"


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("how", ["SIGKILL", "SIGINT", "SIGTERM"])
def test_killed_run_resumes_with_only_the_rest(
    make_mock: Any, env: dict[str, str], spawn: Any, protocol: str, how: str
) -> None:
    server = make_mock(delay=0.05, piece_chars=2)
    proc = spawn([*MINT, "chat", "--protocol", protocol, "写一首诗"], mock_env(env, server))
    first = read_until(
        proc.stdout.fileno(),
        lambda got: len(got.decode(errors="ignore")) >= 8,
        timeout=10,
        what="8 characters of the reply",
    )
    proc.send_signal(getattr(signal, how))
    rest, err = finish(proc)
    assert proc.returncode == {"SIGKILL": -9, "SIGINT": 130, "SIGTERM": 143}[how]
    printed = first + rest
    assert POEM.encode().startswith(printed)
    journals = list(_journal_dir(env).glob("*.jsonl"))
    assert len(journals) == 1
    jid = journals[0].stem
    if how != "SIGKILL":
        assert f"mint chat --resume {jid}" in err.decode()
    assert (journals[0].stat().st_mode & 0o777) == 0o600
    assert (_journal_dir(env).stat().st_mode & 0o777) == 0o700
    assert b"sk-test" not in journals[0].read_bytes()

    listed = run_mint(["journal", "list", "--format", "json"], mock_env(env, server))
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["id"] for row in rows] == [jid]
    assert rows[0]["received_chars"] >= len(printed.decode())

    # The resumed run prints only the remainder; together: the whole answer once.
    r = run_mint(["chat", "--resume"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert (printed + r.stdout).decode() == POEM
    assert list(_journal_dir(env).glob("*.jsonl")) == []  # removed after success
    last = [q for q in server.requests if q["method"] == "POST"][-1]["body"]
    assert last["messages"][-1]["role"] == "assistant"


def test_resume_json_gives_the_whole_object(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="drop=3")
    r = chat(server, env, "--max-retries", "0", "--format", "json", "写一首诗")
    assert r.returncode == 7
    partial = json.loads(r.stdout)
    assert partial["error"]["code"] == 7
    jid = next(_journal_dir(env).glob("*.jsonl")).stem
    assert f"--resume {jid}" in r.stderr.decode()
    server._fault = None
    r = run_mint(["chat", "--resume", jid[:12]], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["text"] == POEM and out["resumed"] is True


def test_resume_without_anything_to_resume(env: dict[str, str]) -> None:
    r = run_mint(["chat", "--resume"], env)
    assert r.returncode == 2 and r.stdout == b""
    assert "no unfinished reply" in r.stderr.decode()
    r = run_mint(["chat", "--resume", "nope"], env)
    assert r.returncode == 2 and r.stdout == b""


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_resume_after_all_the_text_still_ends_the_line(
    make_mock: Any, env: dict[str, str], spawn: Any, protocol: str
) -> None:
    # Stopped when every piece of text is out but the end is not: the resumed run
    # prints no text, and still owes the newline the first run would have ended with.
    env = mock_env(env, make_mock(delay=0.4))
    whole = b"Mock reply to: end test"
    proc = spawn([*MINT, "chat", "--protocol", protocol, "end test"], env)
    first = read_until(
        proc.stdout.fileno(), lambda got: got == whole, timeout=15, what="all the text"
    )
    proc.send_signal(signal.SIGINT)
    rest, err = finish(proc)
    assert proc.returncode == 130, err
    r = run_mint(["chat", "--resume"], env)
    assert r.returncode == 0, r.stderr
    assert first + rest + r.stdout == whole + b"\n"


def test_resume_while_another_mint_resumes_it(
    make_mock: Any, env: dict[str, str], spawn: Any
) -> None:
    env = mock_env(env, make_mock(delay=0.15, piece_chars=2))  # the rest takes ~2 s
    proc = spawn([*MINT, "chat", "写一首诗"], env)
    first = read_until(
        proc.stdout.fileno(), lambda got: len(got) >= 4, timeout=10, what="some of the reply"
    )
    proc.send_signal(signal.SIGINT)
    rest, err = finish(proc)
    assert proc.returncode == 130, err
    [journal] = _journal_dir(env).glob("*.jsonl")
    resumer = spawn([*MINT, "chat", "--resume"], env)
    deadline = time.monotonic() + 10
    while not load(journal).locked:  # the resumer holds the journal
        assert time.monotonic() < deadline and resumer.poll() is None, "the resume never started"
        time.sleep(0.01)
    for args in (["--resume"], ["--resume", journal.stem]):
        r = run_mint(["chat", *args], env)
        assert r.returncode == 2 and r.stdout == b"", r.stderr
        assert r.stderr.decode() == (
            f"mint: error: reply {journal.stem} is still being written by another mint process\n"
        )
    out, err = finish(resumer)
    assert resumer.returncode == 0, err
    assert (first + rest + out).decode() == POEM


def test_no_journal_leaves_nothing(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="drop=3")
    r = chat(server, env, "--max-retries", "0", "--no-journal", "写一首诗")
    assert r.returncode == 7
    assert not _journal_dir(env).exists() or list(_journal_dir(env).glob("*")) == []
    assert "--resume" not in r.stderr.decode()


def test_expired_journals_are_pruned(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="drop=3")
    assert chat(server, env, "--max-retries", "0", "写一首诗").returncode == 7
    path = next(_journal_dir(env).glob("*.jsonl"))
    old = time.time() - 8 * 24 * 3600
    os.utime(path, (old, old))
    listed = run_mint(["journal", "list", "--format", "json"], env)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    assert not path.exists()
