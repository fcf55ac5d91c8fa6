"""Pure units: SSE framing, protocol decoders, retry policy, continuation filter, config."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mintcli.base.events import Finish, MessageStart, ReasoningDelta, TextDelta, ToolCall, Usage
from mintcli.errors import ConfigError, MintError, NetworkError, ProtocolError, RateLimited
from mintcli.protocols.anthropic import AnthropicDecoder, AnthropicProtocol, convert_messages
from mintcli.protocols.fastpath import TextTemplate
from mintcli.protocols.openai import OpenAIDecoder, OpenAIProtocol
from mintcli.request.model import ChatRequest, ToolSpec
from mintcli.run.continuation import Filter
from mintcli.run.retry import RetryPolicy
from mintcli.wire.sse import SSEDecoder, SSEEvent

DATA = Path(__file__).parent / "data"


def frames(raw: bytes, step: int) -> list[SSEEvent]:
    dec = SSEDecoder()
    out: list[SSEEvent] = []
    for i in range(0, len(raw), step):
        out.extend(dec.feed(raw[i : i + step]))
    out.extend(dec.flush())
    return out


# -- SSE ---------------------------------------------------------------------


def reference_sse(raw: bytes) -> tuple[list[SSEEvent], str | None]:
    """The spec's algorithm, written as plainly as possible, on the whole input."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    lines = text.split(b"\n")
    lines.pop()  # the part after the last line end is not a line
    out: list[SSEEvent] = []
    data: list[bytes] | None = None
    event, last_id = "", None
    for line in lines:
        if not line:
            if data is not None:
                out.append(SSEEvent(event or "message", b"\n".join(data), last_id))
            data, event = None, ""
            continue
        if line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data = (data or []) + [value]
        elif name == b"event":
            event = value.decode("utf-8", "replace")
        elif name == b"id" and b"\0" not in value:
            last_id = value.decode("utf-8", "replace")
    return out, last_id


def random_stream(rng: random.Random) -> bytes:
    parts = [b"\xef\xbb\xbf"] if rng.random() < 0.2 else []
    for _ in range(rng.randint(0, 12)):
        for _ in range(rng.randint(0, 4)):
            parts.append(
                rng.choice(
                    [
                        b'data: {"a": 1}',
                        b"data:x",
                        b"data:  two spaces",
                        b"data",
                        b"data: ",
                        b"event: content_block_delta",
                        b"event:",
                        b"event: ",
                        b"id: 7",
                        b"id",
                        b"id: a\0b",
                        b"retry: 10",
                        b": keep-alive",
                        b"unknown: field",
                        b"data: \xe6\x98\xa5",
                    ]
                )
            )
            parts.append(rng.choice([b"\n", b"\r\n", b"\r"]))
        parts.append(rng.choice([b"\n", b"\r\n", b"\r", b"\n\n", b""]))
    return b"".join(parts)


def test_sse_matches_the_reference_parser_for_any_input_and_any_reads() -> None:
    rng = random.Random(1234)
    for _ in range(3000):
        raw = random_stream(rng)
        cuts = sorted(rng.sample(range(len(raw) + 1), min(len(raw) + 1, rng.randint(0, 6))))
        dec = SSEDecoder()
        got: list[SSEEvent] = []
        last = 0
        for cut in [*cuts, len(raw)]:
            got.extend(dec.feed(raw[last:cut]))
            last = cut
        got.extend(dec.flush())
        want, want_id = reference_sse(raw)
        assert got == want, raw
        assert dec.last_event_id == want_id, raw


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000])
def test_sse_line_endings_fields_and_comments(step: int) -> None:
    raw = (
        b"\xef\xbb\xbf: comment\r\n"
        b"event: first\r\nid: 1\r\ndata: a\r\ndata:  b\r\n\r\n"
        b"data:c\rretry: 1500\r\r"
        b"id\nevent: e\ndata\n\n"
        b"field-without-colon\nid: bad\0id\ndata: d\n\n"
        b"data: unterminated"
    )
    got = frames(raw, step)
    assert got == [
        SSEEvent("first", b"a\n b", "1"),
        SSEEvent("message", b"c", "1"),
        SSEEvent("e", b"", ""),
        SSEEvent("message", b"d", ""),
    ]


def test_sse_retry_field_and_blank_events() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"retry: 2500\n\nevent: x\n\n") == []  # no data: nothing dispatched
    assert dec.feed(b"retry: 12a\ndata: y\n\n") == [SSEEvent("message", b"y", None)]


def test_sse_crlf_split_across_reads_is_one_line_end() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"data: x\r") == []
    assert dec.feed(b"\n\r") == []
    assert dec.feed(b"\n") == [SSEEvent("message", b"x", None)]


def test_sse_utf8_split_inside_a_character() -> None:
    text = "data: 床前明月光🌙\n\n".encode()
    assert frames(text, 1) == [SSEEvent("message", "床前明月光🌙".encode(), None)]


# -- OpenAI --------------------------------------------------------------------


def decode_all(decoder: OpenAIDecoder | AnthropicDecoder, name: str) -> list[object]:
    out: list[object] = []
    for f in frames((DATA / name).read_bytes(), 13):
        out.extend(decoder.decode(f))
    return out


def test_openai_decoder_tools_interleaved_and_reasoning() -> None:
    dec = OpenAIDecoder()
    events = decode_all(dec, "openai_tools.sse")
    assert dec.terminated
    assert events[0] == MessageStart("chatcmpl-rec1", "openai/gpt-4o")
    assert [e for e in events if isinstance(e, ReasoningDelta)] == [
        ReasoningDelta("用户问天气,"),
        ReasoningDelta("调用工具。"),
    ]
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("我来查一下。")]
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls == [
        ToolCall("call_a", "get_weather", {"location": "北京"}),
        ToolCall("call_b", "get_time", {"tz": "Asia/Shanghai"}),
    ]
    assert events[-1] == Finish("tool_calls")


def test_openai_usage_chunk_and_empty_deltas() -> None:
    dec = OpenAIDecoder()
    events = decode_all(dec, "openai_poem.sse")
    assert Usage(9, 6) in events
    assert Finish("stop") in events
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).endswith("🌙")


def test_openai_invalid_arguments_kept_raw() -> None:
    dec = OpenAIDecoder()
    chunks = [
        b'{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":"{\\"a\\": "}}]}}]}',
        b'{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}',
    ]
    out = [e for c in chunks for e in dec.decode(SSEEvent("message", c, None))]
    call = out[0]
    assert isinstance(call, ToolCall)
    assert call.arguments == '{"a": '
    assert call.arguments_error is not None and "invalid JSON" in call.arguments_error


def decode_with_and_without_template(
    make: type[OpenAIDecoder] | type[AnthropicDecoder], events: list[SSEEvent]
) -> tuple[list[object], list[object], bool]:
    fast, slow = make(), make()
    slow._template = TextTemplate(tries=0)  # the full parse for every event
    got: list[object] = []
    want: list[object] = []
    for event in events:
        for dec, out in ((fast, got), (slow, want)):
            try:
                out.extend(dec.decode(event))
            except (ProtocolError, MintError) as exc:
                out.append(type(exc).__name__)
    return got, want, fast._template._pre is not None


def test_openai_text_template_is_exact() -> None:
    pre = b'{"id":"c1","object":"chat.completion.chunk","model":"hi","choices":[{"index":0,"delta":{"content":'
    post = b'},"logprobs":null,"finish_reason":null}]}'
    middles = [
        b'"hi"',  # ambiguous: the model is "hi" too, so nothing is learned from it
        b'"\\u0068\\u0069"',  # "hi" again, escaped differently
        b'"hello"',  # the template is learned here
        b'"\\u6625 and \\"quotes\\" \\ud83c\\udf38"',
        b'""',
        b'"a","role":"assistant"',  # valid JSON, a different shape: full path
        b'"a"},"usage":{"prompt_tokens":1,"completion_tokens":2},"x":{"y":"z"',
        b"null",
        b"42",
        b'"x" ',
        b'"unterminated',
    ]
    events = [SSEEvent("message", pre + m + post, None) for m in middles]
    events.insert(
        4, SSEEvent("message", b'{"choices":[{"index":0,"delta":{"content":"other shape"}}]}', None)
    )
    events.append(SSEEvent("error", pre + b'"as error"' + post, None))
    events.append(SSEEvent("message", pre.replace(b'"c1"', b'"c2"') + b'"new id"' + post, None))
    got, want, learned = decode_with_and_without_template(OpenAIDecoder, events)
    assert learned
    assert got == want
    assert TextDelta('春 and "quotes" 🌸') in got


def test_openai_template_refuses_a_cut_in_the_wrong_place() -> None:
    # The text "m" is sent escaped, so the one plain "m" in the event is the model.
    data = b'{"model":"m","choices":[{"index":0,"delta":{"content":"\\u006d"}}]}'
    dec = OpenAIDecoder()
    assert dec.decode(SSEEvent("message", data, None)) == [TextDelta("m")]
    assert dec._template._pre is None
    other = b'{"model":"n","choices":[{"index":0,"delta":{"content":"\\u006d"}}]}'
    assert dec.decode(SSEEvent("message", other, None)) == [TextDelta("m")]


def test_anthropic_text_template_is_exact() -> None:
    pre = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
    middles = [b'"one"', b'"two \\u00e9"', b'""', b'"x","extra":1', b"7", b'"3"']
    events = [SSEEvent("content_block_delta", pre + m + b"}}", None) for m in middles]
    events.append(
        SSEEvent("content_block_delta", pre.replace(b'index":0', b'index":1') + b'"i1"}}', None)
    )
    events.append(
        SSEEvent(
            "content_block_delta", pre.replace(b"text_delta", b"thinking_delta") + b'"t"}}', None
        )
    )
    got, want, learned = decode_with_and_without_template(AnthropicDecoder, events)
    assert learned
    assert got == want
    assert got[:2] == [TextDelta("one"), TextDelta("two é")]


def test_anthropic_template_is_not_learned_from_an_event_named_only_by_sse() -> None:
    # Without a "type" in the JSON the SSE event name decides what the event is,
    # and the fast path never looks at it: such events must take the full path.
    data = b'{"delta":{"type":"text_delta","text":"%s"}}'
    events = [
        SSEEvent("content_block_delta", data % b"hi", None),
        SSEEvent("error", data % b"boom", None),
        SSEEvent("message_stop", data % b"x", None),
    ]
    got, want, learned = decode_with_and_without_template(AnthropicDecoder, events)
    assert not learned
    assert got == want == [TextDelta("hi"), "ServerError"]


def test_openai_stream_errors() -> None:
    dec = OpenAIDecoder()
    with pytest.raises(ProtocolError):
        dec.decode(SSEEvent("message", b"{nope", None))
    with pytest.raises(MintError) as info:
        dec.decode(
            SSEEvent("message", b'{"error":{"message":"busy","type":"rate_limit_exceeded"}}', None)
        )
    assert int(info.value.exit_code) == 6 and info.value.retryable
    with pytest.raises(MintError) as info:
        dec.decode(
            SSEEvent("message", b'{"error":{"message":"no","type":"invalid_request_error"}}', None)
        )
    assert int(info.value.exit_code) == 4 and not info.value.retryable


def test_openai_body_tools_and_choice() -> None:
    tool = ToolSpec("get_weather", "天气", {"type": "object", "properties": {}})
    req = ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "q"}],
        tools=(tool,),
        tool_choice="get_weather",
    )
    body = OpenAIProtocol().build_body(req.with_prefill("partial"))
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "天气",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["messages"][-1] == {"role": "assistant", "content": "partial"}


# -- Anthropic -----------------------------------------------------------------


def test_anthropic_decoder_tools_with_empty_input() -> None:
    dec = AnthropicDecoder()
    events = decode_all(dec, "anthropic_tools.sse")
    assert dec.terminated
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert calls == [
        ToolCall("toolu_a", "get_weather", {"location": "北京"}),
        ToolCall("toolu_b", "get_time", {}),
    ]
    assert events[-1] == Finish("tool_use")
    usages = [e for e in events if isinstance(e, Usage)]
    assert usages == [Usage(30, 1), Usage(None, 20)]


def test_anthropic_error_event() -> None:
    dec = AnthropicDecoder()
    raw = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    with pytest.raises(MintError) as info:
        dec.decode(SSEEvent("error", raw, None))
    assert int(info.value.exit_code) == 5 and info.value.retryable


def test_anthropic_message_conversion() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "w", "arguments": '{"city":"北京"}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "t", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "晴"},
        {"role": "tool", "tool_call_id": "c2", "content": "noon"},
    ]
    system, out = convert_messages(messages)
    assert system == "sys"
    assert out == [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "c1", "name": "w", "input": {"city": "北京"}},
                {"type": "tool_use", "id": "c2", "name": "t", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "晴"},
                {"type": "tool_result", "tool_use_id": "c2", "content": "noon"},
            ],
        },
    ]


def test_anthropic_body_defaults_and_tool_choice() -> None:
    tool = ToolSpec("w", None, {"type": "object"})
    for choice, wire in [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ("w", {"type": "tool", "name": "w"}),
    ]:
        req = ChatRequest(
            model="m",
            messages=[{"role": "user", "content": "q"}],
            tools=(tool,),
            tool_choice=choice,
        )
        body = AnthropicProtocol().build_body(req)
        assert body["tool_choice"] == wire
        assert body["max_tokens"] == 4096
        assert body["tools"] == [{"name": "w", "input_schema": {"type": "object"}}]


# -- retry and continuation ----------------------------------------------------


def test_backoff_grows_with_jitter_and_cap() -> None:
    policy = RetryPolicy(max_retries=5, base=1.0, cap=5.0)
    rng = random.Random(7)
    err = NetworkError("x")
    delays = [policy.delay(err, n, rng) for n in range(5)]
    for n, d in enumerate(delays):
        full = min(5.0, 2.0**n)
        assert d is not None and full / 2 <= d <= full
    assert policy.delay(RateLimited("x", retry_after=3.0), 0) == 3.0
    assert policy.delay(err, 4) is not None and policy.delay(err, 5) is None
    assert RetryPolicy(max_retries=0, base=1, cap=1).delay(err, 0) is None
    assert policy.delay(ConfigError("not retryable"), 0) is None


def test_retry_after_longer_than_the_cap_is_not_retried_early() -> None:
    policy = RetryPolicy(max_retries=5, base=1.0, cap=60.0)
    quota = RateLimited("HTTP 429 Too Many Requests", retry_after=3600.0)
    assert policy.delay(quota, 0) is None
    assert "asked to wait 3600s" in quota.message and "--retry-max 60s" in quota.message


def _texts(f: Filter, *pieces: str) -> list[str]:
    out = []
    for piece in pieces:
        kept = f.keep(TextDelta(piece))
        out.append(kept.text if isinstance(kept, TextDelta) else "")
    return out


def test_continuation_filter_drops_repeated_whitespace_only() -> None:
    assert _texts(Filter(text="\n"), "\n疑是", "\n") == ["疑是", "\n"]
    assert _texts(Filter(text="\n\n"), "\n", "\nA") == ["", "A"]
    # the model did not repeat it: nothing dropped
    assert _texts(Filter(text=" "), "x") == ["x"]


def test_continuation_filter_tool_calls_and_reasoning() -> None:
    done = [ToolCall("a", "w", {"c": 1})]
    f = Filter(reasoning="thinking", calls=done)
    assert f.keep(ReasoningDelta("think")) is None
    assert f.keep(ReasoningDelta("ing more")) == ReasoningDelta(" more")
    assert f.keep(ToolCall("other-id", "w", {"c": 1})) is None
    assert f.keep(ToolCall("b", "t", {})) == ToolCall("b", "t", {})
    assert f.done


# -- config ----------------------------------------------------------------------


def test_config_precedence(tmp_path: Path) -> None:
    from mintcli.options.config import resolve
    from mintcli.options.settings import ChatSettings

    def load(given: dict[str, object], environ: dict[str, str]) -> ChatSettings:
        return resolve(ChatSettings, given, environ=environ)

    cfg = tmp_path / "mint" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text(
        'model = "cfg/model"\nprotocol = "anthropic"\nmax_retries = 2\n'
        '[profiles.fast]\nmodel = "profile/model"\nidle_timeout = 5\n'
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    s = load({}, env)
    assert (s.model, s.protocol, s.max_retries) == ("cfg/model", "anthropic", 2)
    assert s.source("model") == str(cfg) and s.source("base_url") == "the default"
    s = load({"profile": "fast"}, env)
    assert (s.model, s.idle_timeout) == ("profile/model", 5)
    assert s.source("model") == f"{cfg} [profiles.fast]"
    s = load({}, {**env, "MINT_PROFILE": "fast", "MINT_MODEL": "env/model"})
    assert (s.model, s.idle_timeout) == ("env/model", 5)
    s = load({"model": "flag/model"}, {**env, "MINT_MODEL": "env/model"})
    assert s.model == "flag/model" and s.source("model") == "--model" and s.given("model")
    s = load({}, {})
    assert (s.model, s.protocol, s.base_url) == (
        "openai/gpt-4o",
        "openai",
        "https://api.mint-cloud.ai/v1",
    )
    with pytest.raises(ConfigError, match="no profile"):
        load({"profile": "nope"}, env)
    cfg.write_text("modle = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'modle'"):
        load({}, env)
    cfg.write_text("max_retries = 'five'\n")
    with pytest.raises(ConfigError, match="max_retries must be an integer, not a string"):
        load({}, env)
    cfg.write_text("this is = not toml [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load({}, env)
    with pytest.raises(ConfigError, match="MINT_MAX_RETRIES"):
        load({}, {"MINT_MAX_RETRIES": "lots"})
    with pytest.raises(ConfigError, match="protocol must be one of"):
        load({}, {"MINT_PROTOCOL": "grpc"})


def test_text_buffer_spills_to_disk_and_gives_back_exact_text() -> None:
    from mintcli.output.accumulate import TextBuffer

    class Small(TextBuffer):
        __slots__ = ()
        COMPACT_AT = 3
        SPILL_AT = 10

    pieces = ["春眠", "不觉晓", "🌸", "a\n", "", "\ud800x", "end"] * 20
    buf = Small("前言")
    for p in pieces[:50]:
        buf.append(p)
    assert buf._spool is not None  # it did spill
    expected = "前言" + "".join(pieces[:50])
    assert buf.getvalue() == expected
    for p in pieces[50:]:
        buf.append(p)
    expected = "前言" + "".join(pieces)
    assert buf.getvalue() == expected
    assert buf.getvalue() == expected  # reading does not consume
    assert len(buf) == len(expected)


def test_tls_certificates_are_loaded_only_when_tls_can_happen() -> None:
    import ssl

    from mintcli.wire.network import Route, Trust, route, tls_context

    local = "http://127.0.0.1:8787/v1"
    assert tls_context("https://api.mint-cloud.ai/v1", Route(), Trust()) is True
    assert tls_context(local, Route("http://proxy:3128", "HTTP_PROXY"), Trust()) is True
    ctx = tls_context(local, Route(), Trust())
    assert isinstance(ctx, ssl.SSLContext)
    # It trusts nothing: if TLS ever came up it would fail, never pass unverified.
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 0
    # The proxy is the one the environment gives for this URL's scheme.
    assert route(local, {"HTTPS_PROXY": "http://p:1"}) == Route()
    assert route(local, {"http_proxy": "p:3128"}) == Route("http://p:3128", "http_proxy")
    assert route(local, {"ALL_PROXY": "socks5://p"}) == Route("socks5://p", "ALL_PROXY")
    assert route(local, {"ALL_PROXY": "socks5://p", "NO_PROXY": "127.0.0.1"}) == Route()


def test_no_proxy_rules() -> None:
    from mintcli.wire.network import Route, route

    proxied = {"HTTPS_PROXY": "http://p:1"}
    cases = {
        "https://api.example.com/v1": ("example.com", True),
        "https://example.com/v1": ("example.com", True),
        "https://notexample.com/v1": ("example.com", False),
        "https://api.example.com/x": (".example.com", True),
        "https://[::1]:8443/v1": ("[::1]", True),
        "https://[::1]:8443/y": ("::1", True),
        "https://localhost/v1": ("other, localhost", True),
        "https://anything/v1": ("*", True),
    }
    for url, (no_proxy, bypassed) in cases.items():
        got = route(url, {**proxied, "no_proxy": no_proxy})
        assert (got == Route()) is bypassed, (url, no_proxy)


def test_sse_long_events_are_not_copied_again_on_every_read() -> None:
    # One event of many data lines, and one very long line, each fed in small reads:
    # only the unfinished line is kept raw, in the pieces it came in.
    dec = SSEDecoder()
    for i in range(2000):
        assert dec.feed(b"data: line %d\n" % i) == []
        assert dec._parts == []
    assert dec.feed(b": keep-alive\n" * 3) == []
    for _ in range(500):
        dec.feed(b"y" * 100)
    assert len(dec._parts) == 500
    out = dec.feed(b"\n\n")
    assert len(out) == 1
    lines = out[0].data.split(b"\n")
    assert lines[0] == b"line 0" and lines[1999] == b"line 1999"
    assert len(lines) == 2000  # the long line had no field name: "yyy..." is ignored


def test_a_signal_during_a_read_waits_until_it_is_journaled_and_printed(
    tmp_path: Path,
) -> None:
    """Ctrl-C, SIGTERM or --timeout landing while a read is being handled waits
    for the read to be journaled and printed: stdout and the journal agree."""
    import json
    import os
    import signal

    from conftest import offline_run

    from mintcli.base.events import Event
    from mintcli.base.terminal import Terminal, signals_as_errors
    from mintcli.errors import Interrupted
    from mintcli.output.sinks import TextSink
    from mintcli.storage.journal import Journal

    class SignalAtFirstPiece(TextSink):
        def events(self, events: list[Event]) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # lands while the read is handed on
            super().events(events)

    chunk = b'{"choices":[{"index":0,"delta":{"content":"%s"}}]}'
    frames = [SSEEvent("message", chunk % piece, None) for piece in (b"Hel", b"lo")]
    journal = Journal.prepare({}, directory=tmp_path)
    out_path = tmp_path / "stdout"
    with (
        out_path.open("wb") as out,
        open(os.devnull, "w") as errors,
        open(os.devnull, "rb") as nothing,
    ):
        term = Terminal(nothing, out, errors, False, False, False, False)
        sink = SignalAtFirstPiece(term)
        run = offline_run("openai", sink, term, journal)
        with pytest.raises(Interrupted), signals_as_errors():
            run._on_read(frames)
    journal.close(remove=False)
    assert out_path.read_bytes() == b"Hello"
    records = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert records[1] == {"t": "Hello"}
    assert run.acc.text.getvalue() == "Hello"


def test_a_signal_inside_a_critical_step_waits_for_its_end() -> None:
    import os
    import signal

    from mintcli.base.terminal import critical, signals_as_errors
    from mintcli.errors import Interrupted

    done: list[str] = []
    with pytest.raises(Interrupted) as caught, signals_as_errors(), critical():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("journaled")  # still runs: the signal waits
        done.append("printed")
    assert done == ["journaled", "printed"]
    assert caught.value.message == "interrupted"

    # A second signal does not wait: the user insists.
    done.clear()
    with pytest.raises(Interrupted), signals_as_errors(), critical():
        os.kill(os.getpid(), signal.SIGTERM)
        done.append("one")
        os.kill(os.getpid(), signal.SIGINT)
        done.append("never")
    assert done == ["one"]
    # Handlers are put back afterwards.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_text_that_is_not_a_string_is_a_protocol_error() -> None:
    openai = OpenAIDecoder()
    with pytest.raises(ProtocolError):
        openai.decode(SSEEvent("message", b'{"choices":[{"index":0,"delta":{"content":5}}]}', None))
    anthropic = AnthropicDecoder()
    bad = b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":[1]}}'
    with pytest.raises(ProtocolError):
        anthropic.decode(SSEEvent("content_block_delta", bad, None))
