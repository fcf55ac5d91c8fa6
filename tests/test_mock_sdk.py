"""mint mock seen through the official SDKs: the statuses, exception classes, error
fields and reply shapes a client of the real APIs gets (issue 25). The SDK
scenarios (tests/mock_sdk_scenarios.py) run in one child process against one
mock; the rest here talks HTTP itself."""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest

from mintcli.mock import MockServer
from mintcli.options.settings import MockSettings

MODEL_O = "openai/gpt-4o"
HI = [{"role": "user", "content": "hello there"}]
SCENARIOS = Path(__file__).resolve().parent / "mock_sdk_scenarios.py"


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(MockSettings()) as s:
        yield s


@pytest.fixture(scope="module")
def sdk_results(server: MockServer) -> dict[str, str | None]:
    for sdk in ("openai", "anthropic", "pydantic"):
        if importlib.util.find_spec(sdk) is None:
            pytest.skip(f"the {sdk} package is not installed (pip install -e '.[test]')")
    child = subprocess.run(
        [sys.executable, str(SCENARIOS), server.base_url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    results: dict[str, str | None] = json.loads(child.stdout)
    return results


@pytest.mark.parametrize(
    "scenario",
    [
        "openai_happy_path",  # positive control: plain, streamed, a tool round trip
        "anthropic_happy_path",  # the same for Anthropic
        "openai_rejections",
        "openai_rate_limit_and_auth",
        "openai_reply_shape",
        "anthropic_rejections",
        "anthropic_reply_shape",
        "anthropic_rate_limit_and_malformed",
    ],
)
def test_through_the_official_sdk(sdk_results: dict[str, str | None], scenario: str) -> None:
    assert scenario in sdk_results, f"no such scenario: {scenario}"
    failure = sdk_results[scenario]
    assert failure is None, failure


# -- the connection, and turning validation off ----------------------------------------


def exchange(server: MockServer, raw: bytes) -> bytes:
    """Send raw bytes, read until the mock closes the connection."""
    host, port = server.base_url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_chunked_bodies_are_read_and_an_unreadable_one_closes_the_connection(
    server: MockServer, capfd: Any
) -> None:
    body = json.dumps({"model": MODEL_O, "messages": HI}).encode()
    with httpx.Client(headers={"Authorization": "Bearer k"}) as client:
        for _ in range(2):  # the second request reuses the kept-alive connection
            r = client.post(
                server.base_url + "/chat/completions", content=iter([body[:9], body[9:]])
            )
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] == "Mock reply to: hello there"
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
    for bad in (
        b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",  # not a chunk size
        b"Content-Length: abc\r\n\r\n{}",
    ):
        answer = exchange(server, head + bad)  # returns: the mock closes the connection
        assert answer.startswith(b"HTTP/1.1 400") and b"Connection: close" in answer
        assert b"could not be read" in answer
    # a request too bad to parse gets the server's own 400, not a traceback
    assert exchange(server, b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n").startswith(
        b"HTTP/1.1 431"
    )
    assert "Traceback" not in capfd.readouterr().err


def test_lenient_turns_validation_off(tmp_path: Any) -> None:
    robot = {"model": MODEL_O, "messages": [{"role": "robot", "content": "hi"}], "temperature": 5}
    with MockServer(MockSettings(lenient=True)) as lenient:
        r = httpx.post(
            lenient.base_url + "/chat/completions",
            json=robot,
            headers={"Authorization": "Bearer k"},
        )
        assert r.status_code == 200
    script = tmp_path / "rules.jsonl"
    script.write_text('{"match": {"model": "loose/.*"}, "lenient": true}\n')
    with MockServer(MockSettings(script=str(script))) as ruled:
        post = ruled.base_url + "/chat/completions"
        r = httpx.post(
            post, json={**robot, "model": "loose/x"}, headers={"Authorization": "Bearer k"}
        )
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]
        r = httpx.post(post, json=robot, headers={"Authorization": "Bearer k"})
        assert r.status_code == 400 and r.json()["error"]["param"] == "messages[0].role"


# -- hostile bodies: a 400 or an answer, never a crash ---------------------------------

st = hypothesis.strategies
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 300) | st.floats(-3, 3) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_FIELDS = ["model", "messages", "max_tokens", "stream", "stream_options", "temperature", "stop",
           "stop_sequences", "n", "tools", "tool_choice", "system", "thinking", "output_config",
           "response_format", "parallel_tool_calls", "logit_bias", "top_logprobs", "metadata"]  # fmt: skip
_MESSAGE_KEYS = ["role", "content", "tool_calls", "tool_call_id"]


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(
    protocol=st.sampled_from(["openai", "anthropic"]),
    top=st.dictionaries(st.sampled_from(_FIELDS), _json, max_size=4),
    message=st.dictionaries(st.sampled_from(_MESSAGE_KEYS), _json, max_size=3),
)
def test_any_body_gets_a_refusal_or_a_reply_never_a_crash(
    protocol: str, top: dict[str, Any], message: dict[str, Any]
) -> None:
    from mintcli.mock import render, shape, validate
    from mintcli.mock.framing import frames
    from mintcli.mock.refusal import Refusal
    from mintcli.mock.script import Reply, default_reply

    body = {"model": "m", "max_tokens": 5, "messages": [HI[0], message], **top}
    for strict in (True, False):  # validated, and as a lenient mock takes it
        try:
            if strict:
                validate.check(protocol, "/v1/messages", body, {"anthropic-version": "2023-06-01"})
            validate.essentials(body)
        except Refusal as refusal:
            assert refusal.status == 400 and refusal.message
            continue
        messages = body["messages"]
        reply = shape.fit(
            Reply(text=default_reply(body, messages).text or "x"), protocol, body, messages
        )
        p = render.plan(reply, protocol, render.input_tokens(messages))
        if protocol == "openai":
            render.openai_body(reply, p, "m", "id", 2)
            frames(render.openai_stream(reply, p, "m", "id", True, 2), True)
        else:
            render.anthropic_body(reply, p, "m", "id")
            frames(render.anthropic_stream(reply, p, "m", "id"), True)
