"""Saved conversations: -c, --conversation, --tool-result, mint log, file modes,
--no-log, failures that leave a conversation alone, --resume, two writers at once."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, SECRET, finish, mock_env, read_until, run_mint

from mintcli.store import read

PROTOCOLS = ["openai", "anthropic"]
FAST = ["--retry-base", "0.01", "--idle-timeout", "1"]
WEATHER = {
    "name": "get_weather",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


def chat(
    server: Any, env: dict[str, str], *args: str, **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    return run_mint(["chat", *FAST, *args], mock_env(env, server), **kw)


def folder(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "mint"


def saved(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every conversation in the log database, as the conversation files held them."""
    path = folder(env) / "logs.db"
    if not path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        found = [read.load(conn, i) for i in read.ids(conn)]
    return {c.id: vars(c) for c in found if c is not None}


def posts(server: Any) -> list[dict[str, Any]]:
    return [q for q in server.requests if q["method"] == "POST"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_continue_by_latest_and_by_id(make_mock: Any, env: dict[str, str], protocol: str) -> None:
    server = make_mock()
    r = chat(server, env, "--protocol", protocol, "-f", "json", "first question")
    assert r.returncode == 0, r.stderr
    ident = json.loads(r.stdout)["conversation"]
    r = chat(server, env, "-c", "second question")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mock reply to: second question\n"
    # the protocol was kept from the conversation, and the earlier turns were sent
    second = posts(server)[1]
    assert second["path"].endswith("/messages" if protocol == "anthropic" else "/completions")
    texts = [m["content"] for m in second["body"]["messages"]]
    assert texts == ["first question", "Mock reply to: first question", "second question"]
    r = chat(server, env, "--conversation", ident[:-2], "-f", "json", "third")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["conversation"] == ident
    conv = saved(env)[ident]
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant"] * 3
    assert [x["protocol"] for x in conv["exchanges"]] == [protocol] * 3
    assert all(x["usage"]["output_tokens"] > 0 and x["time"] > 0 for x in conv["exchanges"])
    assert conv["exchanges"][0]["model"] == "openai/gpt-4o"

    r = run_mint(["log", "show", "--format", "json"], env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == conv["messages"]
    r = run_mint(["log", "show", ident], env)
    assert r.stdout.decode().startswith("user:\nfirst question\n\nassistant:\nMock reply to: first")
    r = run_mint(["log", "list"], env)
    fields = r.stdout.decode().rstrip("\n").split("\t")
    assert fields[0] == ident and fields[2] == "openai/gpt-4o" and fields[3] == "first question"
    rows = json.loads(run_mint(["log", "list", "--format", "json"], env).stdout)
    assert rows[0]["id"] == ident and rows[0]["exchanges"] == 3


def test_a_conversation_goes_on_with_the_other_protocol(
    make_mock: Any, env: dict[str, str]
) -> None:
    server = make_mock()
    assert chat(server, env, "--system", "be brief", "hello").returncode == 0
    r = chat(
        server, env, "-c", "--protocol", "anthropic", "-m", "anthropic/claude-sonnet-4-5", "again"
    )
    assert r.returncode == 0, r.stderr
    body = posts(server)[1]["body"]
    assert body["system"] == "be brief"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    exchanges = next(iter(saved(env).values()))["exchanges"]
    assert [(x["protocol"], x["model"]) for x in exchanges] == [
        ("openai", "openai/gpt-4o"),
        ("anthropic", "anthropic/claude-sonnet-4-5"),
    ]


def test_files_are_private_and_hold_no_key(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    assert chat(server, env, "hi").returncode == 0
    d = folder(env)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    files = list(d.iterdir())
    assert d / "logs.db" in files
    with contextlib.closing(sqlite3.connect(d / "logs.db")) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)
    assert not any(SECRET.encode() in p.read_bytes() for p in files)


def test_an_unusable_folder_fails_before_sending(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock()
    (tmp_path / "elsewhere").mkdir()
    Path(env["XDG_DATA_HOME"]).mkdir(parents=True)
    folder(env).symlink_to(tmp_path / "elsewhere")
    r = chat(server, env, "hi")
    assert r.returncode == 3 and "symbolic link" in r.stderr.decode()
    assert posts(server) == []


@pytest.mark.parametrize(
    "off",
    [["--no-log"], ["--dry-run"]],
)
def test_nothing_saved_when_off(make_mock: Any, env: dict[str, str], off: list[str]) -> None:
    server = make_mock()
    assert chat(server, env, *off, "hi").returncode == 0
    assert saved(env) == {}


def test_log_off_from_env_and_config(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    assert chat(server, {**env, "MINT_LOG": "0"}, "hi").returncode == 0
    config = Path(env["XDG_CONFIG_HOME"]) / "mint" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("log = false\n")
    assert chat(server, env, "hi").returncode == 0
    assert saved(env) == {}
    assert chat(server, env, "--log", "hi").returncode == 0  # the flag wins
    assert len(saved(env)) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_failed_reply_leaves_the_conversation_as_it_was_and_resume_saves_it(
    make_mock: Any, env: dict[str, str], protocol: str
) -> None:
    server = make_mock()
    assert chat(server, env, "--protocol", protocol, "first").returncode == 0
    ((ident, before),) = saved(env).items()
    refusing = make_mock(fault="status=400")
    assert chat(refusing, env, "-c", "second").returncode == 4
    broken = make_mock(fault="drop=3")
    r = chat(broken, env, "-c", "--max-retries", "0", "second")
    assert r.returncode == 7, r.stderr
    assert "--resume" in r.stderr.decode()
    assert saved(env) == {ident: before}
    # finishing the reply later saves the exchange
    r = chat(server, env, "--resume", "--base-url", server.base_url)
    assert r.returncode == 0, r.stderr
    messages = saved(env)[ident]["messages"]
    assert [m["content"] for m in messages[2:]] == ["second", "Mock reply to: second"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tool_result_round_trip(
    make_mock: Any, env: dict[str, str], tmp_path: Path, protocol: str
) -> None:
    server = make_mock()
    tool = ["--tool", json.dumps(WEATHER), "--protocol", protocol]
    r = chat(server, env, *tool, "北京的天气怎么样?")
    assert r.returncode == 0, r.stderr
    call = json.loads(r.stdout)
    (tmp_path / "result.json").write_text('{"sky": "晴"}')
    r = chat(server, env, *tool, "-c", f"--tool-result={call['id']}=@{tmp_path / 'result.json'}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == 'Tool result received: {"sky": "晴"}\n'
    last = posts(server)[1]["body"]["messages"][-1]
    if protocol == "openai":
        assert last == {"role": "tool", "tool_call_id": call["id"], "content": '{"sky": "晴"}'}
    else:
        assert last["content"] == [
            {"type": "tool_result", "tool_use_id": call["id"], "content": '{"sky": "晴"}'}
        ]
    messages = next(iter(saved(env).values()))["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]


def test_tool_results_must_answer_the_last_calls(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "s.json"
    two = [{"id": "a", "name": "f", "arguments": {}}, {"id": "b", "name": "f", "arguments": {}}]
    script.write_text(json.dumps([{"match": {"prompt": "go"}, "tool_calls": two}]))
    server = make_mock(script=script)
    tool = ["--tool", '{"name": "f"}']
    assert chat(server, env, *tool, "go").returncode == 0
    cases = [
        (["--tool-result", "a=1"], "give a --tool-result for each (missing: b)"),
        (
            ["--tool-result", "a=1", "--tool-result", "c=2"],
            "--tool-result c: the last reply made no such call (a, b)",
        ),
        (["--tool-result", "a=1", "--tool-result", "a=2"], "--tool-result a is given twice"),
        (["--tool-result", "nonsense"], "expects CALL_ID=JSON or CALL_ID=@FILE"),
        (["more words"], "the last reply made tool calls (a, b): send their results"),
        (
            ["--tool-result", "a=@missing.json", "--tool-result", "b=2"],
            "missing.json: No such file",
        ),
    ]
    for args, message in cases:
        r = chat(server, env, *tool, "-c", *args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr.decode(), r.stderr
    # results from stdin (@-) and a file, in the order the calls were made
    r = chat(
        server, env, *tool, "-c", "--tool-result", "b=2", "--tool-result", "a=@-", input=b"one"
    )
    assert r.returncode == 0, r.stderr
    sent = posts(server)[-1]["body"]["messages"][-2:]
    assert [(m["tool_call_id"], m["content"]) for m in sent] == [("a", "one"), ("b", "2")]
    # after a reply without calls there is nothing to answer
    assert chat(server, env, "hello").stdout == b"Mock reply to: hello\n"
    r = chat(server, env, "-c", "--tool-result", "a=1")
    assert r.returncode == 2 and "made no tool call" in r.stderr.decode()


def test_usage_errors(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    server = make_mock()
    r = chat(server, env, "-c", "hi")
    assert r.returncode == 2 and "no saved conversation" in r.stderr.decode()
    assert chat(server, env, "hi").returncode == 0
    (tmp_path / "m.json").write_text('[{"role": "user", "content": "x"}]')
    for args, message in [
        (["--conversation", "nope", "x"], "no conversation with ID 'nope'"),
        (["-c", "--conversation", "x", "y"], "either -c/--continue or --conversation"),
        (["-c", "--messages", str(tmp_path / "m.json"), "y"], "--messages cannot be combined"),
        (["-c"], "no prompt"),
        (["--resume", "-c"], "--resume continues a saved reply"),
    ]:
        r = chat(server, env, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert message in r.stderr.decode(), r.stderr
    assert len(posts(server)) == 1


def test_log_rm_and_completion(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    ids = [json.loads(chat(server, env, "-f", "json", q).stdout)["conversation"] for q in "ab"]
    r = run_mint(["_complete", "conversations"], env)
    assert sorted(r.stdout.decode().split()) == sorted(ids)
    script = (
        f"source {Path(__file__).parent.parent / 'completions' / 'mint.bash'}\n"
        "COMP_WORDS=(mint log show ''); COMP_CWORD=3; _mint; echo ${COMPREPLY[@]}\n"
        "COMP_WORDS=(mint chat --conversation ''); COMP_CWORD=3; _mint; echo ${COMPREPLY[@]}\n"
    )
    r = subprocess.run(["bash", "-c", script], env=env, capture_output=True, timeout=30)
    lines = r.stdout.decode().splitlines()
    assert [sorted(line.split()) for line in lines] == [sorted(ids)] * 2, r.stderr
    assert run_mint(["log", "rm"], env).returncode == 2
    assert run_mint(["log", "rm", "nope"], env).returncode == 2
    assert run_mint(["log", "rm", ids[0]], env).returncode == 0
    assert list(saved(env)) == [ids[1]]
    assert run_mint(["log", "show", ids[0]], env).returncode == 2
    assert run_mint(["log", "rm", "--all"], env).returncode == 0
    assert saved(env) == {}
    assert run_mint(["log", "list"], env).stdout == b""


def test_two_writers_at_once_fork_instead_of_mixing(
    make_mock: Any, env: dict[str, str], tmp_path: Path, spawn: Any
) -> None:
    script = tmp_path / "s.json"
    script.write_text(
        json.dumps(
            [{"match": {"prompt": "slow"}, "text": "s" * 40, "piece_chars": 1, "delay": 0.06}]
        )
    )
    server = make_mock(script=script)
    assert chat(server, env, "start").returncode == 0
    slow = spawn([*MINT, "chat", "-c", "slow"], mock_env(env, server))
    assert slow.stdout is not None
    read_until(slow.stdout.fileno(), lambda got: len(got) > 0, timeout=10, what="the slow reply")
    assert chat(server, env, "-c", "fast").returncode == 0
    _, err = finish(slow)
    assert slow.returncode == 0, err
    assert "was continued elsewhere" in err.decode()
    convs = sorted(saved(env).values(), key=lambda c: c["updated"])
    assert [[m["content"] for m in c["messages"] if m["role"] == "user"] for c in convs] == [
        ["start", "fast"],
        ["start", "slow"],
    ]
    assert len(convs[1]["exchanges"]) == 2  # the fork keeps the shared first exchange


def test_latest_is_the_one_continued_last(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    first = json.loads(chat(server, env, "-f", "json", "one").stdout)["conversation"]
    assert chat(server, env, "two").returncode == 0
    assert chat(server, env, "--conversation", first, "again").returncode == 0
    assert chat(server, env, "-c", "more").returncode == 0
    assert [m["content"] for m in saved(env)[first]["messages"] if m["role"] == "user"] == [
        "one",
        "again",
        "more",
    ]


def test_a_long_reply_is_saved_whole(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    """A reply long enough to be kept in a temporary file on the way is written to
    the conversation in pieces (never put together in memory), and comes out the same."""
    script = tmp_path / "s.json"
    text = 'quote " backslash \\ 北京🌙\n\t\x01'
    script.write_text(json.dumps([{"text": text, "repeat": 4000, "piece_chars": 7}]))
    server = make_mock(script=script)
    r = chat(server, env, "long")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == text * 4000 + "\n"  # text format ends the line
    (conv,) = saved(env).values()
    assert conv["messages"][-1] == {"role": "assistant", "content": text * 4000}


def test_tool_results_answer_messages_too(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock()
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
    ]
    (tmp_path / "m.json").write_text(json.dumps(history))
    args = ["--no-log", "--protocol", "anthropic", "--messages", str(tmp_path / "m.json")]
    r = chat(server, env, *args, "--tool-result", "c1=42", "and", "then?")
    assert r.returncode == 0, r.stderr
    last = posts(server)[0]["body"]["messages"][-1]
    assert last == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": "42"},
            {"type": "text", "text": "and then?"},
        ],
    }
    assert saved(env) == {}


def test_a_reply_killed_while_it_is_saved_is_saved_by_resume(
    make_mock: Any, env: dict[str, str], spawn: Any
) -> None:
    import os
    import signal
    import time

    server = make_mock()
    assert chat(server, env, "first").returncode == 0  # the database exists
    holder = sqlite3.connect(folder(env) / "logs.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # the save will wait for this
    try:
        proc = spawn([*MINT, "chat", *FAST, "-c", "second"], mock_env(env, server))
        out = read_until(proc.stdout.fileno(), lambda got: b"\n" in got, timeout=20, what="the reply")
        assert out == b"Mock reply to: second\n"
        time.sleep(0.5)  # waiting to save
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    asked = len(posts(server))
    (journal,) = json.loads(run_mint(["journal", "list", "--format", "json"], env).stdout)
    r = chat(server, env, "--resume", journal["id"], "--base-url", server.base_url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b""  # all of it, its line end too, was printed by the first run
    assert len(posts(server)) == asked  # the reply had come whole: nothing asked again
    ((_, conversation),) = saved(env).items()
    assert [m["content"] for m in conversation["messages"]][2:] == [
        "second",
        "Mock reply to: second",
    ]
    assert json.loads(run_mint(["journal", "list", "--format", "json"], env).stdout) == []
