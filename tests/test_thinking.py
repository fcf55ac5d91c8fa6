"""Anthropic extended thinking: signed thinking blocks go back, first and
unchanged, wherever a turn goes on (the tool loop, a conversation continued
with --tool-result, the session); a retry or --resume starts the reply again
(the API takes no prefill with thinking on); and the mock refuses what the
real API refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import mock_env, run_mint

THINK = 'thinking={"type":"enabled","budget_tokens":2000}'
ANT = ["--protocol", "anthropic", "-m", "anthropic/claude-sonnet-4-5", "--max-tokens", "4000"]
TOOL = '{"name":"t","parameters":{"type":"object"}}'
RULES = [
    {
        "match": {"prompt": "^think"},
        "steps": [
            {"reasoning": "I should call t.", "tool_calls": [{"name": "t", "arguments": {"a": 1}}]},
            {"text": "done"},
        ],
    }
]
PROMPT = "story " + " ".join(str(n) for n in range(1, 31))
WHOLE = f"Mock reply to: {PROMPT}\n".encode()


def requests(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["body"] for line in log.read_text().splitlines()]


def first_block(message: dict[str, Any]) -> dict[str, Any]:
    content = message["content"]
    assert isinstance(content, list), message
    return dict(content[0])


def signed(block: dict[str, Any]) -> None:
    """A thinking block as the mock gave it (the mock checks the signature)."""
    assert block["type"] == "thinking", block
    assert len(block["signature"]) > 100 and block["thinking"]


@pytest.fixture
def scripted(make_mock: Any, tmp_path: Path) -> Any:
    script = tmp_path / "s.json"
    script.write_text(json.dumps(RULES))
    return make_mock(script=script, log=tmp_path / "log.jsonl")


def test_tool_loop_sends_the_signed_thinking_back_first(
    scripted: Any, env: dict[str, str], tmp_path: Path
) -> None:
    args = [*ANT, "-o", THINK, "--tool-cmd", "t=cat", "--tool", TOOL, "--no-log", "think"]
    r = run_mint(["chat", *args], mock_env(env, scripted))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"done\n"
    second = requests(tmp_path / "log.jsonl")[1]["messages"][1]
    assert second["role"] == "assistant"
    signed(first_block(second))
    assert second["content"][0]["thinking"] == "I should call t."
    assert [b["type"] for b in second["content"]] == ["thinking", "tool_use"]


def test_a_conversation_continued_with_tool_results_keeps_its_thinking(
    scripted: Any, env: dict[str, str], tmp_path: Path
) -> None:
    e = mock_env(env, scripted)
    r = run_mint(["chat", *ANT, "-o", THINK, "--tool", TOOL, "think"], e)
    assert r.returncode == 0, r.stderr
    call = json.loads(r.stdout)
    r = run_mint(["chat", *ANT, "-o", THINK, "-c", "--tool-result", f"{call['id']}=ok"], e)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"done\n"
    signed(first_block(requests(tmp_path / "log.jsonl")[1]["messages"][1]))


def test_a_session_tool_loop_sends_the_thinking_back(
    scripted: Any, env: dict[str, str], tmp_path: Path, spawn_pty: Any
) -> None:
    from test_session import open_session

    args = [*ANT, "-o", THINK, "--tool-cmd", "t=cat", "--tool", TOOL, "--no-log"]
    you, _ = open_session(scripted, env, spawn_pty, *args)
    you.type(b"think\r")
    you.wait_for(b"done")
    you.type(b"\x04")
    assert you.child.wait() == 0
    signed(first_block(requests(tmp_path / "log.jsonl")[1]["messages"][1]))


@pytest.mark.parametrize("cut", [20, 4], ids=["in-text", "in-thinking"])
def test_a_retry_with_thinking_prints_the_reply_once(
    make_mock: Any, env: dict[str, str], tmp_path: Path, cut: int
) -> None:
    """Cut in the text or inside the thinking: the API takes no prefill with
    thinking on, so the request is sent again as it was, and what the new reply
    repeats is not printed twice."""
    log = tmp_path / "log.jsonl"
    server = make_mock(fault=f"drop={cut},times=1", ids=False, log=log)
    args = [*ANT, "-o", THINK, "--retry-base", "0.01", "--no-log", PROMPT]
    r = run_mint(["chat", *args], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert r.stdout == WHOLE
    assert b"retry 1/5" in r.stderr
    assert requests(log)[-1]["messages"][-1] == {"role": "user", "content": PROMPT}


def test_resume_with_thinking_starts_the_reply_again(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    server = make_mock(fault="drop=20,times=1", ids=False, log=log)
    e = mock_env(env, server)
    r = run_mint(["chat", *ANT, "-o", THINK, "--max-retries", "0", "--no-log", PROMPT], e)
    assert r.returncode == 7, r.stderr
    rest = run_mint(["chat", "--resume"], e)
    assert rest.returncode == 0, rest.stderr
    assert r.stdout + rest.stdout == WHOLE
    assert requests(log)[-1]["messages"][-1] == {"role": "user", "content": PROMPT}


def test_schema_with_thinking_is_refused_before_sending(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "log.jsonl"
    server = make_mock(log=log)
    args = [*ANT, "-o", THINK, "--schema", '{"type":"object"}', "--no-log", "hi"]
    r = run_mint(["chat", *args], mock_env(env, server))
    assert r.returncode == 2
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mint: error: --schema cannot be combined")
    assert "thinking" in lines[0] and r.stdout == b""
    assert not log.exists() or not log.read_text()


def test_temperature_with_thinking_is_the_servers_400(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    args = [*ANT, "-o", THINK, "--temperature", "0.5", "--no-log", "hi"]
    r = run_mint(["chat", *args], mock_env(env, server))
    assert r.returncode == 4
    assert b"`temperature` may only be set to 1 when thinking is enabled" in r.stderr
    ok = run_mint(
        ["chat", *ANT, "-o", THINK, "--temperature", "1", "--no-log", "hi"], mock_env(env, server)
    )
    assert ok.returncode == 0, ok.stderr


def _post(server: Any, body: dict[str, Any]) -> httpx.Response:
    headers = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
    return httpx.post(f"{server.base_url}/messages", json=body, headers=headers, timeout=10)


def _turn(first: list[dict[str, Any]]) -> list[dict[str, Any]]:
    use = {"type": "tool_use", "id": "tu_1", "name": "t", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "tu_1", "content": "ok"}
    return [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [*first, use]},
        {"role": "user", "content": [result]},
    ]


def test_the_mock_refuses_what_the_real_api_refuses_with_thinking(make_mock: Any) -> None:
    from mintcli.mock.thinking import signature

    server = make_mock()
    base = {
        "model": "m",
        "max_tokens": 4000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
    }
    good = {"type": "thinking", "thinking": "hmm", "signature": signature("hmm")}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"messages": _turn([])}, "messages.1.content.0.type: Expected `thinking` or "
         "`redacted_thinking`, but found `tool_use`. When `thinking` is enabled, a final "
         "`assistant` message must start with a thinking block"),
        ({"messages": _turn([{**good, "thinking": "hm"}])},
         "messages.1.content.0: Invalid `signature` in `thinking` block"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]},
         "messages.1: A final `assistant` message (a pre-filled response) cannot be used"),
        ({"messages": [{"role": "user", "content": "hi"},
                       {"role": "assistant", "content": [good, {"type": "text", "text": "x"}]}]},
         "messages.1: A final `assistant` message (a pre-filled response) cannot be used"),
        ({"messages": _turn([good]), "tool_choice": {"type": "any"}},
         "Thinking may not be enabled when tool_choice forces tool use"),
        ({"messages": _turn([good]), "top_k": 5},
         "`top_k` must be unset when thinking is enabled"),
        ({"messages": _turn([good]), "temperature": 0.2},
         "`temperature` may only be set to 1 when thinking is enabled"),
    ]  # fmt: skip
    for extra, message in cases:
        r = _post(server, {**base, **extra})
        assert r.status_code == 400, (extra, r.text)
        error = r.json()
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        assert error["error"]["message"].startswith(message), error
    # The same turns with their thinking, or with thinking off, are fine.
    assert _post(server, {**base, "messages": _turn([good])}).status_code == 200
    redacted = {"type": "redacted_thinking", "data": "opaque"}
    assert _post(server, {**base, "messages": _turn([redacted])}).status_code == 200
    plain = {k: v for k, v in base.items() if k != "thinking"}
    assert _post(server, {**plain, "messages": _turn([])}).status_code == 200


def test_with_thinking_a_reply_is_never_prefilled() -> None:
    """The continuation plan (in process): with thinking on, text received
    restarts the reply, signed thinking or not; without, it is a prefill."""
    from mintcli.base.events import ReasoningBlock, ReasoningDelta, TextDelta
    from mintcli.output.accumulate import Accumulator
    from mintcli.protocols.anthropic import AnthropicProtocol
    from mintcli.request.model import ChatRequest
    from mintcli.run.continuation import plan_next

    options = {"thinking": {"type": "enabled", "budget_tokens": 2000}}
    request = ChatRequest("m", [{"role": "user", "content": "hi"}], 4000, options=options)
    assert AnthropicProtocol().refuses_prefill(request)
    acc = Accumulator()
    acc.extend([ReasoningDelta("hmm"), TextDelta("Hello there ")])
    assert plan_next(request, acc, None, refuses_prefill=True).how == "restart"
    assert plan_next(request, acc, None).how == "prefill"  # (OpenAI: text is enough)
    acc.add(ReasoningBlock("thinking", "hmm", "sig"))
    plan = plan_next(request, acc, None, refuses_prefill=True)
    assert plan.how == "restart" and plan.request.prefill is None


def test_thinking_past_the_limit_is_not_kept() -> None:
    """A server's endless thinking is shown but not held to be sent back."""
    from mintcli.base.events import ReasoningBlock
    from mintcli.protocols.anthropic import AnthropicDecoder
    from mintcli.protocols.base import MAX_ARGUMENTS
    from mintcli.wire.sse import SSEEvent

    def event(obj: dict[str, Any]) -> SSEEvent:
        return SSEEvent(str(obj["type"]), json.dumps(obj).encode(), None)

    def delta(kind: str, key: str, value: str) -> SSEEvent:
        body = {"type": kind, key: value}
        return event({"type": "content_block_delta", "index": 0, "delta": body})

    start = {"type": "thinking", "thinking": "", "signature": ""}
    big = MAX_ARGUMENTS // 2 + 1
    for size, sig, kept in ((1000, 3, True), (big, 3, False), (1000, big, False)):
        dec = AnthropicDecoder()
        dec.decode(event({"type": "content_block_start", "index": 0, "content_block": start}))
        for _ in range(2):
            dec.decode(delta("thinking_delta", "thinking", "x" * size))
            dec.decode(delta("signature_delta", "signature", "s" * sig))
        out = dec.decode(event({"type": "content_block_stop", "index": 0}))
        block = ReasoningBlock("thinking", "x" * size * 2, "s" * sig * 2)
        assert out == ([block] if kept else [])


def test_the_journal_keeps_the_latest_attempts_thinking(tmp_path: Path) -> None:
    """A restart writes an empty "g": a --resume sends back only the thinking
    of the reply it continues, not that of an attempt given up before it."""
    from mintcli.base.events import ReasoningBlock
    from mintcli.storage.journal import load

    old = ReasoningBlock("thinking", "first try", "s1").as_json()
    new = ReasoningBlock("thinking", "second try", "s2").as_json()
    redacted = ReasoningBlock("redacted_thinking", "opaque").as_json()
    header = {"v": 1, "id": "j", "created": 0, "protocol": "anthropic", "request": {}}
    records = [header, {"r": "first try"}, {"g": [old]}, {"g": []}, {"r": "second try"}]
    records += [{"g": [new]}, {"g": [redacted, {"type": "bogus"}]}, {"t": "Hel"}]
    path = tmp_path / "j.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    state = load(path)
    assert state.text == "Hel"
    assert [b.as_json() for b in state.reasoning_blocks] == [new, redacted]


def test_the_openai_protocol_leaves_thinking_blocks_out() -> None:
    """A conversation begun on Anthropic and continued on OpenAI: Chat
    Completions knows no thinking_blocks field."""
    from mintcli.protocols.openai import OpenAIProtocol
    from mintcli.request.model import ChatRequest

    block = {"type": "thinking", "thinking": "hmm", "signature": "s"}
    said = {"role": "assistant", "content": "hi", "thinking_blocks": [block]}
    body = OpenAIProtocol().build_body(ChatRequest("m", [{"role": "user", "content": "x"}, said]))
    assert body["messages"][1] == {"role": "assistant", "content": "hi"}


def test_thinking_that_holds_the_key_is_not_journaled(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """A signed block can only go back unchanged: one holding the key stays out
    of the journal, and --resume sends the request again instead of a prefill."""
    from conftest import SECRET

    rules = [{"match": {"prompt": "^leak"}, "reasoning": f"the key is {SECRET}", "text": PROMPT}]
    script = tmp_path / "s.json"
    script.write_text(json.dumps(rules))
    log = tmp_path / "log.jsonl"
    server = make_mock(script=script, fault="drop=30,times=1", ids=False, log=log)
    e = mock_env(env, server)
    r = run_mint(["chat", *ANT, "-o", THINK, "--max-retries", "0", "--no-log", "leak"], e)
    assert r.returncode == 7, r.stderr
    assert r.stdout and PROMPT.encode().startswith(r.stdout)
    journal = next((tmp_path / "state" / "mint" / "journals").glob("*.jsonl"))
    assert not any('"g"' in line for line in journal.read_text().splitlines()[1:])
    rest = run_mint(["chat", "--resume"], e)
    assert rest.returncode == 0, rest.stderr
    assert r.stdout + rest.stdout == PROMPT.encode() + b"\n"
    assert requests(log)[-1]["messages"][-1] == {"role": "user", "content": "leak"}
