"""Issue 24, classes 4, 8 (server side) and 9: a stream ends at its terminator,
streams as real servers send them (Gemini's parallel calls, refusals), and what
a server can send never becomes an internal error."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from conftest import jsonl, run_mint
from sse_server import Canned, SSEServer
from test_hardening import clean_error, served


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + json.dumps({"choices": [choice]}, ensure_ascii=False).encode() + b"\n\n"


def anthropic(kind: str, **fields: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


DONE = b"data: [DONE]\n\n"
A_START = anthropic("message_start", message={"id": "m", "model": "x"})
A_END = anthropic("message_delta", delta={"stop_reason": "end_turn"}) + anthropic("message_stop")


def a_text(text: str, index: int = 0) -> bytes:
    return anthropic("content_block_delta", index=index, delta={"type": "text_delta", "text": text})


# -- class 4: nothing after the terminator joins the reply ----------------------------------


def test_openai_text_after_done_is_ignored_with_a_verbose_note(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    body = (
        chunk({"role": "assistant", "content": "Hello"})
        + chunk({}, "stop")
        + DONE
        + chunk({"content": " INJECTED"})
        + chunk({"tool_calls": [{"index": 0, "id": "x", "function": {"name": "rm"}}]}, "stop")
    )
    for fmt in ("text", "raw", "jsonl"):
        e = served(sse_server, env, Canned(body=[body[:40], body[40:]]))
        r = run_mint(["chat", "--no-journal", "-v", "-f", fmt, "hi"], e)
        assert r.returncode == 0, r.stderr
        assert b"INJECTED" not in r.stdout and b"rm" not in r.stdout
        assert b"ignored 2 event(s) after" in r.stderr
    e = served(sse_server, env, Canned(body=[body]))
    r = run_mint(["chat", "--no-journal", "hi"], e)
    assert r.stdout == b"Hello\n" and b"ignored" not in r.stderr


def test_a_server_that_goes_on_after_done_is_not_read_on(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    junk = chunk({"content": " INJECTED"})
    body = chunk({"content": "Hello"}, "stop") + DONE + junk
    # After the junk the server neither closes nor sends anything for 15 s.
    e = served(sse_server, env, Canned(body=[body, junk], stall=15))
    r = run_mint(["chat", "--no-journal", "hi"], e, timeout=10)
    assert r.returncode == 0 and r.stdout == b"Hello\n", r.stderr


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_reply_whose_end_came_is_not_waited_on(
    sse_server: SSEServer, env: dict[str, str], protocol: str
) -> None:
    # The end marker came, then the server holds the connection open, silent.
    if protocol == "openai":
        body = chunk({"content": "Hello"}, "stop") + DONE
    else:
        block = anthropic("content_block_start", index=0, content_block={"type": "text", "text": ""})
        body = A_START + block + a_text("Hello") + A_END
    e = served(sse_server, env, Canned(body=[body], stall=20))
    started = time.monotonic()
    r = run_mint(["chat", "--no-journal", "--protocol", protocol, "--idle-timeout", "12",
                  "--retry-base", "0.01", "-f", "json", "hi"], e, timeout=30)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["text"] == "Hello" and b"retry" not in r.stderr
    # cut off a moment after the end, not at the idle timeout
    assert time.monotonic() - started < 8


def test_anthropic_text_after_message_stop_and_a_second_stop_is_ignored(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    block = anthropic("content_block_start", index=0, content_block={"type": "text", "text": ""})
    body = A_START + block + a_text("Hello") + A_END + a_text(" INJECTED") + A_END
    e = served(sse_server, env, Canned(body=[body]))
    r = run_mint(["chat", "--no-journal", "-v", "--protocol", "anthropic", "hi"], e)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello\n"
    assert b"ignored 3 event(s) after" in r.stderr


def test_anthropic_tool_use_never_closed_is_kept_not_dropped(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    start = anthropic(
        "content_block_start",
        index=0,
        content_block={"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}},
    )
    delta = anthropic(
        "content_block_delta",
        index=0,
        delta={"type": "input_json_delta", "partial_json": '{"city": "Oslo"}'},
    )
    stop = anthropic("message_delta", delta={"stop_reason": "tool_use"}) + anthropic("message_stop")
    e = served(sse_server, env, Canned(body=[A_START + start + delta + stop]))
    r = run_mint(["chat", "--no-journal", "--protocol", "anthropic", "-f", "jsonl", "hi"], e)
    assert r.returncode == 0, r.stderr
    calls = [ev for ev in jsonl(r.stdout) if ev["type"] == "tool_call"]
    assert calls == [
        {"type": "tool_call", "id": "toolu_1", "name": "weather", "arguments": {"city": "Oslo"}}
    ]


# -- class 9: streams as servers send them --------------------------------------------------


def test_gemini_parallel_calls_without_index_stay_two_calls(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    def call(call_id: str, city: str) -> dict[str, Any]:
        args = json.dumps({"city": city})
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": "weather", "arguments": args},
        }

    body = (
        chunk({"role": "assistant", "tool_calls": [call("c1", "Oslo")]})
        + chunk({"tool_calls": [call("c2", "Rome")]})
        + chunk({}, "tool_calls")
        + DONE
    )
    e = served(sse_server, env, Canned(body=[body]))
    r = run_mint(["chat", "--no-journal", "-f", "jsonl", "hi"], e)
    assert r.returncode == 0, r.stderr
    assert b"warning" not in r.stderr
    calls = [(ev["id"], ev["arguments"]) for ev in jsonl(r.stdout) if ev["type"] == "tool_call"]
    assert calls == [("c1", {"city": "Oslo"}), ("c2", {"city": "Rome"})]


def test_openai_refusal_is_shown_and_exits_12(sse_server: SSEServer, env: dict[str, str]) -> None:
    body = (
        chunk({"role": "assistant", "content": None, "refusal": "I can't"})
        + chunk({"refusal": " help with that."})
        + chunk({}, "stop")
        + DONE
    )
    e = served(sse_server, env, Canned(body=[body]))
    r = run_mint(["chat", "hi"], e)
    err = clean_error(r, 12)
    assert "the model refused: I can't help with that." in err and r.stdout == b""
    assert "--resume" not in err  # the reply arrived whole
    r = run_mint(["chat", "--no-journal", "-f", "jsonl", "hi"], e)
    events = jsonl(r.stdout)
    assert r.returncode == 12
    assert [ev["text"] for ev in events if ev["type"] == "refusal"] == [
        "I can't",
        " help with that.",
    ]
    assert events[-1]["type"] == "error" and events[-1]["code"] == 12
    r = run_mint(["chat", "--no-journal", "-f", "json", "hi"], e)
    assert r.returncode == 12
    assert json.loads(r.stdout)["refusal"] == "I can't help with that."


def test_a_refusal_cut_by_a_retry_is_shown_once(sse_server: SSEServer, env: dict[str, str]) -> None:
    start = chunk({"role": "assistant", "content": None, "refusal": "I can't"})
    rest = chunk({"refusal": " help with that."}) + chunk({}, "stop") + DONE
    e = served(sse_server, env, Canned(body=[start], abort=True), Canned(body=[start + rest]))
    r = run_mint(["chat", "--no-journal", "--retry-base", "0.01", "-f", "jsonl", "hi"], e)
    assert r.returncode == 12, r.stderr
    events = jsonl(r.stdout)
    assert [ev["type"] for ev in events].count("retry") == 1
    assert "".join(ev["text"] for ev in events if ev["type"] == "refusal") == (
        "I can't help with that."
    )
    assert len(sse_server.requests) == 2
    assert events[-1]["message"] == "the model refused: I can't help with that."


def test_anthropic_refusal_stop_reason_exits_12(sse_server: SSEServer, env: dict[str, str]) -> None:
    stop = anthropic("message_delta", delta={"stop_reason": "refusal"}) + anthropic("message_stop")
    e = served(sse_server, env, Canned(body=[A_START + stop]))
    r = run_mint(["chat", "--no-journal", "--protocol", "anthropic", "hi"], e)
    assert "the model refused" in clean_error(r, 12)


# -- class 8: what a server sends is never an internal error --------------------------------


def test_media_types_ignore_case(sse_server: SSEServer, env: dict[str, str]) -> None:
    body = chunk({"content": "Hi"}, "stop") + DONE
    headers = {"Content-Type": "Text/Event-Stream; Charset=UTF-8"}
    e = served(sse_server, env, Canned(body=[body], headers=headers))
    r = run_mint(["chat", "--no-journal", "hi"], e)
    assert r.returncode == 0 and r.stdout == b"Hi\n", r.stderr


def test_bidi_marks_are_escaped_like_other_bidi_controls(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    message = "bad \u200e\u200f\u061c\u202e request"
    error = json.dumps({"error": {"message": message}}).encode()
    e = served(sse_server, env, Canned(status=400, body=[error]))
    err = clean_error(run_mint(["chat", "--no-journal", "hi"], e), 4)
    assert "bad \\u200e\\u200f\\u061c\\u202e request" in err
    assert not any(ch in err for ch in "\u200e\u200f\u061c\u202e")


def test_an_infinite_retry_after_is_no_hint(sse_server: SSEServer, env: dict[str, str]) -> None:
    for value in ("inf", "nan", "-inf"):
        limited = Canned(status=429, body=[b"{}"], headers={"retry-after-ms": value})
        ok = Canned(body=[chunk({"content": "Hi"}, "stop") + DONE])
        e = served(sse_server, env, limited, ok)
        r = run_mint(["chat", "--no-journal", "--retry-base", "0.01", "hi"], e)
        assert r.returncode == 0 and r.stdout == b"Hi\n", r.stderr
        assert b"infs" not in r.stderr and b"nans" not in r.stderr


def test_a_non_ascii_event_id_is_not_sent_back(sse_server: SSEServer, env: dict[str, str]) -> None:
    for event_id in ("é1", "a\x01b", "x" * 2000):
        first = f"id: {event_id}\n".encode() + chunk({"role": "assistant", "content": "Hel"})
        broken = Canned(body=[first], abort=True)
        ok = Canned(body=[chunk({"role": "assistant", "content": "lo"}, "stop") + DONE])
        e = served(sse_server, env, broken, ok)  # continued with a prefill instead
        r = run_mint(["chat", "--no-journal", "--retry-base", "0.01", "hi"], e)
        assert r.returncode == 0 and r.stdout == b"Hello\n", r.stderr
        assert "Last-Event-ID" not in sse_server.requests[-1]["headers"]
