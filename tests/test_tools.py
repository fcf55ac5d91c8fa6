"""Tool calls: definitions in three shapes, streamed calls in both protocols, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_mint
from sse_server import POEM, Canned, SSEServer, split_every, sse_file

WEATHER_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "获取天气信息",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "城市名称"}},
            "required": ["location"],
        },
    },
}
TIME_ANTHROPIC = {
    "name": "get_time",
    "description": "current time",
    "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}},
}
BARE = {"name": "noop", "parameters": {"type": "object", "properties": {}}}


@pytest.fixture
def tool_files(tmp_path: Path) -> dict[str, str]:
    paths = {}
    for name, obj in [("weather", WEATHER_OPENAI), ("time", TIME_ANTHROPIC)]:
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(obj, ensure_ascii=False))
        paths[name] = str(p)
    arr = tmp_path / "tools.json"
    arr.write_text(json.dumps([BARE]))
    paths["array"] = str(arr)
    return paths


def chat(server: SSEServer, env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return run_mint(["chat", *args], {**env, "MINT_BASE_URL": server.base_url})


@pytest.mark.parametrize(
    ("protocol", "fixture", "finish"),
    [
        ("openai", "openai_tools.sse", "tool_calls"),
        ("anthropic", "anthropic_tools.sse", "tool_use"),
    ],
)
def test_tool_calls_in_every_format(
    sse_server: SSEServer,
    env: dict[str, str],
    tool_files: dict[str, str],
    protocol: str,
    fixture: str,
    finish: str,
) -> None:
    base = ["--protocol", protocol, "--tool", tool_files["weather"], "--tool", tool_files["time"]]
    expected_calls = {
        "openai": [
            {"id": "call_a", "name": "get_weather", "arguments": {"location": "北京"}},
            {"id": "call_b", "name": "get_time", "arguments": {"tz": "Asia/Shanghai"}},
        ],
        "anthropic": [
            {"id": "toolu_a", "name": "get_weather", "arguments": {"location": "北京"}},
            {"id": "toolu_b", "name": "get_time", "arguments": {}},
        ],
    }[protocol]

    sse_server.queue(Canned(body=split_every(sse_file(fixture), 9)))
    r = chat(sse_server, env, *base, "北京的天气怎么样?")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().split("\n")
    assert lines[0] == "我来查一下。"
    assert [json.loads(x) for x in lines[1:-1]] == expected_calls
    assert lines[-1] == ""

    r = chat(sse_server, env, *base, "--format", "json", "北京的天气怎么样?")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["tool_calls"] == expected_calls
    assert out["finish_reason"] == finish
    assert out["text"] == "我来查一下。"
    # the new assistant turn, in OpenAI shape, ready to extend
    turn = out["messages"][-1]
    assert turn["role"] == "assistant"
    assert [c["function"]["name"] for c in turn["tool_calls"]] == ["get_weather", "get_time"]
    assert json.loads(turn["tool_calls"][0]["function"]["arguments"]) == {"location": "北京"}

    r = chat(sse_server, env, *base, "--format", "jsonl", "北京的天气怎么样?")
    assert r.returncode == 0, r.stderr
    events = [json.loads(x) for x in r.stdout.decode().splitlines()]
    calls = [e for e in events if e["type"] == "tool_call"]
    assert [{k: v for k, v in c.items() if k != "type"} for c in calls] == expected_calls
    assert events[-1]["finish_reason"] == finish


def test_tool_definitions_are_converted_per_protocol(
    sse_server: SSEServer, env: dict[str, str], tool_files: dict[str, str]
) -> None:
    args = [
        "--tool",
        tool_files["weather"],
        "--tool",
        json.dumps(TIME_ANTHROPIC),
        "--tools",
        tool_files["array"],
        "--tool-choice",
        "get_weather",
        "q",
    ]
    sse_server.queue(Canned(body=[sse_file("openai_tools.sse")]))
    r = chat(sse_server, env, *args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("我来查一下。\n{")
    body = sse_server.requests[-1]["body"]
    assert body["tools"] == [
        WEATHER_OPENAI,
        {
            "type": "function",
            "function": {
                "name": "get_time",
                "description": "current time",
                "parameters": TIME_ANTHROPIC["input_schema"],
            },
        },
        {"type": "function", "function": {"name": "noop", "parameters": BARE["parameters"]}},
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}

    sse_server.queue(Canned(body=[sse_file("anthropic_tools.sse")]))
    r = chat(sse_server, env, "--protocol", "anthropic", *args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("我来查一下。\n{")
    body = sse_server.requests[-1]["body"]
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "获取天气信息",
            "input_schema": WEATHER_OPENAI["function"]["parameters"],
        },  # type: ignore[index]
        TIME_ANTHROPIC,
        {"name": "noop", "input_schema": BARE["parameters"]},
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "get_weather"}


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ('{"description": "no name"}', "tool name"),
        ('{"name": "x", "parameters": []}', "JSON Schema object"),
        ('{"name": "has space"}', "tool name"),
    ],
)
def test_malformed_tool_file_is_usage_error(
    env: dict[str, str], tmp_path: Path, content: str, needle: str
) -> None:
    bad = tmp_path / "bad-tool.json"
    bad.write_text(content)
    r = run_mint(["chat", "--tool", str(bad), "q"], env)
    assert r.returncode == 2 and r.stdout == b""
    err = r.stderr.decode()
    assert str(bad) in err and needle in err
    assert err.count("\n") == 1


def test_missing_tool_file_and_unknown_choice(
    env: dict[str, str], tool_files: dict[str, str]
) -> None:
    r = run_mint(["chat", "--tool", "/nonexistent/t.json", "q"], env)
    assert r.returncode == 2 and "/nonexistent/t.json" in r.stderr.decode()
    r = run_mint(["chat", "--tool", tool_files["weather"], "--tool-choice", "nope", "q"], env)
    assert r.returncode == 2 and "no such tool" in r.stderr.decode()


def test_invalid_arguments_are_kept_marked_and_warned(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    body = (
        'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":"{\\"a\\": tru"}}]}}]}\n\n'
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n'
        "data: [DONE]\n\n"
    )
    sse_server.queue(Canned(body=[body.encode()]))
    r = chat(sse_server, env, "--format", "json", "q")
    assert r.returncode == 0, r.stderr
    call = json.loads(r.stdout)["tool_calls"][0]
    assert call["arguments"] == '{"a": tru'
    assert "invalid JSON" in call["arguments_error"]
    assert "mint: warning: tool call 'f'" in r.stderr.decode()


def test_messages_with_tool_turns_convert_for_anthropic(
    sse_server: SSEServer, env: dict[str, str], tmp_path: Path
) -> None:
    history = [
        {"role": "user", "content": "北京的天气怎么样?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location":"北京"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_a", "content": "晴, 25°C"},
    ]
    path = tmp_path / "h.json"
    path.write_text(json.dumps(history, ensure_ascii=False))
    sse_server.queue(Canned(body=[sse_file("anthropic_poem.sse")]))
    r = chat(sse_server, env, "--protocol", "anthropic", "--messages", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == POEM + "\n"
    assert sse_server.requests[-1]["body"]["messages"] == [
        {"role": "user", "content": "北京的天气怎么样?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_a",
                    "name": "get_weather",
                    "input": {"location": "北京"},
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "晴, 25°C"}],
        },
    ]
    # the same file works unchanged for OpenAI
    sse_server.queue(Canned(body=[sse_file("openai_poem.sse")]))
    r = chat(sse_server, env, "--messages", str(path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == POEM + "\n"
    assert sse_server.requests[-1]["body"]["messages"] == history


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{}", "JSON array"),
        ("[1]", "not an object"),
        ('[{"role": "robot"}]', "unknown role"),
        ("[", "not valid JSON"),
    ],
)
def test_bad_messages_file(env: dict[str, str], tmp_path: Path, content: str, needle: str) -> None:
    p = tmp_path / "m.json"
    p.write_text(content)
    r = run_mint(["chat", "--messages", str(p), "q"], env)
    assert r.returncode == 2 and r.stdout == b""
    assert needle in r.stderr.decode()
