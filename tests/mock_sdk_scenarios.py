"""The client side of tests/test_mock_sdk.py: scenarios that drive `mint mock`
through the official openai and anthropic SDKs, run in a child process so that
the test workers never import the SDKs (a worker's size would become the peak
RSS of every child it spawns, which other tests measure).

    python tests/mock_sdk_scenarios.py BASE_URL

prints one JSON object: scenario name -> null (passed) or the failure's traceback.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pydantic
import pytest

MODEL_O = "openai/gpt-4o"
MODEL_A = "anthropic/claude-sonnet-4-5"
WEATHER = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
}
O_TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}]
A_TOOLS = [{"name": "get_weather", "input_schema": WEATHER}]
HI = [{"role": "user", "content": "hello there"}]


def bad_openai(oai: Any, **kw: Any) -> Any:
    kw.setdefault("model", MODEL_O)
    kw.setdefault("messages", HI)
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(**kw)
    assert info.value.status_code == 400 and info.value.type == "invalid_request_error"
    return info.value


def bad_anthropic(ant: Any, **kw: Any) -> str:
    kw.setdefault("model", MODEL_A)
    kw.setdefault("max_tokens", 100)
    kw.setdefault("messages", HI)
    with pytest.raises(anthropic.BadRequestError) as info:
        ant.messages.create(**kw)
    body = info.value.body
    assert info.value.status_code == 400 and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    message: str = body["error"]["message"]
    return message


# -- positive controls -------------------------------------------------------------------


def openai_happy_path(oai: Any, ant: Any, base_url: str) -> None:
    raw = oai.chat.completions.with_raw_response.create(model=MODEL_O, messages=HI)
    assert re.fullmatch(r"req_[0-9a-f]{32}", raw.headers["x-request-id"])
    reply = raw.parse()
    assert reply.choices[0].message.content == "Mock reply to: hello there"
    assert reply.choices[0].finish_reason == "stop"
    u = reply.usage
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens and u.completion_tokens > 0

    chunks = list(
        oai.chat.completions.create(
            model=MODEL_O, messages=HI, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Mock reply to: hello there"
    assert chunks[-1].usage.completion_tokens == u.completion_tokens

    ask = [{"role": "user", "content": "北京的天气怎么样?"}]
    first = oai.chat.completions.create(model=MODEL_O, messages=ask, tools=O_TOOLS)
    msg = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and msg.content is None
    call = msg.tool_calls[0]
    assert re.fullmatch(r"call_[0-9a-f]{24}", call.id)
    assert json.loads(call.function.arguments) == {"location": "北京"}
    turn = [
        *ask,
        msg.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = oai.chat.completions.create(model=MODEL_O, messages=turn, tools=O_TOOLS)
    assert second.choices[0].message.content == "Tool result received: sunny"
    # a second round asks again: a new id, never the first one's
    turn += [{"role": "user", "content": "and tomorrow?"}]
    third = oai.chat.completions.create(model=MODEL_O, messages=turn, tools=O_TOOLS)
    assert third.choices[0].message.tool_calls[0].id not in (call.id,)

    # streamed, a tool-only reply has content null throughout
    chunks = list(
        oai.chat.completions.create(model=MODEL_O, messages=ask, tools=O_TOOLS, stream=True)
    )
    assert all(c.choices[0].delta.content is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def anthropic_happy_path(oai: Any, ant: Any, base_url: str) -> None:
    raw = ant.messages.with_raw_response.create(model=MODEL_A, max_tokens=100, messages=HI)
    assert re.fullmatch(r"req_[0-9a-f]{32}", raw.headers["request-id"])
    reply = raw.parse()
    assert reply.content[0].text == "Mock reply to: hello there"
    assert reply.stop_reason == "end_turn"

    with ant.messages.stream(model=MODEL_A, max_tokens=100, messages=HI) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "Mock reply to: hello there"
    assert final.usage.output_tokens == reply.usage.output_tokens

    ask = [{"role": "user", "content": "北京的天气怎么样?"}]
    first = ant.messages.create(model=MODEL_A, max_tokens=100, messages=ask, tools=A_TOOLS)
    use = first.content[0]
    assert first.stop_reason == "tool_use" and use.input == {"location": "北京"}
    assert re.fullmatch(r"toolu_[0-9a-f]{24}", use.id)
    turn = [
        *ask,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}],
        },
    ]
    with ant.messages.stream(model=MODEL_A, max_tokens=100, messages=turn, tools=A_TOOLS) as s:
        assert s.get_final_message().content[0].text == "Tool result received: sunny"
    # made to call the tool, after a result too: a call, with a new id
    again = ant.messages.create(
        model=MODEL_A, max_tokens=100, messages=turn, tools=A_TOOLS,
        tool_choice={"type": "tool", "name": "get_weather"},
    )  # fmt: skip
    assert again.stop_reason == "tool_use" and [b.type for b in again.content] == ["tool_use"]
    assert again.content[0].id != use.id


# -- OpenAI: what the real API rejects --------------------------------------------------


def openai_rejections(oai: Any, ant: Any, base_url: str) -> None:
    e = bad_openai(oai, messages=[{"role": "robot", "content": "hi"}])
    assert (e.param, e.code) == ("messages[0].role", "invalid_value")
    e = bad_openai(oai, messages=[*HI, {"role": "tool", "tool_call_id": "call_x", "content": "1"}])
    assert e.param == "messages.[1].role" and "preceding message with 'tool_calls'" in e.message
    asked = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"},
            }
        ],
    }
    e = bad_openai(oai, messages=[*HI, asked, *HI], tools=O_TOOLS)
    assert e.param == "messages.[1].role" and "call_a" in e.message
    e = bad_openai(
        oai, messages=[*HI, asked, {"role": "tool", "tool_call_id": "call_b", "content": "1"}]
    )
    assert e.param == "messages.[2].tool_call_id"
    e = bad_openai(oai, stream_options={"include_usage": True})
    assert e.param == "stream_options"
    e = bad_openai(oai, extra_body={"frobnicate": 1})
    assert "frobnicate" in e.message
    e = bad_openai(oai, temperature=5)
    assert (e.param, e.code) == ("temperature", "decimal_above_max_value")
    e = bad_openai(oai, top_logprobs=3)
    assert e.param == "logprobs"
    e = bad_openai(oai, stop=["a", "b", "c", "d", "e"])
    assert (e.param, e.code) == ("stop", "array_above_max_length")
    e = bad_openai(oai, messages=[{"role": "user"}])
    assert (e.param, e.code) == ("messages[0].content", "missing_required_parameter")
    e = bad_openai(oai, tool_choice="required")
    assert e.param == "tool_choice"
    e = bad_openai(oai, messages=[])
    assert e.code == "empty_array"


def openai_rate_limit_and_auth(oai: Any, ant: Any, base_url: str) -> None:
    with pytest.raises(openai.RateLimitError) as limit:
        oai.chat.completions.create(
            model=MODEL_O, messages=HI, extra_headers={"X-Mint-Mock-Fault": "status=429"}
        )
    assert (limit.value.type, limit.value.code) == ("requests", "rate_limit_exceeded")
    with pytest.raises(openai.AuthenticationError) as auth:
        oai.chat.completions.create(
            model=MODEL_O, messages=HI, extra_headers={"X-Mint-Mock-Fault": "status=401"}
        )
    assert auth.value.code == "invalid_api_key"
    assert oai.models.retrieve("gpt-4o").id == "gpt-4o"


def openai_reply_shape(oai: Any, ant: Any, base_url: str) -> None:
    cut = oai.chat.completions.create(model=MODEL_O, messages=HI, max_tokens=2)
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.content == "Mock rep"  # two pieces of four characters
    assert cut.usage.completion_tokens == 2
    stop = oai.chat.completions.create(model=MODEL_O, messages=HI, stop=["to:"])
    assert (stop.choices[0].message.content, stop.choices[0].finish_reason) == (
        "Mock reply ",
        "stop",
    )
    two = oai.chat.completions.create(model=MODEL_O, messages=HI, n=2)
    assert [c.index for c in two.choices] == [0, 1]
    chunks = list(oai.chat.completions.create(model=MODEL_O, messages=HI, n=2, stream=True))
    by_index = {0: "", 1: ""}
    for c in chunks:
        by_index[c.choices[0].index] += c.choices[0].delta.content or ""
    assert by_index[0] == by_index[1] == "Mock reply to: hello there"

    asked = oai.chat.completions.create(model=MODEL_O, messages=HI, tools=O_TOOLS)
    call = asked.choices[0].message.tool_calls[0]
    turn = [*HI, asked.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]  # fmt: skip
    forced = oai.chat.completions.create(
        model=MODEL_O, messages=turn, tools=O_TOOLS, tool_choice="required"
    )
    assert forced.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert forced.choices[0].message.tool_calls[0].id != call.id
    off = oai.chat.completions.create(model=MODEL_O, messages=HI, tools=O_TOOLS, tool_choice="none")
    assert off.choices[0].message.tool_calls is None and off.choices[0].finish_reason == "stop"


# -- Anthropic: what the real API rejects -----------------------------------------------


def anthropic_rejections(oai: Any, ant: Any, base_url: str) -> None:
    msg = bad_anthropic(ant, messages=[
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_nope", "content": "1"}]},
    ])  # fmt: skip
    assert "unexpected `tool_use_id`" in msg and "toolu_nope" in msg
    use = {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {}}
    msg = bad_anthropic(
        ant, messages=[*HI, {"role": "assistant", "content": [use]}, *HI], tools=A_TOOLS
    )
    assert msg.startswith("messages.1: `tool_use` ids were found without `tool_result`")
    assert (
        bad_anthropic(ant, extra_body={"frobnicate": 1})
        == "frobnicate: Extra inputs are not permitted"
    )
    assert bad_anthropic(ant, extra_body={"temperature": 2}) == (
        "temperature: Input should be less than or equal to 1"
    )
    msg = bad_anthropic(ant, messages=[{"role": "user", "content": ""}])
    assert msg.startswith("messages.0: all messages must have non-empty content")
    msg = bad_anthropic(ant, messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}])
    assert msg == "messages: text content blocks must be non-empty"
    msg = bad_anthropic(ant, messages=[{"role": "system", "content": "x"}])
    assert msg == "messages.0.role: Input should be 'user' or 'assistant'"
    msg = bad_anthropic(ant, thinking={"type": "enabled", "budget_tokens": 2000}, max_tokens=1000)
    assert "budget_tokens" in msg
    # No anthropic-version header (the SDKs always send one): 400, Anthropic's shape.
    r = httpx.post(
        base_url + "/messages",
        json={"model": MODEL_A, "max_tokens": 10, "messages": HI},
        headers={"x-api-key": "k"},
    )
    assert r.status_code == 400 and r.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "anthropic-version: header is required",
        },
        "request_id": r.headers["request-id"],
    }
    assert r.headers["request-id"].startswith("req_")


def anthropic_reply_shape(oai: Any, ant: Any, base_url: str) -> None:
    cut = ant.messages.create(model=MODEL_A, max_tokens=1, messages=HI)
    assert (cut.stop_reason, cut.content[0].text, cut.usage.output_tokens) == (
        "max_tokens",
        "Mock",
        1,
    )
    stop = ant.messages.create(model=MODEL_A, max_tokens=100, messages=HI, stop_sequences=["to:"])
    assert (stop.stop_reason, stop.stop_sequence) == ("stop_sequence", "to:")
    assert stop.content[0].text == "Mock reply "
    with ant.messages.stream(
        model=MODEL_A, max_tokens=100, messages=HI, stop_sequences=["to:"]
    ) as s:
        streamed = s.get_final_message()
    assert (streamed.stop_reason, streamed.stop_sequence) == ("stop_sequence", "to:")

    forced = ant.messages.create(
        model=MODEL_A, max_tokens=100, messages=HI, tools=A_TOOLS, tool_choice={"type": "any"}
    )
    assert forced.stop_reason == "tool_use" and forced.content[0].name == "get_weather"
    off = ant.messages.create(
        model=MODEL_A, max_tokens=100, messages=HI, tools=A_TOOLS, tool_choice={"type": "none"}
    )
    assert [b.type for b in off.content] == ["text"] and off.stop_reason == "end_turn"

    class City(pydantic.BaseModel):
        name: str
        population: int

    parsed = ant.messages.parse(
        model=MODEL_A, max_tokens=100, messages=[{"role": "user", "content": "Paris"}],
        output_format=City,
    )  # fmt: skip
    assert parsed.parsed_output == City(name="Paris", population=1)

    counted = ant.messages.count_tokens(model=MODEL_A, messages=HI)
    assert counted.input_tokens == cut.usage.input_tokens


def anthropic_rate_limit_and_malformed(oai: Any, ant: Any, base_url: str) -> None:
    with pytest.raises(anthropic.RateLimitError) as limit:
        ant.messages.create(
            model=MODEL_A, max_tokens=100, messages=HI,
            extra_headers={"X-Mint-Mock-Fault": "status=429"},
        )  # fmt: skip
    assert limit.value.body["error"]["type"] == "rate_limit_error"
    # The malformed event is named as Anthropic names its events: the SDK reads it
    # (and fails on its JSON) instead of skipping it as an unknown event.
    with pytest.raises(ValueError), ant.messages.stream(
        model=MODEL_A, max_tokens=100, messages=HI,
        extra_headers={"X-Mint-Mock-Fault": "malformed=2"},
    ) as s:  # fmt: skip
        s.get_final_message()


SCENARIOS: dict[str, Callable[[Any, Any, str], None]] = {
    f.__name__: f
    for f in (
        openai_happy_path, anthropic_happy_path, openai_rejections,
        openai_rate_limit_and_auth, openai_reply_shape, anthropic_rejections,
        anthropic_reply_shape, anthropic_rate_limit_and_malformed,
    )
}  # fmt: skip


def main() -> None:
    base_url = sys.argv[1]
    oai = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0)
    ant = anthropic.Anthropic(base_url=base_url.removesuffix("/v1"), api_key="k", max_retries=0)
    results: dict[str, str | None] = {}
    for name, scenario in SCENARIOS.items():
        try:
            scenario(oai, ant, base_url)
            results[name] = None
        except BaseException:  # every failure, reported to the test
            results[name] = traceback.format_exc()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
