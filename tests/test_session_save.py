"""A session that ends after Ctrl-C stopped the tools: the results that had
finished are saved in the conversation (nothing a tool did is lost), and the
conversation goes on from them, in a real pty and against ``mint mock``, which
refuses requests as the real APIs do."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import mock_env, run_mint, scripted_mock
from test_session import PROMPT, conversation, conversations, open_session, refuse_the_log, sent

RULES = [
    {"match": {"prompt": "^hello"}, "text": "Hi **there**, friend."},
    {"match": {"prompt": "^next"}, "text": "went on"},
    {"match": {"prompt": "^two tools"}, "steps": [
        {"tool_calls": [{"id": "c1", "name": "fast", "arguments": {}},
                        {"id": "c2", "name": "slow", "arguments": {}}]},
        {"text": "after the tools"},
    ]},
    # the answer after the tool never begins (the mock stalls): a Ctrl-C before it comes
    {"match": {"prompt": "^tool then late"}, "steps": [
        {"tool_calls": [{"id": "c1", "name": "say", "arguments": {}}]},
        {"text": "late", "fault": "stall=0"},
    ]},
]  # fmt: skip
TOOLS = (
    "--tool-cmd",
    "fast=echo done",
    "--tool-cmd",
    "slow=sleep 30",
    "--tool-cmd",
    "say=echo said",
)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with scripted_mock(tmp_path_factory.mktemp("session-save"), RULES) as server:
        yield server


def stop_the_tools(you: Any, prompt: bytes, finished: bytes) -> None:
    """Type ``prompt``, and Ctrl-C once ``finished`` shows that a tool ended."""
    you.type(prompt)
    you.wait_for(finished)
    you.type(b"\x03")
    you.wait_for(b"stopped while tools ran")
    you.wait_for(PROMPT, 2)


def results_sent(server: Any, protocol: str) -> dict[str, str]:
    """The tool results the last request carried: call ID -> text."""
    out = {}
    for message in sent(server):
        if protocol == "openai" and message["role"] == "tool":
            out[message["tool_call_id"]] = message["content"]
        content = message["content"] if protocol == "anthropic" else None
        for block in content if isinstance(content, list) else ():
            if block.get("type") == "tool_result":
                text = block["content"]
                text = text if isinstance(text, str) else "".join(b["text"] for b in text)
                out[block["tool_use_id"]] = text
    return out


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_results_that_finished_are_saved_when_the_session_ends_and_chat_c_goes_on(
    scripted: Any, env: dict[str, str], spawn_pty: Any, protocol: str
) -> None:
    args = ("-m", "m1", "--protocol", protocol, *TOOLS)
    you, e = open_session(scripted, env, spawn_pty, *args)
    stop_the_tools(you, b"tool then late\r", b"tool say {}: ok")
    you.type(b"\x04")  # Ctrl-D before the result was sent
    you.wait_for(b"mint chat -c goes on from them")
    assert you.child.wait() == 0
    saved = conversation(e)
    assert b"tool calls that finished (1) are saved in conversation " + saved["id"].encode() in (
        you.seen
    )
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant", "tool"]
    assert saved["messages"][2]["tool_call_id"] == "c1"
    assert saved["messages"][2]["content"].strip() == "said"
    assert len(saved["exchanges"]) == 1 and saved["exchanges"][0]["cut"] is True

    # A plain mint chat -c goes on: the request (valid for the API) carries the result.
    r = run_mint(["chat", "-c", "--tool-cmd", "say=echo said", "next"], mock_env(env, scripted))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"went on\n"
    assert {k: v.strip() for k, v in results_sent(scripted, protocol).items()} == {"c1": "said"}
    again = conversation(e)
    assert again["id"] == saved["id"] and len(again["exchanges"]) == 2
    assert [m["role"] for m in again["messages"]] == [
        "user",
        "assistant",
        "tool",
        "user",
        "assistant",
    ]


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_call_that_did_not_finish_stays_open_beside_the_saved_result(
    scripted: Any, env: dict[str, str], spawn_pty: Any, tmp_path: Path, protocol: str
) -> None:
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1", "--protocol", protocol, *TOOLS)
    stop_the_tools(you, b"two tools\r", b"tool fast {}: ok")  # the slow one still runs
    you.type(b"/exit\r")
    you.wait_for(b"a session sends them as not run")
    assert you.child.wait() == 0
    assert b"the results of the tool calls that finished (1) are saved in conversation" in you.seen
    assert b"it ends on tool calls without results: slow (c2)" in you.seen
    saved = conversation(e)
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant", "tool"]
    assert saved["messages"][2]["content"].strip() == "done"

    # mint chat -c asks for the open call's result only (as for any unanswered call)...
    m = mock_env(env, scripted)
    r = run_mint(["chat", "-c", "next"], m)
    assert r.returncode == 2
    assert b"the last reply made tool calls (c2): send their results" in r.stderr
    r = run_mint(["chat", "-c", "--tool-result", "c1=again", "next"], m)
    assert r.returncode == 2 and b"--tool-result c1: the conversation holds its result" in r.stderr
    # ... and goes on with it given (here in a copy of the log: the session below takes
    # the conversation as it was saved) ...
    shutil.copytree(Path(e["XDG_DATA_HOME"]), tmp_path / "copy")
    copy = {**m, "XDG_DATA_HOME": str(tmp_path / "copy")}
    r = run_mint(["chat", "-c", "--tool-result", "c2=late", *TOOLS, "next"], copy)
    assert r.returncode == 0 and r.stdout == b"went on\n", r.stderr
    results = results_sent(scripted, protocol)
    assert results["c1"].strip() == "done" and results["c2"] == "late"
    # ... and a new session answers it as not run, sending the saved result with it.
    you, e = open_session(scripted, env, spawn_pty, "-c", *TOOLS)
    assert b"tool calls left unanswered: slow (c2)" in you.seen
    you.hello_then_leave(2)
    results = results_sent(scripted, protocol)
    assert results["c1"].strip() == "done" and "slow was not run" in results["c2"]
    roles = [m["role"] for m in conversation(e)["messages"]]
    assert roles == ["user", "assistant", "tool", "tool", "user", "assistant"]


def test_a_save_that_fails_as_the_session_ends_says_so_and_is_its_error(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1", *TOOLS)
    stop_the_tools(you, b"tool then late\r", b"tool say {}: ok")
    data = Path(e["XDG_DATA_HOME"]) / "mint"
    (data / "logs.db").rename(data / "moved.db")
    (data / "logs.db").symlink_to(data / "moved.db")  # the log refuses the save now
    you.type(b"\x04")
    you.wait_for(b"mint: error:")
    assert you.child.wait() == 3  # the log's own error, as for any turn it refuses
    assert (
        b"the results of the tool calls that finished (1) could not be saved; the saved"
        b" conversation ends on tool calls without results: say (c1)" in you.seen
    )


def test_results_for_a_conversation_that_moved_on_meanwhile_are_saved_as_a_branch(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1", *TOOLS)
    stop_the_tools(you, b"tool then late\r", b"tool say {}: ok")
    # Another mint goes on with the conversation (its own result) before the session ends.
    r = run_mint(["chat", "-c", "--tool-result", "c1=elsewhere", *TOOLS, "next"], e)
    assert r.returncode == 0, r.stderr
    (other,) = conversations(e)
    you.type(b"\x04")
    you.wait_for(b"mint chat -c goes on from them")
    assert you.child.wait() == 0
    branch, moved = conversations(e)  # the latest first
    assert moved == other and branch["id"] != other["id"]
    assert f"saved in conversation {branch['id']}".encode() in you.seen
    assert [m["role"] for m in branch["messages"]] == ["user", "assistant", "tool"]
    assert branch["messages"][2]["content"].strip() == "said"
    assert branch["messages"][:2] == moved["messages"][:2]
    assert branch["exchanges"] == moved["exchanges"][:1]


def test_results_of_a_turn_the_log_refused_are_saved_with_it_when_the_log_takes_them(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    refused = refuse_the_log(env)  # the cut turn's save fails
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1", *TOOLS)
    stop_the_tools(you, b"tool then late\r", b"tool say {}: ok")
    assert b"mint: error:" in you.seen
    refused.unlink()  # the log takes what the session kept in memory
    you.type(b"\x04")
    you.wait_for(b"mint chat -c goes on from them")
    assert you.child.wait() == 0
    (saved,) = conversations(e)
    assert saved["id"] and [m["role"] for m in saved["messages"]] == ["user", "assistant", "tool"]
    m = mock_env(env, scripted)
    r = run_mint(["log", "show"], m)  # a conversation with no exchange of its own yet
    assert r.returncode == 0 and b"said" in r.stdout, r.stderr
    r = run_mint(["chat", "-c", *TOOLS, "next"], m)
    assert r.returncode == 0 and r.stdout == b"went on\n", r.stderr
    r = run_mint(["log", "list"], m)
    assert r.returncode == 0 and saved["id"][:6].encode() in r.stdout, r.stderr


def test_sigterm_at_the_prompt_saves_the_results_too(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1", *TOOLS)
    stop_the_tools(you, b"tool then late\r", b"tool say {}: ok")
    you.wait_reading()
    os.kill(you.child.pid, signal.SIGTERM)
    you.wait_for(b"mint: error: terminated")
    assert you.child.wait() == 143
    assert b"tool calls that finished (1) are saved in conversation" in you.seen
    assert [m["role"] for m in conversation(e)["messages"]] == ["user", "assistant", "tool"]
