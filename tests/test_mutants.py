"""Behaviours that mutation testing (``python tools/mutation.py``) found no fast test
pinning down: each test here failed on some surviving mutant of SSE framing, the
protocols, the accumulator or the continuation logic. All in-process and quick."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import pytest

from mintcli.base.events import (
    Event,
    Finish,
    MessageStart,
    ReasoningBlock,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from mintcli.errors import MintError, ProtocolError, RateLimited, ServerError, UsageError
from mintcli.output.accumulate import Accumulator, Reply, TextBuffer
from mintcli.protocols import anthropic, openai
from mintcli.protocols.anthropic import AnthropicDecoder, AnthropicProtocol, convert_messages
from mintcli.protocols.base import error_kind, error_message, parse_model_list
from mintcli.protocols.fastpath import TextTemplate
from mintcli.protocols.openai import OpenAIDecoder, OpenAIProtocol
from mintcli.request.model import ChatRequest, ToolSpec
from mintcli.run.continuation import plan_next
from mintcli.wire import sse
from mintcli.wire.sse import SSEDecoder, SSEEvent

# -- SSE framing -------------------------------------------------------------------


def test_sse_event_size_limit_is_exact_whichever_way_the_event_arrives() -> None:
    """An event of exactly MAX_EVENT_BYTES passes; one byte more is a protocol error
    (exit 8) that names the limit: whole in one read, as a line still unfinished
    after one or more reads, and as many data lines."""
    limit = sse.MAX_EVENT_BYTES
    line = b"data: " + b"x" * (limit - 6)
    event = SSEEvent("message", line[6:], None)

    assert SSEDecoder().feed(line + b"\n\n") == [event]
    with pytest.raises(ProtocolError, match="longer than 16 MiB"):
        SSEDecoder().feed(line + b"x\n\n")
    with pytest.raises(ProtocolError):
        SSEDecoder().feed(line + b"x")  # the first read, no line end yet

    dec = SSEDecoder()
    assert dec.feed(line) == []
    assert dec.feed(b"\n\n") == [event]
    assert dec.feed(b"data: a\n\n") == [SSEEvent("message", b"a", None)]
    assert dec.feed(line) == []
    with pytest.raises(ProtocolError):
        dec.feed(b"x")

    half = b"data: " + b"y" * (limit // 2) + b"\n"  # the data values count, not the lines
    dec = SSEDecoder()
    for _ in range(2):
        assert dec.feed(half) == [] and dec.feed(half) == []
        (joined,) = dec.feed(b"\n")
        assert len(joined.data) == limit + 1  # two halves and the LF between them
    dec.feed(half)
    dec.feed(half)
    with pytest.raises(ProtocolError):
        dec.feed(b"data: z\n")


@pytest.mark.parametrize("step", [1, 4, 1000])
def test_sse_ids_names_without_a_space_and_bytes_that_are_not_utf8(step: int) -> None:
    raw = (
        b"id: 1\ndata: a\n\n"
        b"data: b\n\n"  # the id stays in force
        b"event:delta\nid:7\ndata:c\n\n"  # no space after the colon
        b"event: \xff\ndata: d\n\n"
        b"event: \xfe\nid: \xfd\ndata: e\n\n"
        b"id\ndata: f\n\n"  # an empty id resets it
    )
    dec = SSEDecoder()
    got = [e for i in range(0, len(raw), step) for e in dec.feed(raw[i : i + step])]
    assert [(e.event, e.data, e.id) for e in got] == [
        ("message", b"a", "1"),
        ("message", b"b", "1"),
        ("delta", b"c", "7"),
        ("\ufffd", b"d", "7"),
        ("\ufffd", b"e", "\ufffd"),
        ("message", b"f", ""),
    ]
    assert SSEEvent("message", b"a", "1") != SSEEvent("message", b"a", "2")


# -- the fast path for text events ---------------------------------------------------

OPENAI_TEXT = (
    b'{"id":"chatcmpl-' + b"a" * 200 + b'","object":"chat.completion.chunk","model":"m",'
    b'"choices":[{"index":0,"delta":{"content":',
    b'},"logprobs":null,"finish_reason":null}]}',
)
ANTHROPIC_TEXT = (
    b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":',
    b"}}",
)
SHAPES = [
    (OpenAIDecoder, openai, "message", OPENAI_TEXT),
    (AnthropicDecoder, anthropic, "content_block_delta", ANTHROPIC_TEXT),
]


@pytest.mark.parametrize("escaped", [False, True], ids=["utf8", "escaped"])
@pytest.mark.parametrize(("make", "module", "name", "shape"), SHAPES, ids=["openai", "anthropic"])
def test_a_long_text_stream_is_read_without_a_full_parse_of_each_event(
    monkeypatch: pytest.MonkeyPatch,
    make: Any,
    module: Any,
    name: str,
    shape: tuple[bytes, bytes],
    escaped: bool,
) -> None:
    """The speed of mint's hot path: after one event, events of the same shape (text
    sent as UTF-8 or as \\u escapes, far into the event) are read from the template."""
    parsed: list[bytes] = []
    real = module.load_object

    def counting(data: bytes, what: str) -> dict[str, Any]:
        parsed.append(data)
        return real(data, what)  # type: ignore[no-any-return]

    monkeypatch.setattr(module, "load_object", counting)
    texts = ["春眠", "不觉晓,", "处处", "闻啼鸟。", "ok"] * 8
    dec = make()
    out = []
    for text in texts:
        token = json.dumps(text).encode() if escaped else orjson.dumps(text)
        out += dec.decode(SSEEvent(name, shape[0] + token + shape[1], None))
    assert out == [TextDelta(t) for t in texts]
    assert len(parsed) == 1


def both_ways(make: Any, events: list[SSEEvent]) -> tuple[list[object], list[object], bool]:
    """What a decoder gives with its fast path and with the full parse only."""
    fast, full = make(), make()
    full._template = TextTemplate(tries=0)
    got: list[object] = []
    want: list[object] = []
    for event in events:
        for dec, out in ((fast, got), (full, want)):
            try:
                out.extend(dec.decode(event))
            except MintError as exc:
                out.append(type(exc).__name__)
    return got, want, fast._template._pre is not None


@pytest.mark.parametrize(("make", "module", "name", "shape"), SHAPES, ids=["openai", "anthropic"])
def test_an_event_differing_outside_its_text_decodes_as_a_full_parse_would(
    make: Any, module: Any, name: str, shape: tuple[bytes, bytes]
) -> None:
    """After the fast path has learned a shape, an event that differs from it in any one
    byte outside the text is not taken for it (OpenAI's "index":1 is another choice, a
    broken brace is a protocol error)."""
    pre, post = shape
    text = b'"hello"'
    events = [SSEEvent(name, pre + text + post, None)]
    whole = pre + post
    for i in range(len(whole)):
        swapped = b"1" if whole[i : i + 1] == b"0" else b"0"
        changed = whole[:i] + swapped + whole[i + 1 :]
        events.append(SSEEvent(name, changed[: len(pre)] + text + changed[len(pre) :], None))
    got, want, learned = both_ways(make, events)
    assert learned
    assert got == want


# -- OpenAI --------------------------------------------------------------------------


def openai_chunk(choice: dict[str, Any]) -> SSEEvent:
    body = {"id": "c1", "model": "m", "choices": [choice]}
    return SSEEvent("message", orjson.dumps(body), None)


def test_openai_roles_reasoning_choices_split_names_and_a_finish_without_done() -> None:
    dec = OpenAIDecoder()
    events = [
        openai_chunk({"index": 0, "delta": {"role": "assistant", "content": "Hi"}}),
        openai_chunk({"index": 1, "delta": {"content": "another choice (n=2)"}}),
        openai_chunk({"index": 0, "delta": {"reasoning": "hmm"}}),  # OpenRouter's name
        openai_chunk(
            {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "get_"}}]}}
        ),
        openai_chunk(
            {
                "index": 0,
                "delta": {
                    "tool_calls": [{"index": 0, "function": {"name": "weather", "arguments": "{"}}]
                },
            }
        ),
        openai_chunk(
            {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "}"}}]}}
        ),
        openai_chunk(
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 1, "id": "x", "function": {"name": "f"}}]},
            }
        ),
    ]
    out = [e for event in events for e in dec.decode(event)]
    assert not dec.terminated
    out += dec.decode(openai_chunk({"index": 0, "delta": {}, "finish_reason": "tool_calls"}))
    assert dec.terminated  # a finish reason ends the stream, [DONE] or not
    assert out == [
        MessageStart("c1", "m"),
        TextDelta("Hi"),
        ReasoningDelta("hmm"),
        ToolCall("call_0", "get_weather", {}),  # no id sent: one is made up
        ToolCall("x", "f", {}),
        Finish("tool_calls"),
    ]


def test_openai_error_events_and_messages() -> None:
    with pytest.raises(ServerError, match="server error in stream: overloaded"):
        OpenAIDecoder().decode(SSEEvent("error", b'{"message": "overloaded"}', None))
    with pytest.raises(RateLimited, match="server error in stream: busy"):
        OpenAIDecoder().decode(
            SSEEvent("message", b'{"error":{"message":"busy","code":"rate_limit_exceeded"}}', None)
        )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'{"choices":[{"index":0,"delta":{"content":5}}]}',
            "malformed stream event: content is an integer, not a string",
        ),
        (
            b'{"choices":[{"index":0,"delta":{"content":true}}]}',
            "malformed stream event: content is true or false, not a string",
        ),
        (
            b'{"choices":[{"index":0,"delta":{"content":1.5}}]}',
            "malformed stream event: content is a number, not a string",
        ),
        (
            b'{"choices":[{"index":0,"delta":[]}]}',
            "malformed stream event: delta is an array, not an object",
        ),
        (
            b'{"choices":[],"usage":{"prompt_tokens":true}}',
            "malformed stream event: prompt_tokens is true or false, not an integer",
        ),
        (b'{"choices":"all"}', "malformed stream event: choices is a string, not an array"),
        (b'{"choices":[7]}', "malformed stream event: choices[0] is not an object"),
        (
            b'{"choices":[{"index":0,"delta":{"tool_calls":[1]}}]}',
            "malformed stream event: a tool call piece is not an object",
        ),
        (b"[1]", "malformed stream event: not a JSON object"),
        (b"{nope", "malformed JSON in stream event: "),
    ],
)
def test_a_wrong_shaped_openai_event_is_a_protocol_error_that_says_what(
    data: bytes, message: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        OpenAIDecoder().decode(SSEEvent("message", data, None))
    assert str(info.value).startswith(message)


def test_openai_whole_reply_gives_the_events_a_stream_would() -> None:
    reply = {
        "id": "chatcmpl-9",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "reasoning_content": "think",
                    "content": "Hi",
                    "tool_calls": [
                        {"id": "call_a", "function": {"name": "f", "arguments": '{"x": 1}'}},
                        {"type": "function", "function": {"name": "g"}},
                        {"id": "call_c", "function": {"name": "h", "arguments": "{oops"}},
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4},
    }
    events = OpenAIProtocol().reply_events(reply)
    assert events[:5] == [
        MessageStart("chatcmpl-9", "m"),
        ReasoningDelta("think"),
        TextDelta("Hi"),
        ToolCall("call_a", "f", {"x": 1}),
        ToolCall("call_1", "g", {}),
    ]
    bad = events[5]
    assert isinstance(bad, ToolCall) and (bad.id, bad.name, bad.arguments) == (
        "call_c",
        "h",
        "{oops",
    )
    assert bad.arguments_error is not None and "invalid JSON" in bad.arguments_error
    assert events[6:] == [Finish("tool_calls"), Usage(9, 4)]
    some_gateways = {"choices": [{"message": {"reasoning": "r"}}]}
    assert OpenAIProtocol().reply_events(some_gateways) == [
        MessageStart(None, None),
        ReasoningDelta("r"),
    ]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"object": "list"}, "expected an event stream or a whole chat completion"),
        ({"choices": []}, "expected an event stream or a whole chat completion"),
        ({"choices": ["x"]}, "expected an event stream or a whole chat completion"),
        ({"choices": [{"delta": {}}]}, "expected an event stream or a whole chat completion"),
        ({"choices": "x"}, "malformed reply: choices is a string, not an array"),
        (
            {"choices": [{"message": {"tool_calls": [1]}}]},
            "malformed reply: a tool call is not an object",
        ),
    ],
)
def test_an_openai_body_that_is_not_a_reply_is_a_protocol_error(
    reply: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        OpenAIProtocol().reply_events(reply)


def test_openai_request_body() -> None:
    question = [{"role": "user", "content": "q"}]
    plain = OpenAIProtocol().build_body(ChatRequest(model="m", messages=question))
    assert plain == {
        "model": "m",
        "messages": question,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    tool = ToolSpec("t", None, {"type": "object"})
    for choice in ("auto", "none", "required"):
        request = ChatRequest(
            model="m",
            messages=question,
            max_tokens=100,
            temperature=0.0,
            tools=(tool,),
            tool_choice=choice,
            options={"top_p": 0.5},
        )
        assert OpenAIProtocol().build_body(request) == {
            **plain,
            "max_tokens": 100,
            "temperature": 0.0,
            "tools": [
                {"type": "function", "function": {"name": "t", "parameters": tool.parameters}}
            ],
            "tool_choice": choice,
            "top_p": 0.5,
        }


def test_openai_raw_events_rewritten_for_a_continuation() -> None:
    """--format raw after a continuation: an event carries only the new text, and is
    dropped when nothing is left of it but the text."""
    p = OpenAIProtocol()

    def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
        return orjson.dumps(
            {"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": reason}]}
        )

    def rewritten(data: bytes, text: str) -> Any:
        new = p.retext(data, text)
        return None if new is None else orjson.loads(new)

    assert rewritten(chunk({"content": "Hello"}), "llo") == orjson.loads(chunk({"content": "llo"}))
    assert rewritten(chunk({"content": "Hi"}), "") is None
    assert rewritten(chunk({"content": "Hi"}, "stop"), "") == orjson.loads(
        chunk({"content": ""}, "stop")
    )
    with_role = {"role": "assistant", "content": "Hi"}
    assert rewritten(chunk(with_role), "") == orjson.loads(chunk({**with_role, "content": ""}))


# -- Anthropic -----------------------------------------------------------------------


def anthropic_events(objects: list[dict[str, Any]], named: bool) -> list[SSEEvent]:
    return [SSEEvent(o["type"] if named else "message", orjson.dumps(o), None) for o in objects]


@pytest.mark.parametrize("named", [True, False], ids=["event-names", "data-only"])
def test_anthropic_stream_with_content_in_block_starts_and_late_usage(named: bool) -> None:
    """Also decoded the same when a gateway sends no SSE event names."""
    stream: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude",
                "usage": {"input_tokens": 12, "output_tokens": 1},
            },
        },
        {"type": "ping"},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hmm"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "c2"},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "text", "text": "Hel"},
        },
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "thinking", "thinking": "aside"},
        },
        {"type": "content_block_stop", "index": 2},
        {"type": "content_block_start", "index": 3, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_stop", "index": 3},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 12, "output_tokens": 20},
        },
    ]
    dec = AnthropicDecoder()
    out = [e for event in anthropic_events(stream, named) for e in dec.decode(event)]
    assert not dec.terminated
    out += dec.decode(anthropic_events([{"type": "message_stop"}], named)[0])
    assert dec.terminated
    assert out == [
        MessageStart("msg_1", "claude"),
        Usage(12, 1),
        ReasoningDelta("hmm"),
        ReasoningBlock("thinking", "hmm", "c2"),  # signed: kept to send back
        TextDelta("Hel"),
        TextDelta("lo"),
        ReasoningDelta("aside"),
        Usage(12, 20),
        Finish("end_turn"),
    ]


def test_anthropic_tool_calls_at_block_zero_given_whole_or_invalid() -> None:
    def start(index: int, tid: str, name: str, given: dict[str, Any]) -> dict[str, Any]:
        block = {"type": "tool_use", "id": tid, "name": name, "input": given}
        return {"type": "content_block_start", "index": index, "content_block": block}

    def piece(index: int, partial: str) -> dict[str, Any]:
        delta = {"type": "input_json_delta", "partial_json": partial}
        return {"type": "content_block_delta", "index": index, "delta": delta}

    stream = [
        start(0, "tu_1", "lookup", {}),  # a reply that is only a tool call starts at block 0
        piece(0, '{"q": '),
        piece(0, '"x"}'),
        {"type": "content_block_stop", "index": 0},
        start(1, "tu_2", "now", {"tz": "UTC"}),  # the whole input up front, no deltas
        {"type": "content_block_stop", "index": 1},
        start(2, "tu_3", "bad", {}),
        piece(2, '{"a": '),
        {"type": "content_block_stop", "index": 2},
    ]
    dec = AnthropicDecoder()
    out = [e for event in anthropic_events(stream, True) for e in dec.decode(event)]
    assert out[:2] == [
        ToolCall("tu_1", "lookup", {"q": "x"}),
        ToolCall("tu_2", "now", {"tz": "UTC"}),
    ]
    bad = out[2]
    assert isinstance(bad, ToolCall) and (bad.id, bad.arguments) == ("tu_3", '{"a": ')
    assert bad.arguments_error is not None and "invalid JSON" in bad.arguments_error
    assert len(out) == 3


def test_anthropic_error_events_keep_their_kind_and_message() -> None:
    limited = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'
    with pytest.raises(RateLimited, match="server error in stream: slow down"):
        AnthropicDecoder().decode(SSEEvent("error", limited, None))
    with pytest.raises(ProtocolError, match="malformed JSON in stream event"):
        AnthropicDecoder().decode(SSEEvent("message_start", b"{nope", None))


def test_anthropic_whole_reply_gives_the_events_a_stream_would() -> None:
    reply = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "thinking", "thinking": ""},
            {"type": "text", "text": "Hi"},
            {"type": "text", "text": ""},
            {"type": "tool_use", "id": "tu_1", "name": "f", "input": {"x": 1}},
            {"type": "tool_use", "id": "tu_2", "name": "g"},
            {"type": "redacted_thinking", "data": "..."},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 3},
    }
    assert AnthropicProtocol().reply_events(reply) == [
        MessageStart("msg_1", "claude"),
        ReasoningDelta("hmm"),
        ReasoningBlock("thinking", "hmm", "s"),
        TextDelta("Hi"),
        ToolCall("tu_1", "f", {"x": 1}),
        ToolCall("tu_2", "g", {}),
        ReasoningBlock("redacted_thinking", "..."),
        Usage(10, 3),
        Finish("tool_use"),
    ]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"type": "error", "content": []}, "expected an event stream or a whole message"),
        ({"type": "message"}, "expected an event stream or a whole message"),
        ({"content": []}, "expected an event stream or a whole message"),
        ({"type": "message", "content": "x"}, "malformed reply: content is a string, not an array"),
        ({"type": "message", "content": [1]}, "malformed reply: a content block is not an object"),
    ],
)
def test_an_anthropic_body_that_is_not_a_reply_is_a_protocol_error(
    reply: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProtocolError, match=re.escape(message)):
        AnthropicProtocol().reply_events(reply)


def test_anthropic_request_body() -> None:
    question = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "q"}]
    tool = ToolSpec("t", "does t", {"type": "object"})
    request = ChatRequest(
        model="m",
        messages=question,
        max_tokens=50,
        temperature=0.0,
        tools=(tool,),
        options={"top_k": 5},
        prefill="Once",
    )
    assert AnthropicProtocol().build_body(request) == {
        "model": "m",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "Once"}],
        "stream": True,
        "system": "be brief",
        "temperature": 0.0,
        "tools": [{"name": "t", "description": "does t", "input_schema": {"type": "object"}}],
        "top_k": 5,
    }
    plain = ChatRequest(model="m", messages=question[1:])
    assert AnthropicProtocol().build_body(plain) == {
        "model": "m",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "q"}],
        "stream": True,
    }


def test_anthropic_conversion_of_parts_images_and_roles() -> None:
    png = "data:image/png;base64,iVBORw0KGgo="
    svg = "data:image/svg+xml,<svg/>"  # a data URL, but not base64: sent as a URL
    document = {"type": "document", "source": {"type": "text", "data": "hi"}}
    system, out = convert_messages(
        [
            {"role": "system", "content": "one"},
            {
                "role": "developer",
                "content": [
                    {"type": "text", "text": "two"},
                    {"type": "image_url", "image_url": {"url": png}},
                    {"type": "text", "text": "!"},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": png}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                    {"type": "image_url", "image_url": {"url": svg}},
                    document,  # already an Anthropic block: passed through
                ],
            },
            {
                "role": "assistant",
                "content": "Let me look.",
                "tool_calls": [
                    {"id": "c1", "function": {"name": "zoom", "arguments": ""}},
                    {"id": "c2", "function": {"name": "crop", "arguments": {"x": 1}}},
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "c1",
                "content": [{"type": "text", "text": "a "}, {"type": "text", "text": "cat"}],
            },
            {"role": "tool", "tool_call_id": "c2", "content": None},
            {"role": "user", "content": ""},  # no empty text block, which the API refuses
        ]
    )
    assert system == "one\n\ntwo!"
    assert out == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
                {"type": "image", "source": {"type": "url", "url": svg}},
                document,
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "c1", "name": "zoom", "input": {}},
                {"type": "tool_use", "id": "c2", "name": "crop", "input": {"x": 1}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "a cat"},
                {"type": "tool_result", "tool_use_id": "c2", "content": ""},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"role": "system", "content": 5}, "message content must be a string or a list of parts"),
        ({"role": "user", "content": 5}, "message content must be a string or a list of parts"),
        ({"role": "user", "content": ["hi"]}, "message content parts must be objects"),
        ({"role": "robot", "content": "hi"}, "unknown message role 'robot'"),
        (
            {"role": "assistant", "tool_calls": [{"id": "c9", "function": {"arguments": "{"}}]},
            "tool call 'c9' in --messages has invalid JSON arguments",
        ),
    ],
)
def test_anthropic_conversion_refuses_what_it_cannot_send(
    message: dict[str, Any], error: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(error)):
        convert_messages([message])


def test_anthropic_raw_events_rewritten_for_a_continuation() -> None:
    p = AnthropicProtocol()
    start = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": "Hello"},
    }
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": " world"},
    }

    def rewritten(obj: dict[str, Any], text: str) -> Any:
        new = p.retext(orjson.dumps(obj), text)
        return None if new is None else orjson.loads(new)

    for text in ("llo", ""):  # the block itself must stay, even with no text left
        assert rewritten(start, text) == {**start, "content_block": {"type": "text", "text": text}}
    assert rewritten(delta, "ld") == {**delta, "delta": {"type": "text_delta", "text": "ld"}}
    assert rewritten(delta, "") is None


# -- both protocols --------------------------------------------------------------------


def test_headers_carry_the_key_the_way_each_api_wants() -> None:
    def lower(headers: dict[str, str]) -> dict[str, str]:
        return {k.lower(): v for k, v in headers.items()}  # HTTP header names ignore case

    assert lower(OpenAIProtocol().headers("sk-1")) == {"authorization": "Bearer sk-1"}
    assert lower(AnthropicProtocol().headers("sk-1")) == {
        "x-api-key": "sk-1",
        "anthropic-version": "2023-06-01",
    }


@pytest.mark.parametrize(
    ("protocol", "field", "option"),
    [
        (OpenAIProtocol(), "model", "-m/--model"),
        (OpenAIProtocol(), "stream_options", "nothing: mint asks for usage"),
        (AnthropicProtocol(), "system", "-s/--system"),
    ],
)
def test_o_may_add_body_fields_but_not_replace_the_ones_mint_writes(
    protocol: OpenAIProtocol | AnthropicProtocol, field: str, option: str
) -> None:
    protocol.check_options({"top_p": 0.9})
    with pytest.raises(
        UsageError, match=re.escape(f"-o {field}: mint writes this field itself; use {option}")
    ):
        protocol.check_options({"top_p": 0.9, field: 1})


@pytest.mark.parametrize(
    ("body", "message", "kind"),
    [
        ({"error": {"message": "busy", "type": "overloaded_error"}}, "busy", "overloaded_error"),
        (
            {"error": {"message": "slow", "code": "rate_limit_exceeded"}},
            "slow",
            "rate_limit_exceeded",
        ),
        ({"error": {"message": ""}, "message": "outer"}, "outer", None),
        ({"error": {"message": 5}}, None, None),
        ({"error": "plain text"}, "plain text", None),
        ({"message": "top level"}, "top level", None),
        ({"detail": "from detail"}, "from detail", None),
        ({"message": ""}, None, None),
        ({"message": 5}, None, None),
        (["not", "an", "object"], None, None),
    ],
)
def test_error_bodies_give_their_message_and_kind(
    body: Any, message: str | None, kind: str | None
) -> None:
    assert error_message(body) == message
    assert error_kind(body) == kind


def test_model_lists_keep_the_entries_with_an_id() -> None:
    body = {"object": "list", "data": [{"id": "a"}, {"name": "no id"}, "junk", {"id": "b", "x": 1}]}
    assert parse_model_list(body) == [{"id": "a"}, {"id": "b", "x": 1}]
    bad_bodies: tuple[Any, ...] = ({"models": []}, [], {"data": {}})
    for bad in bad_bodies:
        with pytest.raises(ProtocolError, match="unexpected /models response: no 'data' list"):
            parse_model_list(bad)


# -- the accumulator -------------------------------------------------------------------


def fields(reply: Reply) -> tuple[Any, ...]:
    """A reply's fields (Reply puts its text together only when asked, so it has no ==)."""
    return (
        reply.text,
        reply.reasoning,
        reply.tool_calls,
        reply.finish_reason,
        reply.usage,
        reply.model,
    )


def test_accumulator_folds_two_attempts_into_one_reply() -> None:
    acc = Accumulator()
    assert not acc.received
    assert fields(acc.reply()) == ("", None, (), None, None, None)
    first: tuple[Event, ...] = (
        MessageStart("m1", "model-a"),
        ReasoningDelta("think"),
        TextDelta("H"),
        Usage(10, 1),
        Usage(None, 5),  # within one response the latest figure wins
    )
    for event in first:
        acc.add(event)
    assert acc.end_attempt() == {"input_tokens": 10, "output_tokens": 5}
    call = ToolCall("c", "f", {})
    for event in (
        MessageStart("m2", None),
        TextDelta("i"),
        call,
        Usage(12, 7),
        Finish("tool_calls"),
    ):
        acc.add(event)
    assert fields(acc.reply()) == (
        "Hi",
        "think",
        (call,),
        "tool_calls",
        {"input_tokens": 22, "output_tokens": 12},  # summed over the attempts
        "model-a",
    )
    one = Accumulator()
    one.add(TextDelta("H"))
    assert one.received  # a single character is something to continue from


@pytest.mark.parametrize(
    ("usage", "reported"),
    [
        (Usage(None, 20), {"input_tokens": None, "output_tokens": 20}),
        (Usage(7, None), {"input_tokens": 7, "output_tokens": None}),
    ],
)
def test_usage_is_reported_when_only_one_count_is(usage: Usage, reported: dict[str, Any]) -> None:
    acc = Accumulator()
    acc.add(usage)
    assert acc.reply().usage == reported


def test_text_buffer_read_between_appends_gives_back_exact_text() -> None:
    buf = TextBuffer()
    pieces = [f"{i}春 " for i in range(5000)]  # several joined chunks, not enough to spill
    for piece in pieces[:3000]:
        buf.append(piece)
    assert buf.getvalue() == "".join(pieces[:3000])
    for piece in pieces[3000:]:
        buf.append(piece)
    assert buf.getvalue() == "".join(pieces)
    assert buf.getvalue() == "".join(pieces)


# -- continuation ----------------------------------------------------------------------

QUESTION = ChatRequest(model="m", messages=[{"role": "user", "content": "q"}])


def test_a_numbered_stream_goes_on_from_its_last_event_id() -> None:
    acc = Accumulator()
    acc.add(TextDelta("Hello  \n"))
    plan = plan_next(QUESTION, acc, "42")
    assert (plan.how, plan.request, plan.last_event_id, plan.filter) == (
        "last-event-id",
        QUESTION,
        "42",
        None,
    )
    assert plan.resumes and plan.goes_on


def test_text_received_is_continued_with_a_prefill_without_its_trailing_whitespace() -> None:
    call = ToolCall("a", "w", {"c": 1})
    acc = Accumulator()
    acc.add(TextDelta("Hello  \n"))
    acc.add(call)
    # No event ids, or a server known to ignore Last-Event-ID.
    for plan in (
        plan_next(QUESTION, acc, None),
        plan_next(QUESTION, acc, "42", allow_last_event_id=False),
    ):
        assert (plan.how, plan.request, plan.last_event_id) == (
            "prefill",
            QUESTION.with_prefill("Hello"),
            None,
        )
        assert plan.resumes and not plan.goes_on
        expected = plan.filter
        assert expected is not None
        assert expected.keep(TextDelta("  ")) is None  # a piece wholly repeated is dropped
        assert expected.keep(TextDelta("\nworld")) == TextDelta("world")
        assert expected.keep(ToolCall("b", "w", {"c": 1})) is None
        assert expected.done


def test_a_restart_drops_what_the_new_reply_repeats() -> None:
    call = ToolCall("a", "w", {"c": 1})
    acc = Accumulator()
    for event in (ReasoningDelta("hmm"), TextDelta("\n"), call):
        acc.add(event)
    plan = plan_next(QUESTION, acc, None)
    assert (plan.how, plan.request, plan.last_event_id) == ("restart", QUESTION, None)
    assert not plan.resumes and not plan.goes_on
    expected = plan.filter
    assert expected is not None
    assert expected.keep(ReasoningDelta("hmm")) is None
    assert expected.keep(TextDelta("\n")) is None
    assert expected.keep(ToolCall("new-id", "w", {"c": 1})) is None
    assert expected.done
    nothing = plan_next(QUESTION, Accumulator(), None)
    assert (nothing.how, nothing.request, nothing.filter) == ("restart", QUESTION, None)
