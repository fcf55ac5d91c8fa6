"""mint runs the tools (--tool-cmd): the loop, outputs, faults and the journal.

Every run is a real mint process against the mock gateway (one shared per
script) or a tests/sse_server; tools are small shell scripts in tmp_path.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, SECRET, finish, jsonl, mock_env, readme_block, run_mint, scripted_mock

PARIS_OSLO = [
    {"name": "weather", "arguments": {"city": "Paris"}},
    {"name": "weather", "arguments": {"city": "Oslo"}},
]
SCRIPT = [
    # a chain of three requests: two parallel calls, then one, then text
    {
        "match": {"prompt": "^trip"},
        "steps": [
            {"text": "Checking two cities.", "tool_calls": PARIS_OSLO},
            {"tool_calls": [{"name": "weather", "arguments": {"city": "Rome"}}]},
        ],
    },
    # the trip again, with the second reply slow to start: a kill lands between steps
    {
        "match": {"prompt": "^pause"},
        "steps": [
            {"text": "Checking two cities.", "tool_calls": PARIS_OSLO},
            {
                "first_byte_delay": 0.5,
                "tool_calls": [{"name": "weather", "arguments": {"city": "Rome"}}],
            },
        ],
    },
    # a tool step, then a refusal
    {
        "match": {"prompt": "^refuse"},
        "steps": [
            {"tool_calls": PARIS_OSLO[:1]},
            {"text": "I will not.", "finish_reason": "refusal"},
        ],
    },
    # a model that never stops calling
    {"match": {"prompt": "^forever"}, "steps": [{"tool_calls": PARIS_OSLO[:1]}] * 20},
    # bad calls: an unknown tool, arguments that are not JSON
    {
        "match": {"prompt": "^bad calls"},
        "steps": [
            {
                "tool_calls": [
                    {"id": "u1", "name": "nope", "arguments": {}},
                    {"id": "u2", "name": "weather", "arguments": "{not json"},
                    {"id": "u3", "name": "other", "arguments": {}},
                ]
            }
        ],
    },
    # a model that somehow knows the key: the tool never gets it
    {
        "match": {"prompt": "^leak"},
        "steps": [{"tool_calls": [{"id": "k", "name": "weather", "arguments": {"key": SECRET}}]}],
    },
    # for --approve: arguments with an escape sequence, then a second step
    {
        "match": {"prompt": "^approve"},
        "steps": [
            {
                "tool_calls": [
                    {"name": "weather", "arguments": {"city": "Par\u001b[31mis"}},
                    {"name": "weather", "arguments": {"city": "Oslo"}},
                ]
            },
            {"tool_calls": [{"name": "weather", "arguments": {"city": "Rome"}}]},
        ],
    },
    # slow text, for a kill mid-stream (in both steps)
    {
        "match": {"prompt": "^slow"},
        "steps": [
            {"text": "First step text. " * 4, "delay": 0.02, "tool_calls": PARIS_OSLO},
        ],
        "delay": 0.02,
    },
]


def tool(tmp_path: Path, name: str, body: str) -> str:
    """An executable shell script; returns its path."""
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with scripted_mock(tmp_path_factory.mktemp("script"), SCRIPT) as srv:
        yield srv


@pytest.fixture
def menv(env: dict[str, str], server: Any) -> dict[str, str]:
    return {**mock_env(env, server), "MINT_MAX_RETRIES": "0"}


def requests_since(server: Any, mark: int) -> list[dict[str, Any]]:
    lines = server.log_path.read_bytes().splitlines()[mark:]
    return [json.loads(line) for line in lines]


def log_mark(server: Any) -> int:
    return len(server.log_path.read_bytes().splitlines()) if server.log_path.exists() else 0


def echo_tool(tmp_path: Path) -> str:
    """Prints its arguments and call id; appends one line per run to runs.txt."""
    runs = tmp_path / "runs.txt"
    return tool(
        tmp_path,
        "echo-tool",
        f'args=$(cat); echo "$MINT_TOOL_NAME $args" >> {runs}; '
        'echo "got $args as $MINT_TOOL_CALL_ID; key=${MINT_API_KEY:-none} other=${OTHER:-none}"',
    )


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_the_loop_runs_the_tool_and_sends_the_result(
    tmp_path: Path, menv: dict[str, str], server: Any, protocol: str
) -> None:
    cmd = echo_tool(tmp_path)
    env = {**menv, "OTHER": f"x{SECRET}y"}  # a variable holding the key is not passed on
    r = run_mint(
        ["chat", "--protocol", protocol, "--no-log", "--tool-cmd", f"weather={cmd}", "hi"], env
    )
    assert r.returncode == 0, r.stderr
    # the call id the mock made (unique, deterministic) reached the tool's environment
    assert re.fullmatch(
        r"Tool result received: got \{\} as (call|toolu)_\w+; key=none other=none\n",
        r.stdout.decode(),
    ), r.stdout
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mint: tool weather {}: ok ("), lines
    assert SECRET.encode() not in r.stderr + r.stdout
    leak = run_mint(["chat", "--protocol", protocol, "--no-log", "--tool-cmd", f"weather={cmd}",
                     "leak"], env)  # fmt: skip
    assert leak.returncode == 0 and b'{"key":"[REDACTED]"}' in leak.stdout, leak.stdout
    # -q hides the line; stdout is the same
    q = run_mint(["chat", "-q", "--protocol", protocol, "--no-log", "--tool-cmd",
                  f"weather={cmd}", "hi"], env)  # fmt: skip
    assert q.returncode == 0 and q.stderr == b"" and q.stdout == r.stdout


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_parallel_calls_and_a_chain_of_steps(
    tmp_path: Path, menv: dict[str, str], server: Any, protocol: str
) -> None:
    # Each Paris/Oslo call waits for the other to have started: run one after the
    # other, the first would give up (exit 3) and its result would say so.
    started = tmp_path / "started"
    started.mkdir()
    cmd = tool(
        tmp_path,
        "pair",
        f'args=$(cat); city=$(echo "$args" | sed "s/.*:\\"//; s/\\".*//"); touch {started}/$city; '
        f'case $city in Paris) other=Oslo;; Oslo) other=Paris;; *) echo "$city ok"; exit 0;; esac; '
        f"i=0; while [ ! -e {started}/$other ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; "
        f'[ -e {started}/$other ] || exit 3; echo "$city ok"',
    )
    mark = log_mark(server)
    r = run_mint(
        ["chat", "--protocol", protocol, "--no-log", "-f", "jsonl",
         "--tool-cmd", f"weather={cmd}", "trip please"], menv,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    events = jsonl(r.stdout)
    kinds = [e["type"] for e in events if e["type"] != "text"]
    assert kinds == [
        "start", "tool_call", "tool_call", "tool_result", "tool_result", "step",
        "tool_call", "tool_result", "step", "usage", "done",
    ]  # fmt: skip
    results = {e["id"]: e for e in events if e["type"] == "tool_result"}
    assert {r["output"] for r in results.values()} == {"Paris ok\n", "Oslo ok\n", "Rome ok\n"}
    assert all(not r["is_error"] and r["exit"] == 0 for r in results.values())
    assert [e["step"] for e in events if e["type"] == "step"] == [2, 3]
    assert events[-1]["steps"] == 3 and events[-1]["attempts"] == 3
    text = "".join(e["text"] for e in events if e["type"] == "text")
    assert text.startswith("Checking two cities.") and "Tool result received: Rome ok" in text
    sent = requests_since(server, mark)
    assert len(sent) == 3
    ids = [c["id"] for e in events if e["type"] == "tool_call" for c in [e]]
    assert len(set(ids)) == 3  # never the same call id twice in a chain


def test_json_lists_the_steps_and_raw_every_response(tmp_path: Path, menv: dict[str, str]) -> None:
    cmd = echo_tool(tmp_path)
    args = ["chat", "--no-log", "--tool-cmd", f"weather={cmd}", "trip"]
    r = run_mint([*args, "-f", "json"], menv)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert [len(s["tool_calls"]) for s in obj["steps"]] == [2, 1, 0]
    assert [len(s["tool_results"]) for s in obj["steps"]] == [2, 1, 0]
    # results in call order, whichever ended first
    assert obj["steps"][0]["tool_results"][0]["output"].startswith('got {"city":"Paris"}')
    roles = [m["role"] for m in obj["messages"]]
    assert roles == ["user", "assistant", "tool", "tool", "assistant", "tool", "assistant"]
    assert obj["text"] == obj["steps"][-1]["text"] and obj["steps"][-1]["usage"]["output_tokens"]
    raw = run_mint([*args, "-f", "raw"], menv)
    assert raw.returncode == 0, raw.stderr
    chunks = [json.loads(line) for line in raw.stdout.splitlines()]
    assert len({c["id"] for c in chunks}) == 3  # the wire events of all three responses
    assert raw.stderr.decode().count("mint: tool weather") == 3


def test_max_steps_exit_13(tmp_path: Path, menv: dict[str, str], server: Any) -> None:
    cmd = echo_tool(tmp_path)
    mark = log_mark(server)
    r = run_mint(["chat", "--no-log", "--max-steps", "3", "--tool-cmd", f"weather={cmd}",
                  "forever"], menv)  # fmt: skip
    assert r.returncode == 13, r.stderr
    assert b"tool loop reached --max-steps (3)" in r.stderr
    assert b"not run" in r.stderr
    assert len(requests_since(server, mark)) == 3
    assert (tmp_path / "runs.txt").read_text().count("weather") == 2  # the third never ran
    assert not list((Path(menv["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl"))


FAULTY = {
    "exit1": "cat >/dev/null; echo partial; echo oops >&2; exit 1",
    "signal": "kill -9 $$",
    "badutf8": "printf 'a\\377b'",
    "huge": "head -c 100000000 /dev/zero",
    "nostdin": "echo fine",  # never reads its (large) stdin
    # closes its pipes, then exits a moment later: finished, not killed
    "closesfirst": "cat >/dev/null; echo fine; exec >&- 2>&-; sleep 0.3",
}


def test_a_refusal_after_a_tool_step_ends_the_run(tmp_path: Path, menv: dict[str, str]) -> None:
    cmd = echo_tool(tmp_path)
    r = run_mint(["chat", "--protocol", "anthropic", "--no-log", "--tool-cmd", f"weather={cmd}",
                  "refuse this"], menv)  # fmt: skip
    assert r.returncode == 12, r.stderr
    assert b"the model refused" in r.stderr and b"--resume" not in r.stderr
    assert not list((Path(menv["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl"))


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_failures_become_error_results(
    tmp_path: Path, env: dict[str, str], make_mock: Any, protocol: str
) -> None:
    script = tmp_path / "s.json"
    # arguments larger than a pipe's buffer: a tool that does not read them must not block
    calls = [{"id": n, "name": n, "arguments": {"pad": "x" * 200000}} for n in FAULTY]
    script.write_text(json.dumps([{"steps": [{"tool_calls": calls, "piece_chars": 65536}]}]))
    log = tmp_path / "log.jsonl"
    srv = make_mock(script=script, log=log)
    cmds = [f"--tool-cmd={n}={tool(tmp_path, n, body)}" for n, body in FAULTY.items()]
    r = run_mint(["chat", "--protocol", protocol, "--no-log", "-f", "json",
                  "--tool-output-max", "1000", *cmds, "go"], mock_env(env, srv))  # fmt: skip
    assert r.returncode == 0, r.stderr
    results = {t["id"]: t for t in json.loads(r.stdout)["steps"][0]["tool_results"]}
    sent = json.loads(log.read_bytes().splitlines()[-1])["body"]["messages"]
    if protocol == "anthropic":
        blocks = sent[-1]["content"]
        wire = {b["tool_use_id"]: (b["content"], b.get("is_error", False)) for b in blocks}
    else:
        assert not any("is_error" in m for m in sent)  # not a Chat Completions field
        wire = {m["tool_call_id"]: (m["content"], None) for m in sent if m["role"] == "tool"}
    for name, result in results.items():
        content, flag = wire[name]
        assert flag in (None, result["is_error"]), name
        if name == "exit1":
            assert result["is_error"] and result["exit"] == 1
            assert content.startswith("error: the tool exited with status 1; its stderr: oops")
            assert "partial" in content
        elif name == "signal":
            assert result["is_error"] and result["exit"] == -9
            assert content.startswith("error: the tool was killed by signal 9")
        elif name == "badutf8":
            assert not result["is_error"] and content == "a\ufffdb"
        elif name == "huge":
            assert result["truncated"] and content.startswith("\0" * 1000 + "\n[output cut")
        else:
            assert not result["is_error"] and content == "fine\n"


def test_a_hanging_tool_is_killed_with_its_group(tmp_path: Path, menv: dict[str, str]) -> None:
    pidfile = tmp_path / "child.pid"
    cmd = tool(tmp_path, "hang", f"sleep 300 & echo $! > {pidfile}; wait")
    t0 = time.monotonic()
    r = run_mint(["chat", "--no-log", "-f", "jsonl", "--tool-timeout", "0.5",
                  "--tool-cmd", f"weather={cmd}", "hi"], menv)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 10
    result = next(e for e in jsonl(r.stdout) if e["type"] == "tool_result")
    assert result["is_error"] and "did not finish within 0.5 s" in result["error"]
    assert gone(int(pidfile.read_text()))


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for its reaper counts as ended)."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat_line.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_unknown_tool_and_bad_arguments(
    tmp_path: Path, menv: dict[str, str], protocol: str
) -> None:
    cmd = echo_tool(tmp_path)
    r = run_mint(["chat", "--protocol", protocol, "--no-log", "-f", "json", "--tool-cmd",
                  f"weather={cmd}", "--tool", '{"name": "other"}', "bad calls"], menv)  # fmt: skip
    assert r.returncode == 0, r.stderr
    results = {t["id"]: t for t in json.loads(r.stdout)["steps"][0]["tool_results"]}
    assert "there is no tool 'nope'" in results["u1"]["error"]
    assert "arguments could not be used" in results["u2"]["error"]
    assert "given no command to run it" in results["u3"]["error"]  # declared, not runnable
    assert not (tmp_path / "runs.txt").exists()


def test_bad_tool_commands_fail_before_sending(
    tmp_path: Path, menv: dict[str, str], server: Any
) -> None:
    plain = tmp_path / "plain"
    plain.write_text("echo hi\n")
    mark = log_mark(server)
    for value, message in [
        ("weather=/no/such/tool", "/no/such/tool: command not found"),
        ("weather=no-such-tool-anywhere", "command not found"),
        (f"weather={plain}", "not executable"),
        ("weather=", "the command is empty"),
        ("bad name=/bin/true", "NAME=COMMAND"),
        ("weather='unclosed", "No closing quotation"),
    ]:
        r = run_mint(["chat", "--no-log", "--tool-cmd", value, "hi"], menv)
        assert r.returncode == 2, (value, r.stderr)
        assert message in r.stderr.decode(), (value, r.stderr)
    assert requests_since(server, mark) == []
    r = run_mint(["chat", "--no-log", "--approve", "--tool-cmd", "w=/bin/true", "hi"], menv)
    assert r.returncode == 2 and b"--approve asks on the terminal" in r.stderr


def test_config_tables_and_conversation_chain(tmp_path: Path, menv: dict[str, str]) -> None:
    cmd = echo_tool(tmp_path)
    config = Path(menv["XDG_CONFIG_HOME"]) / "mint" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[profiles.t.tools.weather]\ncommand = "{cmd}"\n')
    r = run_mint(["chat", "--profile", "t", "trip"], menv)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "runs.txt").read_text().count("weather") == 3
    shown = run_mint(["log", "show"], menv)
    assert shown.returncode == 0
    out = shown.stdout.decode()
    assert out.count("[tool call ") == 3 and out.count("tool (call_") == 3
    config.write_text("[tools.weather]\nargs = 1\n")
    bad = run_mint(["chat", "hi"], menv)
    assert bad.returncode == 3 and b"[tools.NAME] tables" in bad.stderr
    config.write_text('[tools.weather]\ncommand = " "\n')
    bad = run_mint(["chat", "hi"], menv)
    assert bad.returncode == 3 and b"config.toml: [tools.weather] command is empty" in bad.stderr


# -- the journal: a kill at any point never runs a finished tool twice ------------------


def wait_for(check: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def counting_tool(tmp_path: Path, hold: str = "") -> str:
    """Appends 'start CITY' and 'end CITY' to runs.txt; with ``hold`` (a city),
    that call waits until the file 'release' exists."""
    runs, release = tmp_path / "runs.txt", tmp_path / "release"
    return tool(
        tmp_path,
        "count",
        f'args=$(cat); city=$(echo "$args" | sed "s/.*:\\"//; s/\\".*//"); '
        f'echo "start $city" >> {runs}; '
        f'if [ "$city" = "{hold}" ]; then while [ ! -e {release} ]; do sleep 0.02; done; fi; '
        f'echo "end $city" >> {runs}; echo "$city is sunny"',
    )


def runs(tmp_path: Path) -> list[str]:
    path = tmp_path / "runs.txt"
    return path.read_text().splitlines() if path.exists() else []


def journal_records(env: dict[str, str]) -> list[dict[str, Any]]:
    """The records of the (one) journal, as far as they are complete."""
    found = list((Path(env["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl"))
    if not found:
        return []
    lines = found[0].read_bytes().split(b"\n")[1:-1]
    return [json.loads(line) for line in lines]


def has(env: dict[str, str], key: str, count: int = 1) -> bool:
    return sum(key in r for r in journal_records(env)) >= count


# Where mint is killed, and the journal record that shows it got there.
POINTS = {
    "mid-stream": ("slow", lambda e: has(e, "t")),  # step 1's text is arriving
    "step-end": ("trip", lambda e: has(e, "s")),  # step 1 ended, tools starting
    "mid-tool": ("trip", lambda e: has(e, "tr")),  # Paris done, Oslo still running
    "after-tools": ("pause", lambda e: has(e, "tr", 2)),  # both results journaled
    "second-stream": ("slow", lambda e: has(e, "tr", 2) and "t" in journal_records(e)[-1]),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_at_each_point_then_resume(
    tmp_path: Path, menv: dict[str, str], spawn: Any, point: str
) -> None:
    prompt, reached = POINTS[point]
    cmd = counting_tool(tmp_path, hold="Oslo" if point == "mid-tool" else "")
    proc = spawn([*MINT, "chat", "--no-log", "--tool-cmd", f"weather={cmd}", prompt], menv)
    wait_for(lambda: reached(menv) or proc.poll() is not None, point)
    proc.send_signal(signal.SIGKILL)
    out, _ = finish(proc)
    if proc.returncode == 0:  # a loaded machine: the run ended before the kill
        assert not journal_records(menv) and out.endswith(b"sunny\n")
        pytest.skip(f"mint finished before the kill at {point}")
    # the calls whose results the journal held when mint died, and those it
    # held as started without a result (they may have done their work)
    records = journal_records(menv)
    journaled = [r["tr"]["output"].split()[0] for r in records if "tr" in r]
    assert len(journaled) >= {"mid-tool": 1, "after-tools": 2, "second-stream": 2}.get(point, 0)
    cities = {c["id"]: c["arguments"]["city"] for r in records for c in r.get("c", [])}
    ended = {r["tr"]["id"] for r in records if "tr" in r}
    lost = [cities[i] for r in records for i in r.get("ts", []) if i not in ended]
    (tmp_path / "release").touch()
    r = run_mint(["chat", "--resume"], menv)
    assert r.returncode == 0, r.stderr
    done = runs(tmp_path)
    for city in ("Paris", "Oslo", "Rome"):  # no call runs twice, a finished one least of all
        started = done.count(f"start {city}")
        assert started == 1 if city in journaled else started <= 1, (city, done)
    assert r.stderr.count(b"was running when mint stopped") == len(lost), r.stderr
    if point == "mid-tool":  # Oslo was running when mint died: it is not run again
        assert "Oslo" in lost and "Oslo" not in journaled, (lost, journaled)
    if prompt in ("trip", "pause") and "Rome" not in lost:
        assert done.count("end Rome") >= 1, done
    whole = (out + r.stdout).decode()
    assert whole.count("Checking two cities.") <= 1 and whole.count("First step text.") <= 4
    lost_end = bool(lost) and whole.endswith("may or may not have done its work\n")
    assert whole.endswith("sunny\n") or lost_end, whole
    assert not list((Path(menv["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl"))


def test_ctrl_c_mid_tool_kills_it_and_resume_does_not_run_it_again(
    tmp_path: Path, menv: dict[str, str], spawn: Any
) -> None:
    cmd = counting_tool(tmp_path, hold="Oslo")
    proc = spawn([*MINT, "chat", "--no-log", "--tool-cmd", f"weather={cmd}", "trip"], menv)
    # Paris's result is journaled (not only run), Oslo is running
    wait_for(lambda: has(menv, "tr") and "start Oslo" in runs(tmp_path), "the tools")
    proc.send_signal(signal.SIGINT)
    _, err = finish(proc)
    assert proc.returncode == 130, err
    assert b"mint chat --resume" in err
    # the held Oslo call's process group is gone (it never wrote "end")
    (tmp_path / "release").touch()
    time.sleep(0.1)
    assert "end Oslo" not in runs(tmp_path)
    r = run_mint(["chat", "--resume"], menv)
    assert r.returncode == 0, r.stderr
    assert b"warning: tool weather" in r.stderr and b"was running when mint stopped" in r.stderr
    assert runs(tmp_path).count("start Paris") == 1 and runs(tmp_path).count("start Oslo") == 1
    assert "end Oslo" not in runs(tmp_path) and runs(tmp_path).count("end Rome") == 1


def test_a_stream_cut_in_a_tool_call_turn_is_continued(
    tmp_path: Path, env: dict[str, str], make_mock: Any
) -> None:
    cmd = echo_tool(tmp_path)
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"match": {"prompt": "^cut"}, "steps": [
        {"tool_calls": PARIS_OSLO, "fault": "drop=3,times=1"}]}]))  # fmt: skip
    srv = make_mock(script=script)
    r = run_mint(["chat", "--no-log", "--retry-base", "0", "--tool-cmd", f"weather={cmd}",
                  "cut"], mock_env(env, srv))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "runs.txt").read_text().count("weather") == 2
    assert r.stdout.decode().startswith("2 tool results received")


def test_plain_chat_imports_nothing_new(env: dict[str, str]) -> None:
    code = (
        "import sys, mintcli.cli.main as c\n"
        "try:\n  c.main(['chat', '--mock', '--no-log', 'hi'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('mintcli.toolloop', 'mcp'))))"
    )
    r = subprocess.run([MINT[0], "-c", code], env=env, capture_output=True, timeout=30)
    assert r.stdout.decode().strip().endswith("[]"), r.stdout


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_readme_shell_tool_example(
    tmp_path: Path, env: dict[str, str], make_mock: Any, protocol: str
) -> None:
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("run-tools")],
        cwd=tmp_path, env={**mock_env(env, make_mock()), "MINT_PROTOCOL": protocol},
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode() == (
        'Tool result received: {"location":"北京","sky":"晴","celsius":25}\n'
    )
    assert r.stderr.decode().startswith('mint: tool get_weather {"location":"北京"}: ok (47 bytes')


def test_approve_asks_on_the_terminal(tmp_path: Path, menv: dict[str, str], spawn_pty: Any) -> None:
    cmd = counting_tool(tmp_path)
    child = spawn_pty([*MINT, "chat", "--no-log", "--approve", "--tool-cmd", f"weather={cmd}",
                       "approve these"], menv)  # fmt: skip
    asked = child.read_until(lambda b: b"[a]lways" in b, timeout=20, what="the first question")
    # the arguments are shown as JSON: the escape character as \\u001b, never raw
    assert b'run tool weather {"city":"Par\\u001b[31mis"}' in asked and b"\x1b[31m" not in asked
    os.write(child.fd, b"n\n")
    asked = child.read_until(lambda b: b"Oslo" in b and b"[a]lways" in b, timeout=20,
                             what="the second question")  # fmt: skip
    assert b"refused" in asked  # the Paris call, answered no
    os.write(child.fd, b"a\n")  # always: Rome, in the next step, is not asked about
    rest = child.read_until(None, timeout=20, what="the end")
    assert child.wait() == 0, rest
    assert b"[a]lways" not in rest  # Rome ran without a question
    assert runs(tmp_path) == ["start Oslo", "end Oslo", "start Rome", "end Rome"]


def test_batch_items_run_their_own_loops(tmp_path: Path, menv: dict[str, str]) -> None:
    cmd = counting_tool(tmp_path)
    items = tmp_path / "items.jsonl"
    items.write_text('{"id": "a", "prompt": "trip"}\n{"id": "b", "prompt": "forever"}\n')
    r = run_mint(["batch", "-q", "--max-steps", "4", "--tool-cmd", f"weather={cmd}",
                  str(items)], menv)  # fmt: skip
    assert r.returncode == 9, r.stderr  # b never stops calling
    a, b = (json.loads(line) for line in r.stdout.splitlines())
    assert a["text"] == "Tool result received: Rome is sunny\n" and a["steps"] == 3
    assert a["attempts"] == 3 and "error" not in a
    assert b["error"]["code"] == 13 and b["steps"] == 4
    done = runs(tmp_path)
    assert done.count("end Rome") == 1 and done.count("end Paris") == 4  # a once, b three times
