"""The interactive session (mint chat at a terminal with no prompt), in a real pty."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, mock_env, run_mint, scripted_mock

PROMPT = "›".encode()
RULES = [
    {"match": {"prompt": "^hello"}, "text": "Hi **there**, friend."},
    {"match": {"prompt": "^slow"}, "text": "word " * 400, "delay": 0.02},
    {"match": {"prompt": "^less slow"}, "text": "word " * 150, "delay": 0.02},  # 3 s
    {"match": {"prompt": "line one\nline two"}, "text": "two lines seen"},
    {"match": {"prompt": "pasted\nlines"}, "text": "one pasted prompt"},
    {"match": {"prompt": "^deep"}, "reasoning": "think " * 200, "text": "answer", "delay": 0.02},
    {"match": {"prompt": "^flaky"}, "text": "recovered", "fault": "status=400,times=1"},
    {"match": {"prompt": "^late"}, "text": "late answer", "first_byte_delay": 1},
    {"match": {"prompt": "^call"}, "steps": [
        {"tool_calls": [{"id": "c1", "name": "say", "arguments": {}}]},
        {"text": "after the tools"},
    ]},
    {"match": {"prompt": "^two tools"}, "steps": [
        {"tool_calls": [{"id": "c1", "name": "fast", "arguments": {}},
                        {"id": "c2", "name": "slow", "arguments": {}}]},
        {"text": "after the tools"},
    ]},
    {"match": {"prompt": "^tool then slow"}, "steps": [
        {"tool_calls": [{"id": "c1", "name": "say", "arguments": {}}]},
        {"text": "word " * 400, "delay": 0.02},
    ]},
]  # fmt: skip


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with scripted_mock(tmp_path_factory.mktemp("session"), RULES) as server:
        yield server


class Typist:
    """Types into a pty child and waits for what it shows."""

    def __init__(self, child: Any) -> None:
        self.child = child
        self.seen = b""

    def wait_for(self, what: bytes, count: int = 1) -> None:
        self.seen = self.child.read_until(
            lambda got: got.count(what) >= count, timeout=20, what=repr(what), got=self.seen
        )

    def wait_reading(self) -> None:
        """Until readline waits for a key. A Ctrl-C that lands while readline is
        still busy with the key before is only seen with the next key (CPython
        checks for signals when its select() is interrupted); a person cannot
        type that fast, a test can."""
        wchan = Path(f"/proc/{self.child.pid}/wchan")  # where the kernel has it sleeping
        deadline = time.monotonic() + 5  # a kernel that does not say: go on after a while
        while time.monotonic() < deadline:
            where = wchan.read_text()
            if "poll" in where or "select" in where:
                return
            time.sleep(0.01)

    def turn(self, typed: bytes, shown: bytes, prompts: int) -> None:
        """Type a line, see ``shown``, and wait for the next prompt (the
        ``prompts``-th the session shows)."""
        self.type(typed)
        self.wait_for(shown)
        self.wait_for(PROMPT, prompts)

    def hello_then_leave(self, prompts: int) -> None:
        """A last turn that works (the script answers "hello"), then Ctrl-D:
        ``prompts`` is how many prompts the session will have shown by then."""
        self.type(b"hello\r")
        self.wait_for(b"friend.")
        self.wait_for(PROMPT, prompts)
        self.type(b"\x04")
        assert self.child.wait() == 0

    def type(self, keys: bytes) -> None:
        import os

        os.write(self.child.fd, keys)


def open_session(scripted: Any, env: dict[str, str], spawn_pty: Any, *args: str) -> Any:
    """``mint chat ARGS`` at a terminal, against the scripted mock, at its first
    prompt: the typist and the environment it runs in."""
    e = {**mock_env(env, scripted), "TERM": "xterm", "NO_COLOR": "1"}
    you = Typist(spawn_pty([*MINT, "chat", *args], e))
    you.wait_for(PROMPT)
    return you, e


# The saved conversations as mint's own API reads them (whatever the store keeps them in).
READ = """
import dataclasses, json
from mintcli.storage.conversations import all_conversations
print(json.dumps([dataclasses.asdict(c) for c in all_conversations()]))
"""


def conversations(env: dict[str, str]) -> list[dict[str, Any]]:
    """Every saved conversation, the latest first."""
    r = subprocess.run([sys.executable, "-c", READ], env=env, capture_output=True, check=True)
    return list(json.loads(r.stdout))


def refuse_the_log(env: dict[str, str]) -> Path:
    """Make the log refuse every save (its file a symbolic link, which mint
    never follows); unlinking the returned path lets it take them again."""
    data = Path(env["XDG_DATA_HOME"]) / "mint"
    data.mkdir(parents=True, mode=0o700)
    refused = data / "logs.db"
    refused.symlink_to(data / "elsewhere.db")
    return refused


def conversation(env: dict[str, str]) -> dict[str, Any]:
    return conversations(env)[0]


def test_a_session_streams_each_turn_saves_it_and_keeps_history(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    e = {**mock_env(env, scripted), "TERM": "xterm"}
    you = Typist(spawn_pty([*MINT, "chat"], e))
    you.wait_for(PROMPT)
    assert b"a new chat with openai/gpt-4o; /help for help" in you.seen
    you.type(b"hello\r")
    you.wait_for(PROMPT, 2)
    assert b"Hi \x1b[0;1mthere\x1b[0m, friend." in you.seen  # streamed, and laid out
    you.turn(b'"""\rline one\rline two\r"""\r', b"two lines seen", 3)
    # a bracketed paste: one prompt
    you.turn(b"\x1b[200~pasted\nlines\x1b[201~\r", b"one pasted prompt", 4)
    you.type(b"/model other\r")
    you.wait_for(b"model: other")
    you.wait_for(PROMPT, 5)  # a key typed before readline reads it may be lost to the tty
    you.type(b"\x04")  # Ctrl-D
    assert you.child.wait() == 0
    saved = conversation(e)
    contents = [m["content"] for m in saved["messages"]]
    assert contents == [
        "hello",
        "Hi **there**, friend.",
        "line one\nline two",
        "two lines seen",
        "pasted\nlines",
        "one pasted prompt",
    ]
    assert [x["model"] for x in saved["exchanges"]] == ["openai/gpt-4o"] * 3
    history_file = Path(e["XDG_STATE_HOME"]) / "mint" / "history"
    assert history_file.stat().st_mode & 0o777 == 0o600
    history = history_file.read_text()
    assert "hello" in history and "/model other" in history

    # A second session continues it (-c) and finds the first one's lines with the up arrow.
    you = Typist(spawn_pty([*MINT, "chat", "-c"], e))
    you.wait_for(PROMPT)
    assert f"conversation {saved['id']} with openai/gpt-4o".encode() in you.seen
    # Up six times: past /model, the two quote lines and the two between, to "hello" (a
    # paste is not kept in the file, whose entries are lines).
    you.type(b"\x1b[A" * 6 + b"\r")
    you.wait_for(b"friend.", 1)
    you.wait_for(PROMPT, 2)
    you.type(b"/exit\r")
    assert you.child.wait() == 0
    again = conversation(e)
    assert again["id"] == saved["id"] and len(again["exchanges"]) == 4
    assert again["messages"][-2]["content"] == "hello"


def test_ctrl_c_cuts_the_answer_clears_the_line_and_the_session_goes_on(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1")
    you.type(b"slow please\r")
    you.wait_for(b"word word word")
    you.type(b"\x03")  # Ctrl-C mid-answer
    you.wait_for(b"answer cut short")
    you.wait_for(PROMPT, 2)
    you.type(b"half a thought")
    you.wait_for(b"half a thought")
    you.wait_reading()
    you.type(b"\x03")  # Ctrl-C at the prompt clears the line
    you.wait_for(PROMPT, 3)
    you.hello_then_leave(4)
    saved = conversation(e)
    contents = [m["content"] for m in saved["messages"]]
    assert contents[0] == "slow please" and contents[2:] == ["hello", "Hi **there**, friend."]
    assert contents[1].startswith("word word") and len(contents[1]) < len("word " * 400)
    assert saved["exchanges"][0]["cut"] is True and "cut" not in saved["exchanges"][1]
    assert "half a thought" not in json.dumps(saved)
    # The cut answer lives in the conversation, not as an unfinished reply to --resume.
    assert json.loads(run_mint(["journal", "list", "--format", "json"], e).stdout) == []


def test_ctrl_c_in_a_tool_loop_keeps_the_chain_and_the_cut_answer(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1", "--tool-cmd", "say=echo said")
    you.type(b"tool then slow\r")
    you.wait_for(b"word word word")
    you.type(b"\x03")  # Ctrl-C while the answer after the tool streams
    you.wait_for(b"answer cut short")
    you.wait_for(PROMPT, 2)
    you.hello_then_leave(3)
    saved = conversation(e)
    roles = [m["role"] for m in saved["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert saved["messages"][1]["tool_calls"][0]["id"] == "c1"
    assert saved["messages"][2]["content"].strip() == "said"
    cut = saved["messages"][3]["content"]
    assert cut.startswith("word word") and len(cut) < len("word " * 400)
    assert saved["exchanges"][0]["cut"] is True and "cut" not in saved["exchanges"][1]
    assert json.loads(run_mint(["journal", "list", "--format", "json"], e).stdout) == []


def test_ctrl_c_while_only_reasoning_came_keeps_nothing_and_the_session_goes_on(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1", "--reasoning")
    you.type(b"deep thought\r")
    you.wait_for(b"think think think")
    you.type(b"\x03")  # Ctrl-C before any word of the answer
    you.wait_for(PROMPT, 2)
    you.hello_then_leave(3)
    saved = conversation(e)
    # an assistant message without text would make every later request a 400
    assert [m["content"] for m in saved["messages"]] == ["hello", "Hi **there**, friend."]


def test_a_save_that_fails_keeps_the_turn_in_the_session(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    refuse_the_log(env)  # every save fails
    you, _ = open_session(scripted, env, spawn_pty, "-m", "m1")
    you.type(b"hello one\r")
    you.wait_for(b"friend.")
    you.wait_for(b"mint: error:")
    you.wait_for(PROMPT, 2)
    you.hello_then_leave(3)
    sent = json.loads(scripted.log_path.read_bytes().splitlines()[-1])["body"]["messages"]
    # the second turn still carries the first
    assert [m["content"] for m in sent][-3:-1] == ["hello one", "Hi **there**, friend."]


def test_without_a_terminal_nothing_changes(env: dict[str, str]) -> None:
    r = run_mint(["chat", "--mock"], env)  # stdin /dev/null: no prompt, as before
    assert r.returncode == 2 and b"no prompt" in r.stderr
    r = run_mint(["chat", "--mock", "-i"], env)
    assert r.returncode == 2 and b"-i/--interactive needs a terminal" in r.stderr


def test_slash_commands(scripted: Any, env: dict[str, str], spawn_pty: Any, tmp_path: Path) -> None:
    you, e = open_session(scripted, env, spawn_pty, "--no-log")
    you.type(b"/retry\r")
    you.wait_for(b"mint: error: nothing to retry yet")
    you.type(b"/help\r")
    you.wait_for(b"Ctrl-C stops an answer")
    you.type(b"/attach /nonexistent.png\r")
    you.wait_for(b"/attach /nonexistent.png: no such file")
    you.turn(b"/bogus\r", b"unknown command '/bogus' (see /help)", 5)
    you.type(b"\x04")
    assert you.child.wait() == 0
    assert conversations(e) == []  # --no-log

    you = Typist(spawn_pty([*MINT, "chat"], e))
    you.wait_for(PROMPT)
    you.type(b"/system be brief\r")
    you.wait_for(b"system prompt: be brief")
    you.type(b"hello\r")
    you.wait_for(b"friend.")
    you.type(b"/retry\r")
    you.wait_for(b"friend.", 2)
    you.wait_for(PROMPT, 4)
    you.type(b"\x04")
    assert you.child.wait() == 0
    branch, first = conversations(e)
    expected = ["be brief", "hello", "Hi **there**, friend."]
    assert [m["content"] for m in first["messages"]] == expected
    assert [m["content"] for m in branch["messages"]] == expected  # retried: a branch


def test_sigterm_at_the_prompt_restores_the_terminal_and_exits_143(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    import os
    import signal
    import termios

    you, _e = open_session(scripted, env, spawn_pty, "--no-log")
    you.wait_reading()  # readline has the terminal raw now
    os.kill(you.child.pid, signal.SIGTERM)
    you.wait_for(b"mint: error: terminated")
    assert you.child.wait() == 143
    lflag = termios.tcgetattr(you.child.fd)[3]
    assert lflag & termios.ECHO and lflag & termios.ICANON  # not left raw


def test_a_bad_model_or_system_is_refused_and_the_session_goes_on(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, _e = open_session(scripted, env, spawn_pty, "--no-log")
    # bytes that are not UTF-8, as --model refuses them
    you.turn(b"/model ab\xff\xfe\r", b"--model: the value is not valid UTF-8", 2)
    you.turn(b"/system x\xff\r", b"--system: the value is not valid UTF-8", 3)
    you.type(b"/model\r")
    you.wait_for(b"model: openai/gpt-4o")  # unchanged
    you.wait_for(PROMPT, 4)
    you.hello_then_leave(5)
    assert b"internal error" not in you.seen


def test_retry_after_a_failed_turn_asks_the_prompt_that_failed(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, e = open_session(scripted, env, spawn_pty)
    you.turn(b"hello\r", b"friend.", 2)
    you.turn(b"flaky one\r", b"mint: error:", 3)  # the gateway answers 400 the first time
    you.turn(b"/retry\r", b"recovered", 4)
    you.type(b"\x04")
    assert you.child.wait() == 0
    assert you.seen.count(b"friend.") == 1
    (saved,) = conversations(e)  # the failed turn left nothing to branch from
    contents = [m["content"] for m in saved["messages"]]
    assert contents == ["hello", "Hi **there**, friend.", "flaky one", "recovered"]


def test_the_history_file_is_ours_regular_and_0600_or_not_used(
    scripted: Any, env: dict[str, str], spawn_pty: Any, tmp_path: Path
) -> None:
    import os

    target = tmp_path / "elsewhere"
    target.write_text("old\n")
    target.chmod(0o644)
    cases = {
        "link": lambda p: p.symlink_to(target),
        "fifo": lambda p: os.mkfifo(p),  # opened plainly, it would hang mint
        "open": lambda p: (p.write_text("earlier\n"), p.chmod(0o644)),
    }
    for name, make in cases.items():
        state = tmp_path / name
        (state / "mint").mkdir(parents=True, mode=0o700)
        history = state / "mint" / "history"
        make(history)
        e = {**mock_env(env, scripted), "TERM": "xterm", "NO_COLOR": "1"}
        e["XDG_STATE_HOME"] = str(state)
        you = Typist(spawn_pty([*MINT, "chat", "--no-log"], e))
        you.wait_for(PROMPT)
        refused = f"no history kept: {history} is not a regular file of yours".encode()
        assert (refused in you.seen) == (name != "open"), name
        you.hello_then_leave(2)
    assert target.read_text() == "old\n" and target.stat().st_mode & 0o777 == 0o644
    kept = tmp_path / "open" / "mint" / "history"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert kept.read_text().split() == ["earlier", "hello"]


def test_record_keeps_every_turn_of_a_session_and_replays_them_in_order(
    scripted: Any, env: dict[str, str], spawn_pty: Any, make_mock: Any, tmp_path: Path
) -> None:
    record = tmp_path / "session.jsonl"
    you, _e = open_session(scripted, env, spawn_pty, "--no-log", "--record", str(record))
    you.turn(b"hello\r", b"friend.", 2)
    you.turn(b'"""\rline one\rline two\r"""\r', b"two lines seen", 3)
    you.type(b"\x04")
    assert you.child.wait() == 0
    assert record.stat().st_mode & 0o777 == 0o600
    replay = make_mock(replay=record)
    answers = [run_mint(["chat", "x"], mock_env(env, replay)).stdout for _ in range(3)]
    assert answers == [b"Hi **there**, friend.\n", b"two lines seen\n", b"Hi **there**, friend.\n"]


def test_retry_after_ctrl_c_before_the_answer_began_asks_that_prompt(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, e = open_session(scripted, env, spawn_pty)
    you.type(b"late one\r")
    you.wait_for(b"waiting for")
    you.type(b"\x03")  # before the first byte of the answer
    you.wait_for(b"stopped")
    you.wait_for(PROMPT, 2)
    you.turn(b"/retry\r", b"late answer", 3)
    you.type(b"\x04")
    assert you.child.wait() == 0
    (saved,) = conversations(e)
    assert [m["content"] for m in saved["messages"]] == ["late one", "late answer"]


def sent(server: Any, back: int = 1) -> list[dict[str, Any]]:
    """The messages of a request the mock got (the last one by default)."""
    return list(json.loads(server.log_path.read_bytes().splitlines()[-back])["body"]["messages"])


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_calls_mint_did_not_run_are_answered_as_not_run_when_the_session_goes_on(
    scripted: Any, env: dict[str, str], spawn_pty: Any, protocol: str
) -> None:
    tool = '{"name": "say", "parameters": {"type": "object"}}'
    args = ("-m", "m1", "--protocol", protocol, "--tool", tool)  # declared, no command
    you, e = open_session(scripted, env, spawn_pty, *args)
    you.type(b"call the tool\r")
    you.wait_for(b"going on answers them as not run")
    you.wait_for(PROMPT, 2)
    assert b"tool calls left unanswered: say (c1)" in you.seen
    # the mock refuses what the API would refuse, and reads the Anthropic turn of
    # results and text as the prompt it holds
    you.turn(b"hello\r", b"friend.", 3)
    you.type(b"\x04")
    assert you.child.wait() == 0
    assert b"mint: error" not in you.seen
    why = "The tool say was not run, so there is no result: mint has no command for this tool"
    if protocol == "openai":
        assert [m["role"] for m in sent(scripted)] == ["user", "assistant", "tool", "user"]
        assert sent(scripted)[2]["tool_call_id"] == "c1"
        assert sent(scripted)[2]["content"].startswith(why)
    else:  # one user turn: the result (an error, the API's way), then the prompt
        result, prompt = sent(scripted)[2]["content"]
        assert result["type"] == "tool_result" and result["tool_use_id"] == "c1"
        assert result["is_error"] is True and result["content"].startswith(why)
        assert prompt == {"type": "text", "text": "hello"}
    roles = [m["role"] for m in conversation(e)["messages"]]
    assert roles == ["user", "assistant", "tool", "user", "assistant"]
    # the conversation stays one that can go on
    r = run_mint(["chat", "-c", "and now?"], e)
    assert r.returncode == 0, r.stderr


def test_calls_left_at_max_steps_are_answered_as_not_run(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    args = ("-m", "m1", "--tool-cmd", "say=echo said", "--max-steps", "1")
    you, e = open_session(scripted, env, spawn_pty, *args)
    you.turn(b"call the tool\r", b"reached --max-steps (1)", 2)
    assert b"tool calls left unanswered: say (c1)" in you.seen
    assert b"(the tool loop reached its step limit (--max-steps 1))" in you.seen
    you.turn(b"hello\r", b"friend.", 3)
    last = sent(scripted)
    assert [m["role"] for m in last] == ["user", "assistant", "tool", "user"]
    assert "its step limit (--max-steps 1)" in last[2]["content"]
    you.turn(b"call the tool again\r", b"reached --max-steps (1)", 4)
    you.type(b"\x04")  # the session ends on the calls: saved so, and said so
    you.wait_for(b"the saved conversation ends on tool calls without results")
    assert you.child.wait() == 0
    assert conversation(e)["messages"][-1]["tool_calls"][0]["id"] == "c1"

    # Continued in a new session: the note comes when it opens, the results with the prompt
    # (also after a first turn whose --tool-result failed).
    you, e = open_session(scripted, env, spawn_pty, "-c")
    assert b"going on answers them as not run (the conversation was continued" in you.seen
    you.type(b"\x04")
    assert you.child.wait() == 0
    you, e = open_session(scripted, env, spawn_pty, "-c", "-i", "--tool-result", "c9=x")
    you.turn(b"hello\r", b"--tool-result c9: the last reply made no such call (c1)", 2)
    you.hello_then_leave(3)
    roles = [m["role"] for m in conversation(e)["messages"]]
    assert roles == ["user", "assistant", "tool", "user", "assistant"] * 2


def test_ctrl_c_while_a_tool_runs_keeps_the_turn_and_what_finished(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    tools = ("--tool-cmd", "fast=echo done", "--tool-cmd", "slow=sleep 30")
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1", *tools)
    you.type(b"two tools\r")
    you.wait_for(b"tool fast {}: ok")  # the fast one has finished; the slow one runs
    you.type(b"\x03")
    you.wait_for(b"stopped while tools ran")
    you.wait_for(PROMPT, 2)
    assert b"tool calls left unanswered: slow (c2)" in you.seen
    assert b"mint: error" not in you.seen
    # kept in the log at once, marked cut, and not left to --resume
    saved = conversation(e)
    assert [m["role"] for m in saved["messages"]] == ["user", "assistant"]
    assert saved["exchanges"][0]["cut"] is True
    assert json.loads(run_mint(["journal", "list", "--format", "json"], e).stdout) == []
    you.hello_then_leave(3)
    last = sent(scripted)
    assert [m["role"] for m in last] == ["user", "assistant", "tool", "tool", "user"]
    assert last[2]["content"].strip() == "done"  # finished: kept
    assert "Ctrl-C stopped the tools" in last[3]["content"]
    roles = [m["role"] for m in conversation(e)["messages"]]
    assert roles == ["user", "assistant", "tool", "tool", "user", "assistant"]


def test_ctrl_d_inside_a_block_drops_it_and_the_session_goes_on(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1")
    you.type(b'"""\rhalf a block\r')
    you.wait_for(b"half a block")
    you.wait_reading()
    you.type(b"\x04")  # Ctrl-D on the block's empty line
    you.wait_for(b'mint: the """ block was not sent')
    you.wait_for(PROMPT, 2)
    you.wait_reading()
    you.type(b"a line that goes on \\\r")
    you.wait_for("…".encode(), 3)
    you.wait_reading()
    you.type(b"\x03")  # Ctrl-C there drops those lines too, saying so
    you.wait_for(b"mint: the lines ending in \\ were not sent")
    you.wait_for(PROMPT, 3)
    you.hello_then_leave(4)
    assert [m["content"] for m in conversation(e)["messages"]] == ["hello", "Hi **there**, friend."]


def test_ctrl_d_typed_while_an_answer_streams_ends_the_session_after_it(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    import termios

    you, e = open_session(scripted, env, spawn_pty, "-m", "m1")
    you.type(b"less slow please\r")
    you.wait_for(b"word word word")
    you.type(b"\x04")  # the terminal is in line mode now: it holds an end of file
    assert you.child.wait() == 0  # as a Ctrl-D at the prompt: exit 0, no error
    you.seen = you.child.read_until(None, timeout=5, what="the end", got=you.seen)
    assert you.seen.endswith(b"word \r\n" + PROMPT + b" \r\n")  # the whole answer, a prompt, gone
    assert b"mint: error" not in you.seen
    (saved,) = conversations(e)
    assert saved["messages"][1]["content"] == "word " * 150  # whole, not cut
    assert "cut" not in saved["exchanges"][0]
    lflag = termios.tcgetattr(you.child.fd)[3]
    assert lflag & termios.ECHO and lflag & termios.ICANON
