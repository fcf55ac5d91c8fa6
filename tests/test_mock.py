"""mint mock's own contract: wire formats, scripts, faults, errors, log, process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import MINT, finish, read_until, run_mint

from mintcli.mock import MockScriptError, parse_fault
from mintcli.mock.faults import FaultSpecError
from mintcli.mock.script import POEM
from mintcli.wire.sse import SSEDecoder, SSEEvent

KEY = {"Authorization": "Bearer k"}
AKEY = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


def post(
    server: Any, path: str, body: Any, headers: dict[str, str] | None = None, **kw: Any
) -> httpx.Response:
    h = {**(KEY if path.endswith("completions") else AKEY), **(headers or {})}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    kw.setdefault("timeout", 10)
    return httpx.post(server.base_url + path, content=content, headers=h, **kw)


def events(resp: httpx.Response) -> list[SSEEvent]:
    dec = SSEDecoder()
    return dec.feed(resp.content) + dec.flush()


def oa(messages: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "model": "openai/gpt-4o",
        "messages": messages or [{"role": "user", "content": "写一首诗"}],
        "stream": True,
        **extra,
    }


def an(messages: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "model": "anthropic/claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": messages or [{"role": "user", "content": "写一首诗"}],
        "stream": True,
        **extra,
    }


def openai_text(evs: list[SSEEvent]) -> str:
    out = ""
    for e in evs:
        if e.data == b"[DONE]":
            continue
        for ch in json.loads(e.data).get("choices", []):
            out += ch["delta"].get("content") or ""
    return out


def anthropic_text(evs: list[SSEEvent]) -> str:
    out = ""
    for e in evs:
        obj = json.loads(e.data)
        if obj["type"] == "content_block_delta" and obj["delta"]["type"] == "text_delta":
            out += obj["delta"]["text"]
    return out


def test_openai_stream_shape(make_mock: Any) -> None:
    server = make_mock(piece_chars=3)
    r = post(server, "/chat/completions", oa(stream_options={"include_usage": True}))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    evs = events(r)
    assert [e.id for e in evs] == [str(i) for i in range(1, len(evs) + 1)]
    assert evs[-1].data == b"[DONE]"
    chunks = [json.loads(e.data) for e in evs[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(
        c["object"] == "chat.completion.chunk" and c["model"] == "openai/gpt-4o" for c in chunks
    )
    assert openai_text(evs) == POEM
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    pieces = len(range(0, len(POEM), 3))
    assert chunks[-1]["usage"]["completion_tokens"] == pieces
    assert all("usage" in c for c in chunks)
    # without include_usage: no usage chunk, no usage keys
    evs = events(post(server, "/chat/completions", oa()))
    assert all("usage" not in json.loads(e.data) for e in evs[:-1])


def test_anthropic_stream_shape(make_mock: Any) -> None:
    server = make_mock()
    evs = events(post(server, "/messages", an()))
    names = [e.event for e in evs]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert all(json.loads(e.data)["type"] == e.event for e in evs)
    assert anthropic_text(evs) == POEM
    delta = json.loads(evs[-2].data)
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] == len(range(0, len(POEM), 4))


def test_script_reasoning_tools_interleaved_and_empty_input(make_mock: Any, tmp_path: Path) -> None:
    script = tmp_path / "rules.jsonl"
    rules = [
        {
            "match": {"prompt": "weather"},
            "reasoning": "thinking",
            "text": "ok",
            "interleave": True,
            "tool_calls": [
                {"id": "a", "name": "w", "arguments": {"city": "北京"}},
                {"id": "b", "name": "t", "arguments": {}},
            ],
        },
        {"match": {"model": "broken/.*"}, "tool_calls": [{"name": "f", "arguments": '{"x": '}]},
    ]
    script.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rules))
    server = make_mock(script=script, piece_chars=3)
    evs = events(post(server, "/chat/completions", oa([{"role": "user", "content": "weather?"}])))
    deltas = [
        json.loads(e.data)["choices"][0]["delta"] for e in evs[:-1] if json.loads(e.data)["choices"]
    ]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "thinking"
    indexes = [d["tool_calls"][0]["index"] for d in deltas if "tool_calls" in d]
    assert indexes[:4] == [0, 1, 0, 1]  # two heads, then pieces alternate
    args = {0: "", 1: ""}
    for d in deltas:
        for tc in d.get("tool_calls", []):
            args[tc["index"]] += tc["function"].get("arguments", "")
    assert json.loads(args[0]) == {"city": "北京"} and json.loads(args[1]) == {}
    finish = [json.loads(e.data)["choices"][0]["finish_reason"] for e in evs[:-1]]
    assert finish[-1] == "tool_calls"

    evs = events(post(server, "/messages", an([{"role": "user", "content": "weather?"}])))
    starts = [json.loads(e.data)["content_block"] for e in evs if e.event == "content_block_start"]
    assert [s["type"] for s in starts] == ["thinking", "text", "tool_use", "tool_use"]
    empty = [
        json.loads(e.data)
        for e in evs
        if e.event == "content_block_delta" and json.loads(e.data)["index"] == 3
    ]
    assert [d["delta"] for d in empty] == [{"type": "input_json_delta", "partial_json": ""}]
    assert json.loads(evs[-2].data)["delta"]["stop_reason"] == "tool_use"

    body = post(server, "/chat/completions", {**oa(), "model": "broken/x", "stream": False}).json()
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"x": '


def test_non_streaming_bodies(make_mock: Any) -> None:
    server = make_mock()
    body = post(server, "/chat/completions", {**oa(), "stream": False}).json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == POEM
    assert (
        body["usage"]["total_tokens"]
        == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    body = post(server, "/messages", {**an(), "stream": False}).json()
    assert body["type"] == "message" and body["content"] == [{"type": "text", "text": POEM}]
    assert body["stop_reason"] == "end_turn"


def test_default_reply_calls_a_tool_then_reads_its_result(make_mock: Any) -> None:
    server = make_mock()
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    }
    body = post(
        server,
        "/chat/completions",
        {
            **oa([{"role": "user", "content": "北京的天气怎么样?"}]),
            "stream": False,
            "tools": [tool],
        },
    ).json()
    call = body["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"location":"北京"}'}
    assert body["choices"][0]["finish_reason"] == "tool_calls"
    msgs = [
        {"role": "user", "content": "北京的天气怎么样?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "晴"},
    ]
    body = post(server, "/chat/completions", {**oa(msgs), "stream": False, "tools": [tool]}).json()
    assert body["choices"][0]["message"]["content"] == "Tool result received: 晴"
    body = post(
        server,
        "/chat/completions",
        {**oa(), "stream": False, "tools": [tool], "tool_choice": "none"},
    ).json()
    assert body["choices"][0]["message"]["content"] == POEM


def test_models_in_both_shapes(make_mock: Any) -> None:
    server = make_mock()
    body = httpx.get(server.base_url + "/models", headers=KEY).json()
    assert body["object"] == "list" and body["data"][0]["object"] == "model"
    body = httpx.get(server.base_url + "/models", headers=AKEY).json()
    assert body["has_more"] is False and body["data"][0]["type"] == "model"


def test_prefill_continuation_and_whitespace_refusal(make_mock: Any) -> None:
    server = make_mock()
    prefix = POEM[:10]
    msgs = [{"role": "user", "content": "写一首诗"}, {"role": "assistant", "content": prefix}]
    assert openai_text(events(post(server, "/chat/completions", oa(msgs)))) == POEM[10:]
    assert anthropic_text(events(post(server, "/messages", an(msgs)))) == POEM[10:]
    msgs[-1]["content"] = POEM[:6]  # "《静夜思》\n" ends in a newline
    r = post(server, "/messages", an(msgs))
    assert r.status_code == 400
    assert r.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "messages: final assistant content cannot end with trailing whitespace",
        },
        "request_id": r.headers["request-id"],
    }
    assert openai_text(events(post(server, "/chat/completions", oa(msgs)))) == POEM[6:]


def test_last_event_id_resumes_or_is_ignored(make_mock: Any) -> None:
    server = make_mock()
    full = events(post(server, "/messages", an()))
    resumed = events(post(server, "/messages", an(), {"Last-Event-ID": "5"}))
    assert [e.id for e in resumed] == [e.id for e in full[5:]]
    assert resumed[0].event != "message_start"
    other = make_mock(ignore_last_event_id=True)
    again = events(post(other, "/messages", an(), {"Last-Event-ID": "5"}))
    assert again[0].event == "message_start"


@pytest.mark.parametrize("path", ["/chat/completions", "/messages"])
def test_status_faults_with_retry_after_then_success(make_mock: Any, path: str) -> None:
    server = make_mock(fault="status=429,retry_after=2,retry_after_ms=1500,times=2")
    for _ in range(2):
        r = post(server, path, oa() if "completions" in path else an())
        assert r.status_code == 429
        assert r.headers["retry-after"] == "2" and r.headers["retry-after-ms"] == "1500"
        assert r.headers["content-type"] == "application/json"
        err = r.json()
        kind = err["error"]["type"]
        if "completions" in path:  # OpenAI: type "requests", code "rate_limit_exceeded"
            assert (kind, err["error"]["code"]) == ("requests", "rate_limit_exceeded")
        else:
            assert kind == "rate_limit_error"
    assert post(server, path, oa() if "completions" in path else an()).status_code == 200


@pytest.mark.parametrize("status", [400, 401, 500, 503, 529])
def test_status_faults_by_header(make_mock: Any, status: int) -> None:
    server = make_mock()
    r = post(server, "/messages", an(), {"X-Mint-Mock-Fault": f"status={status}"})
    assert r.status_code == status
    assert r.json()["type"] == "error"
    assert post(server, "/messages", an(), {"X-Mint-Mock-Fault": "explode=1"}).status_code == 400


def test_stream_faults(make_mock: Any) -> None:
    server = make_mock(piece_chars=4)
    with pytest.raises(httpx.RemoteProtocolError):
        post(server, "/chat/completions", oa(), {"X-Mint-Mock-Fault": "drop=2"})
    evs = events(post(server, "/chat/completions", oa(), {"X-Mint-Mock-Fault": "truncate=2"}))
    assert openai_text(evs) == POEM[:8] and evs[-1].data != b"[DONE]"
    evs = events(post(server, "/chat/completions", oa(), {"X-Mint-Mock-Fault": "error=1"}))
    assert json.loads(evs[-1].data)["error"]["type"] == "server_error"
    evs = events(post(server, "/messages", an(), {"X-Mint-Mock-Fault": "error=1"}))
    assert (
        evs[-1].event == "error" and json.loads(evs[-1].data)["error"]["type"] == "overloaded_error"
    )
    evs = events(post(server, "/messages", an(), {"X-Mint-Mock-Fault": "malformed=1"}))
    with pytest.raises(ValueError):
        json.loads(evs[-1].data)
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        post(
            server,
            "/chat/completions",
            oa(),
            {"X-Mint-Mock-Fault": "stall=1"},
            timeout=httpx.Timeout(30, read=0.3),
        )
    # The stall lasted until the 0.3 s read timeout gave up, not the 30 s one for the rest.
    # The upper bound is generous for a slow machine and still far below 30 s.
    assert 0.3 <= time.monotonic() - start < 10


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{nope", 400, "parse the JSON"),
        (b"[]", 400, "JSON object"),
        (json.dumps({"messages": []}).encode(), 400, "model"),
    ],
)
def test_bad_requests_get_real_error_shapes(
    make_mock: Any, body: bytes, status: int, needle: str
) -> None:
    server = make_mock()
    r = post(server, "/chat/completions", body)
    assert r.status_code == status
    assert needle in r.json()["error"]["message"]
    r = post(server, "/messages", {"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 400 and "max_tokens" in r.json()["error"]["message"]
    r = httpx.post(server.base_url + "/nope", headers=KEY, content=b"{}")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_url"
    r = httpx.post(server.base_url + "/nope", headers=AKEY, content=b"{}")
    assert r.json()["error"]["type"] == "not_found_error"
    r = httpx.post(server.base_url + "/chat/completions", content=json.dumps(oa()).encode())
    assert r.status_code == 401


def test_request_log_redacts_keys(make_mock: Any, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    server = make_mock(log=log)
    post(server, "/chat/completions", oa())
    post(server, "/messages", an())
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert records == server.requests
    assert records[0]["headers"]["authorization"] == "[redacted]"
    assert records[1]["headers"]["x-api-key"] == "[redacted]"
    assert records[0]["body"] == oa() and records[0]["path"] == "/v1/chat/completions"


def test_large_repeat_stream_is_served_whole(make_mock: Any, tmp_path: Path) -> None:
    # How fast the mock serves is measured in benchmarks/run.py ("mint mock as a server"),
    # not here: a time limit in a test only measures the machine it runs on.
    script = tmp_path / "big.json"
    script.write_text(json.dumps([{"text": "字abc", "repeat": 200_000, "piece_chars": 4}]))
    server = make_mock(script=script)
    with httpx.stream(
        "POST",
        server.base_url + "/chat/completions",
        content=json.dumps(oa()),
        headers=KEY,
        timeout=30,
    ) as r:
        assert r.status_code == 200
        size, tail = 0, b""
        for chunk in r.iter_raw():
            size += len(chunk)
            tail = (tail + chunk)[-64:]
    assert size > 200_000 * 100
    assert tail.endswith(b"data: [DONE]\n\n")


def test_bad_scripts_and_faults_are_rejected(tmp_path: Path) -> None:
    from mintcli.mock import MockServer
    from mintcli.options.settings import MockSettings

    for content, needle in [
        ("[1]", "JSON object"),
        ('[{"txt": "x"}]', "unknown rule key"),
        ("{bad", "not valid JSON"),
        ('[{"match": {"prompt": "("}}]', "regular expression"),
    ]:
        path = tmp_path / "s.json"
        path.write_text(content)
        with pytest.raises(MockScriptError, match=needle):
            MockServer(MockSettings(script=str(path)))
    for spec in ["drop", "drop=1,stall=2", "status=200", "drop=-1", "drop=1,bogus=2"]:
        with pytest.raises(FaultSpecError):
            parse_fault(spec)
    assert parse_fault("status=429,retry_after=1.5,times=2").retry_after == 1.5


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_mint_mock_process(sig: int, env: dict[str, str], spawn: Any) -> None:
    proc = spawn([*MINT, "mock", "--port", "0"], env)
    line = read_until(
        proc.stdout.fileno(), lambda got: b"\n" in got, timeout=20, what="mint mock's URL line"
    )
    url, rest = line.decode().split("\n", 1)
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    r = httpx.get(url + "/models", headers=KEY, timeout=10)
    assert r.status_code == 200
    os.kill(proc.pid, sig)
    out, err = finish(proc, timeout=10)
    assert proc.returncode == 0, err
    assert rest == "" and out == b"" and b"Traceback" not in err


def test_mint_mock_bad_script_is_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[{]")
    r = subprocess.run(
        [*MINT, "mock", "--script", str(bad)],
        capture_output=True,
        env=env,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 2 and r.stdout == b""
    assert str(bad) in r.stderr.decode()


def _memory_at_most_1_gib() -> None:
    # In the child: an unbounded read fails here (MemoryError) in a second
    # instead of taking the machine's memory.
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_endless_script_stops_at_its_cap(env: dict[str, str]) -> None:
    r = run_mint(["mock", "--script", "/dev/zero"], env, preexec_fn=_memory_at_most_1_gib)
    assert r.returncode == 2 and r.stdout == b""
    assert r.stderr.decode() == (
        "mint: error: script /dev/zero: larger than 16 MiB, mint's limit for it\n"
    )


@pytest.mark.parametrize("stdout", ["closed", "full"])
def test_mock_serves_when_its_url_line_cannot_be_written(
    stdout: str, env: dict[str, str], spawn: Any
) -> None:
    # Closed (>&-) or full (/dev/full): the URL goes to stderr in one warning and
    # the mock serves as usual.
    if stdout == "closed":
        proc = spawn(["sh", "-c", 'exec "$@" >&-', "sh", *MINT, "mock"], env)
        reason = b"stdout is closed"
    else:
        with open("/dev/full", "wb") as full:
            proc = spawn([*MINT, "mock"], env, stdout=full)
        reason = b"No space left on device"
    err = read_until(
        proc.stderr.fileno(), lambda got: b"\n" in got, timeout=20, what="the mock's warning"
    )
    assert err.startswith(b"mint: warning: cannot write to stdout: " + reason + b"; serving at ")
    url = err.split(b"serving at ", 1)[1].strip().decode()
    assert httpx.get(url + "/models", headers=KEY, timeout=10).status_code == 200
    os.kill(proc.pid, signal.SIGTERM)
    _, rest = finish(proc, timeout=10)
    assert proc.returncode == 0 and rest == b""


def test_mock_cannot_listen_is_a_usage_error(env: dict[str, str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = [
            (["--port", str(port)], f"127.0.0.1 port {port}: Address already in use"),
            (["--host", "8.8.8.8"], "8.8.8.8 port 0: Cannot assign requested address"),
            (["--host", "bad host"], "bad host port 0: Name or service not known"),
        ]
        for args, why in cases:
            r = run_mint(["mock", *args], env)
            assert r.returncode == 2 and r.stdout == b"", args
            assert r.stderr.decode() == f"mint: error: cannot listen on {why}\n"


def test_mock_log_that_cannot_be_opened_is_said_before_serving(
    env: dict[str, str], tmp_path: Path
) -> None:
    for log, why in [
        (tmp_path, "Is a directory"),
        (tmp_path / "missing" / "x", "No such file or directory"),
    ]:
        r = run_mint(["mock", "--log", str(log)], env)
        assert r.returncode == 2 and r.stdout == b""
        assert r.stderr.decode() == f"mint: error: --log {log}: {why}\n"


def test_mock_log_write_failure_ends_the_mock(env: dict[str, str], spawn: Any) -> None:
    # A CI run that asked for --log relies on it: the first lost line stops the
    # mock with one error naming the file (exit 11), and the request that could
    # not be logged is answered 500 saying why, not served.
    proc = spawn([*MINT, "mock", "--log", "/dev/full"], env)
    line = read_until(
        proc.stdout.fileno(), lambda got: b"\n" in got, timeout=20, what="mint mock's URL line"
    )
    r = post(Handle(line.decode().strip()), "/chat/completions", oa())
    assert r.status_code == 500
    why = "cannot write --log /dev/full: No space left on device"
    assert r.json()["error"]["message"] == f"mint mock: {why}"
    out, err = finish(proc, timeout=10)
    assert proc.returncode == 11 and out == b""
    assert err.decode() == f"mint: error: {why}\n"


class Handle:
    """A mock running in another process, as post() takes it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


ATTACHMENT = {"type": "attachment", "attachment": {"path": "notes.txt"}}  # mint's own, local


@pytest.mark.parametrize("part", [{"type": "weird"}, ATTACHMENT])
def test_content_parts_the_apis_do_not_take_are_refused(make_mock: Any, part: Any) -> None:
    server = make_mock()
    text = {"type": "text", "text": "hi"}
    r = post(server, "/chat/completions", oa([{"role": "user", "content": [text, part]}]))
    assert r.status_code == 400
    assert r.json()["error"] == {
        "message": f"Invalid value: '{part['type']}'. Supported values are: 'text', "
        "'image_url', 'input_audio', 'refusal', 'audio', and 'file'.",
        "type": "invalid_request_error",
        "param": "messages[0].content[1].type",
        "code": "invalid_value",
    }
    r = post(server, "/messages", an([{"role": "user", "content": [text, part]}]))
    assert r.status_code == 400 and r.json()["type"] == "error"
    message = r.json()["error"]["message"]
    assert message.startswith(
        f"messages.0.content.1: Input tag '{part['type']}' found using 'type' does not "
        "match any of the expected tags: 'bash_code_execution_tool_result', "
    )
    assert "'image'" in message and "'text'" in message and "'tool_result'" in message


def test_content_parts_the_apis_take_are_served(make_mock: Any) -> None:
    server = make_mock()
    parts = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
    ]
    said = {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}
    messages = [{"role": "user", "content": parts}, said, {"role": "user", "content": "ok"}]
    assert post(server, "/chat/completions", oa(messages)).status_code == 200
    blocks = [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}},
    ]
    assert post(server, "/messages", an([{"role": "user", "content": blocks}])).status_code == 200
