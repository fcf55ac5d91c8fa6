"""mint chat end to end against recorded SSE bodies served over real HTTP."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, SECRET, finish, run_mint
from sse_server import POEM, Canned, SSEServer, split_every, sse_file


def chat(server: SSEServer, env: dict[str, str], *args: str, **kw: object):  # type: ignore[no-untyped-def]
    env = {**env, "MINT_BASE_URL": server.base_url}
    return run_mint(["chat", *args], env, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("chunk", [1, 7, 64, 100000])
@pytest.mark.parametrize("fixture", ["openai_poem.sse", "openai_poem_crlf.sse"])
def test_openai_text_any_chunking(
    sse_server: SSEServer, env: dict[str, str], fixture: str, chunk: int
) -> None:
    sse_server.queue(Canned(body=split_every(sse_file(fixture), chunk)))
    r = chat(sse_server, env, "写一首诗")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == POEM + "\n"
    assert r.stderr == b""


@pytest.mark.parametrize("chunk", [3, 100000])
def test_anthropic_text_keeps_thinking_off_stdout(
    sse_server: SSEServer, env: dict[str, str], chunk: int
) -> None:
    sse_server.queue(Canned(body=split_every(sse_file("anthropic_poem.sse"), chunk)))
    r = chat(sse_server, env, "--protocol", "anthropic", "写一首诗")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == POEM + "\n"
    assert "想一想" not in r.stderr.decode()
    r = chat(sse_server, env, "--protocol", "anthropic", "--reasoning", "写一首诗")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == POEM + "\n"
    assert "想一想。" in r.stderr.decode()


def test_text_that_ends_with_newline_gets_no_extra(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    body = (
        'data: {"choices":[{"index":0,"delta":{"content":"line\\n"}}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        "data: [DONE]\n\n"
    )
    sse_server.queue(Canned(body=[body.encode()]))
    r = chat(sse_server, env, "x")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"line\n"


def test_raw_prints_each_data_line_unmodified(sse_server: SSEServer, env: dict[str, str]) -> None:
    body = sse_file("openai_poem.sse")
    sse_server.queue(Canned(body=split_every(body, 5)))
    r = chat(sse_server, env, "--format", "raw", "写一首诗")
    assert r.returncode == 0, r.stderr
    expected = [
        line[len("data: ") :]
        for line in body.decode().split("\n")
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    assert r.stdout.decode().splitlines() == expected


def test_raw_joins_multiline_data_into_one_compact_line(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    body = (
        'data: {"choices": [{"index": 0,\ndata:  "delta": {"content": "hi"}}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
        "data: [DONE]\n\n"
    )
    sse_server.queue(Canned(body=[body.encode()]))
    r = chat(sse_server, env, "--format", "raw", "x")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0] == '{"choices":[{"index":0,"delta":{"content":"hi"}}]}'
    assert len(lines) == 2


@pytest.mark.parametrize(
    ("protocol", "fixture", "finish", "usage"),
    [
        ("openai", "openai_poem.sse", "stop", {"input_tokens": 9, "output_tokens": 6}),
        ("anthropic", "anthropic_poem.sse", "end_turn", {"input_tokens": 12, "output_tokens": 8}),
    ],
)
def test_jsonl_and_json_are_the_same_for_both_protocols(
    sse_server: SSEServer,
    env: dict[str, str],
    protocol: str,
    fixture: str,
    finish: str,
    usage: dict[str, int],
) -> None:
    sse_server.queue(Canned(body=split_every(sse_file(fixture), 11)))
    r = chat(sse_server, env, "--protocol", protocol, "--format", "jsonl", "写一首诗")
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert events[0]["type"] == "start"
    assert events[0]["schema"] == 2
    assert events[0]["protocol"] == protocol
    assert "".join(e["text"] for e in events if e["type"] == "text") == POEM
    assert events[-2] == {"type": "usage", **usage}
    assert events[-1]["type"] == "done"
    assert events[-1]["finish_reason"] == finish
    kinds = {e["type"] for e in events}
    assert kinds <= {"start", "text", "reasoning", "usage", "done"}

    r = chat(sse_server, env, "--protocol", protocol, "--format", "json", "写一首诗")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["text"] == POEM
    assert out["finish_reason"] == finish
    assert out["usage"] == usage
    assert out["protocol"] == protocol
    assert out["tool_calls"] == []
    assert out["attempts"] == 1
    assert out["resumed"] is False
    assert out["reasoning"] == ("想一想。" if protocol == "anthropic" else None)
    reply: dict[str, Any] = {"role": "assistant", "content": POEM}
    if protocol == "anthropic":  # the signed thinking, to be sent back when the turn goes on
        reply["thinking_blocks"] = [
            {"type": "thinking", "thinking": "想一想。", "signature": "c2ln"}
        ]
    assert out["messages"][-1] == reply
    assert r.stdout.count(b"\n") == 1  # one object, one line


@pytest.mark.parametrize(
    ("args", "fixture"),
    [([], "openai_truncated.sse"), (["--protocol", "anthropic"], "anthropic_truncated.sse")],
)
def test_truncated_stream_is_an_error_but_keeps_text(
    sse_server: SSEServer, env: dict[str, str], args: list[str], fixture: str
) -> None:
    sse_server.queue(Canned(body=[sse_file(fixture)]))
    r = chat(sse_server, env, *args, "--max-retries", "0", "写一首诗")
    assert r.returncode == 8
    assert r.stdout.decode().startswith("床前")
    assert not r.stdout.endswith(b"\n")  # nothing added to a broken answer
    err = r.stderr.decode()
    assert "mint: error:" in err and "truncated" in err
    assert "Traceback" not in err


def test_truncated_json_output_reports_error(sse_server: SSEServer, env: dict[str, str]) -> None:
    sse_server.queue(Canned(body=[sse_file("openai_truncated.sse")]))
    r = chat(sse_server, env, "--max-retries", "0", "--format", "json", "x")
    assert r.returncode == 8
    out = json.loads(r.stdout)
    assert out["text"] == "床前明月光"
    assert out["finish_reason"] is None
    assert out["error"]["code"] == 8


@pytest.mark.parametrize(
    ("args", "fixture", "kept"),
    [([], "openai_error.sse", "部分"), (["--protocol", "anthropic"], "anthropic_error.sse", "")],
)
def test_in_stream_error_exits_5_with_server_message(
    sse_server: SSEServer, env: dict[str, str], args: list[str], fixture: str, kept: str
) -> None:
    sse_server.queue(Canned(body=[sse_file(fixture)]))
    r = chat(sse_server, env, *args, "--max-retries", "0", "--format", "jsonl", "x")
    assert r.returncode == 5
    events = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert "".join(e["text"] for e in events if e["type"] == "text") == kept
    assert events[-1]["type"] == "error" and events[-1]["code"] == 5
    err = r.stderr.decode()
    assert ("processing your request" in err) or ("Overloaded" in err)


def test_text_before_an_in_stream_error_is_journaled_too(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    # The text and the error arrive in one read: the text is shown, and the
    # journal must hold it too, or a --resume would print it a second time.
    sse_server.queue(Canned(body=[sse_file("openai_error.sse")]))
    r = chat(sse_server, env, "--max-retries", "0", "x")
    assert r.returncode == 5 and r.stdout == "部分".encode()
    (journal,) = (Path(env["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert "".join(rec.get("t", "") for rec in records) == "部分"


@pytest.mark.parametrize(
    ("status", "code", "body", "needle"),
    [
        (
            400,
            4,
            {"error": {"message": "bad model name", "type": "invalid_request_error"}},
            "bad model name",
        ),
        (401, 4, {"error": {"message": "Incorrect API key", "type": "auth"}}, "Incorrect API key"),
        (
            404,
            4,
            {"type": "error", "error": {"type": "not_found_error", "message": "no route"}},
            "no route",
        ),
        (429, 6, {"error": {"message": "slow down", "type": "rate_limit"}}, "slow down"),
        (500, 5, {"error": {"message": "boom", "type": "server_error"}}, "boom"),
        (
            529,
            5,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "Overloaded",
        ),
    ],
)
def test_http_errors_map_to_exit_codes(
    sse_server: SSEServer,
    env: dict[str, str],
    status: int,
    code: int,
    body: dict[str, object],
    needle: str,
) -> None:
    sse_server.queue(
        Canned(
            status=status,
            headers={"Content-Type": "application/json"},
            body=[json.dumps(body).encode()],
        )
    )
    r = chat(sse_server, env, "--max-retries", "0", "x")
    assert r.returncode == code
    assert r.stdout == b""
    err = r.stderr.decode()
    assert err.startswith("mint: error: HTTP ")
    assert needle in err
    assert "Traceback" not in err and SECRET not in err


def test_json_body_with_200_is_not_parsed_as_sse(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    sse_server.queue(
        Canned(
            headers={"Content-Type": "application/json"}, body=[b'{"error": {"message": "nope"}}']
        )
    )
    r = chat(sse_server, env, "--max-retries", "0", "x")
    assert r.returncode == 5
    assert "nope" in r.stderr.decode()


def test_malformed_json_piece_is_protocol_error(sse_server: SSEServer, env: dict[str, str]) -> None:
    body = 'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\ndata: {not json\n\n'
    sse_server.queue(Canned(body=[body.encode()]))
    r = chat(sse_server, env, "--max-retries", "0", "x")
    assert r.returncode == 8
    assert r.stdout == b"ok"
    assert "malformed JSON" in r.stderr.decode()


def test_connection_refused_is_network_error(env: dict[str, str], refused_url: str) -> None:
    env = {**env, "MINT_BASE_URL": refused_url}
    r = run_mint(["chat", "--max-retries", "0", "x"], env)
    assert r.returncode == 7
    assert r.stdout == b""
    assert "cannot connect" in r.stderr.decode()
    assert len(r.stderr.decode().strip().splitlines()) == 1


def test_missing_key_exits_3_and_says_how(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "MINT_API_KEY"}
    r = run_mint(["chat", "hi"], env)
    assert r.returncode == 3
    err = r.stderr.decode()
    assert "MINT_API_KEY" in err and "--api-key" in err


def test_usage_errors_come_before_a_missing_key(env: dict[str, str]) -> None:
    env = {k: v for k, v in env.items() if k != "MINT_API_KEY"}
    r = run_mint(["chat"], env, input=b"")
    assert r.returncode == 2 and "no prompt" in r.stderr.decode()
    r = run_mint(["chat", "--tool", "/nonexistent/tool.json", "hi"], env)
    assert r.returncode == 2 and "tool.json" in r.stderr.decode()


def test_no_prompt_is_usage_error(env: dict[str, str]) -> None:
    r = run_mint(["chat"], env)
    assert r.returncode == 2
    err = r.stderr.decode()
    assert err.startswith("Usage: mint chat")
    assert "mint: error: no prompt" in err
    r = run_mint(["chat"], env, input=b"   \n")
    assert r.returncode == 2


def test_bad_option_value_is_usage_error(env: dict[str, str]) -> None:
    r = run_mint(["chat", "--format", "xml", "hi"], env)
    assert r.returncode == 2
    assert "mint: error:" in r.stderr.decode()
    assert "Traceback" not in r.stderr.decode()


def test_request_bodies(sse_server: SSEServer, env: dict[str, str], tmp_path: Path) -> None:
    sse_server.queue(Canned(body=[sse_file("openai_poem.sse")]))
    r = chat(
        sse_server,
        env,
        "-m",
        "openai/gpt-4o-mini",
        "-s",
        "be brief",
        "--max-tokens",
        "50",
        "--temperature",
        "0.5",
        "-o",
        "top_p=0.9",
        "-o",
        "user=alice",
        "-o",
        "store=true",
        "-o",
        'metadata={"run": "7"}',  # the README's OpenAI example (the API refuses a number)
        "-o",
        'stop=["END", "STOP"]',  # a JSON array parsed as one
        "hello",
        "world",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == POEM + "\n"
    req = sse_server.requests[-1]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert req["body"] == {
        "model": "openai/gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello world"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 50,
        "temperature": 0.5,
        "top_p": 0.9,
        "user": "alice",
        "store": True,
        "metadata": {"run": "7"},
        "stop": ["END", "STOP"],
    }

    sse_server.queue(Canned(body=[sse_file("anthropic_poem.sse")]))
    history = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    (tmp_path / "m.json").write_text(json.dumps(history))
    r = chat(
        sse_server,
        env,
        "--protocol",
        "anthropic",
        "-s",
        "sys",
        "--messages",
        str(tmp_path / "m.json"),
        "again",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == POEM + "\n"
    req = sse_server.requests[-1]
    assert req["path"] == "/v1/messages"
    assert req["headers"]["x-api-key"] == SECRET
    assert req["headers"]["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in req["headers"]
    assert req["body"] == {
        "model": "openai/gpt-4o",
        "max_tokens": 4096,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "again"},
        ],
        "stream": True,
        "system": "sys",
    }


def test_stdin_is_material_after_instruction(sse_server: SSEServer, env: dict[str, str]) -> None:
    sse_server.queue(Canned(body=[sse_file("openai_poem.sse")]))
    cases = [
        # stdin is the material after the instruction
        (["review", "this"], b"diff --git a b\n+x\n", "review this\n\ndiff --git a b\n+x\n"),
        # stdin alone is the prompt
        ([], "写一首诗".encode(), "写一首诗"),
        # '-' places stdin
        (["translate:", "-", "(to English)"], b"bonjour", "translate: bonjour (to English)"),
        # --no-stdin ignores it
        (["--no-stdin", "just this"], b"ignored", "just this"),
    ]
    for args, stdin, prompt in cases:
        r = chat(sse_server, env, *args, input=stdin)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == POEM + "\n"
        assert sse_server.requests[-1]["body"]["messages"][-1]["content"] == prompt


def test_stdin_not_utf8_is_usage_error(sse_server: SSEServer, env: dict[str, str]) -> None:
    sse_server.queue(Canned(body=[sse_file("openai_poem.sse")]))
    r = chat(sse_server, env, "x", input=b"\xff\xfe\x00bad")
    assert r.returncode == 2
    assert r.stdout == b"" and sse_server.requests == []
    assert "not UTF-8" in r.stderr.decode()


def test_stdin_left_open_does_not_hang(
    sse_server: SSEServer, env: dict[str, str], spawn: Any
) -> None:
    """A pipe whose writer never writes nor closes (a CI runner's idle stdin): mint gives up
    on it after --stdin-timeout, says so, and sends the argv prompt alone."""
    sse_server.queue(Canned(body=[sse_file("openai_poem.sse")]))
    read_end, write_end = os.pipe()
    try:
        start = time.monotonic()
        # Not stdin=PIPE with communicate(): communicate() closes stdin, which is an EOF.
        proc = spawn(
            [*MINT, "chat", "--stdin-timeout", "0.3", "写一首诗"],
            {**env, "MINT_BASE_URL": sse_server.base_url},
            stdin=read_end,
        )
        os.close(read_end)  # the child has its copy; this test holds the write end open
        read_end = -1
        # A mint that waited for EOF would run into this deadline (the write end is open).
        out, err = finish(proc, timeout=15)
        elapsed = time.monotonic() - start
    finally:
        if read_end != -1:
            os.close(read_end)
        os.close(write_end)
    assert proc.returncode == 0, err
    assert out.decode() == POEM + "\n"
    assert "stdin sent nothing within 0.3s" in err.decode()
    assert sse_server.requests[-1]["body"]["messages"][-1]["content"] == "写一首诗"
    assert elapsed >= 0.3  # it did wait for stdin first
