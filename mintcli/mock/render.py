"""Rendering a mock reply in the exact OpenAI or Anthropic wire format.

``openai_stream`` and ``anthropic_stream`` return the reply as SSE events, each
marked as a content piece or not (faults are placed by piece count); framing.py
turns them into bytes. Piece events are built from byte templates: a
200,000-piece reply renders in a fraction of a second, so the mock is never what
a benchmark measures.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

import orjson

from mintcli.mock import thinking
from mintcli.mock.framing import Event, Stream, pieces
from mintcli.mock.script import Reply

_DEFAULT_FINISH = {"openai": ("stop", "tool_calls"), "anthropic": ("end_turn", "tool_use")}


def split(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)] if text else []


def reply_id(prefix: str, body: bytes) -> str:
    return prefix + hashlib.sha1(body).hexdigest()[:20]


def input_tokens(messages: list[dict[str, Any]], system: Any = None) -> int:
    """Deterministic stand-in for a tokenizer: one token per 4 characters."""
    size = len(orjson.dumps(messages)) + len(orjson.dumps(system or ""))
    return size // 4 + 1


@dataclass(frozen=True)
class Plan:
    """A reply cut into pieces, shared by both protocols."""

    text: list[str]
    reasoning: list[str]
    arguments: list[list[str]]  # per tool call
    finish: str
    usage: dict[str, int]
    stop_sequence: str | None = None  # the stop sequence that ended the text (Anthropic)

    @property
    def pieces(self) -> int:
        return len(self.text) + len(self.reasoning) + sum(len(a) for a in self.arguments)


def plan(reply: Reply, protocol: str, prompt_tokens: int) -> Plan:
    n = max(1, reply.piece_chars)
    text = split(reply.text * max(1, reply.repeat), n)
    reasoning = split(reply.reasoning, n)
    arguments = [split(c.arguments, n) for c in reply.tool_calls]
    stop, tools = _DEFAULT_FINISH[protocol]
    finish = reply.finish_reason or (tools if reply.tool_calls else stop)
    count = len(text) + len(reasoning) + sum(len(a) for a in arguments)
    usage = {"input_tokens": prompt_tokens, "output_tokens": count}
    if reply.usage:
        usage.update(reply.usage)
    return Plan(text, reasoning, arguments, finish, usage, reply.stop_sequence)


# -- OpenAI ------------------------------------------------------------------------


def openai_stream(
    reply: Reply, p: Plan, model: str, rid: str, include_usage: bool, n: int = 1
) -> Stream:
    created = int(time.time())
    events: Stream = []
    for index in range(n):  # the choices one after the other, each with its index
        events += _openai_choice(reply, p, model, rid, include_usage, created, index)
    if include_usage:
        usage = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
            "choices": [],
            "usage": _openai_usage(p.usage, n),
        }
        events.append(Event(orjson.dumps(usage)))
    events.append(Event(b"[DONE]"))
    return events


def _openai_choice(
    reply: Reply, p: Plan, model: str, rid: str, include_usage: bool, created: int, index: int
) -> Stream:
    pre = (
        b'{"id":"'
        + rid.encode()
        + b'","object":"chat.completion.chunk","created":%d,"model":' % created
        + orjson.dumps(model)
        + b',"system_fingerprint":null,"choices":[{"index":%d,"delta":' % index
    )
    usage_null = b',"usage":null' if include_usage else b""
    post = b',"logprobs":null,"finish_reason":null}]' + usage_null + b"}"

    def chunk(delta: bytes, piece: bool = False) -> Event:
        return Event(pre + delta + post, piece)

    # A reply without text has content null, as the real API sends it.
    first = b'{"role":"assistant","content":%s}' % (b'""' if p.text else b"null")
    events: Stream = [chunk(first)]
    events.append(pieces(pre + b'{"reasoning_content":', p.reasoning, b"}" + post))
    events.append(pieces(pre + b'{"content":', p.text, b"}" + post))
    for i, call in enumerate(reply.tool_calls):
        head = {
            "tool_calls": [
                {
                    "index": i,
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": ""},
                }
            ]
        }
        events.append(chunk(orjson.dumps(head)))
        if not reply.interleave:
            events.extend(_arg_chunk(chunk, i, s) for s in p.arguments[i])
    if reply.interleave:
        longest = max((len(a) for a in p.arguments), default=0)
        for k in range(longest):
            for i, args in enumerate(p.arguments):
                if k < len(args):
                    events.append(_arg_chunk(chunk, i, args[k]))
    end = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": index, "delta": {}, "logprobs": None, "finish_reason": p.finish}],
    }
    if include_usage:
        end["usage"] = None
    events.append(Event(orjson.dumps(end)))
    return events


def _arg_chunk(chunk: Any, index: int, piece: str) -> Event:
    delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
    event: Event = chunk(orjson.dumps(delta), True)
    return event


def _openai_usage(usage: dict[str, int], n: int = 1) -> dict[str, int]:
    completion = usage["output_tokens"] * n  # every choice is generated
    return {
        "prompt_tokens": usage["input_tokens"],
        "completion_tokens": completion,
        "total_tokens": usage["input_tokens"] + completion,
    }


def openai_body(reply: Reply, p: Plan, model: str, rid: str, n: int = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(p.text) or None}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": i, "message": message, "logprobs": None, "finish_reason": p.finish}
            for i in range(n)
        ],
        "usage": _openai_usage(p.usage, n),
    }


def openai_error_event(message: str, kind: str) -> Event:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return Event(orjson.dumps(body))


# -- Anthropic ---------------------------------------------------------------------


def anthropic_stream(reply: Reply, p: Plan, model: str, rid: str) -> Stream:
    def ev(name: str, obj: dict[str, Any], piece: bool = False) -> Event:
        return Event(orjson.dumps(obj), piece, name)

    start = {
        "type": "message_start",
        "message": {
            "id": rid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": p.usage["input_tokens"], "output_tokens": 1},
        },
    }
    events: Stream = [ev("message_start", start), ev("ping", {"type": "ping"})]
    index = 0

    def block(content: dict[str, Any], deltas: Stream) -> None:
        nonlocal index
        events.append(
            ev(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": content},
            )
        )
        events.extend(deltas)
        events.append(ev("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1

    def delta_template(kind: str, key: str) -> tuple[bytes, bytes]:
        pre = b'{"type":"content_block_delta","index":%d,"delta":{"type":"%s","%s":' % (
            index,
            kind.encode(),
            key.encode(),
        )
        return pre, b"}}"

    if p.reasoning:
        pre, post = delta_template("thinking_delta", "thinking")
        deltas: Stream = [pieces(pre, p.reasoning, post, "content_block_delta")]
        signed = thinking.signature("".join(p.reasoning))  # checked when it comes back
        signature = {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "signature_delta", "signature": signed},
        }
        deltas.append(ev("content_block_delta", signature))
        block({"type": "thinking", "thinking": "", "signature": ""}, deltas)
    if p.text:
        pre, post = delta_template("text_delta", "text")
        block(
            {"type": "text", "text": ""},
            [pieces(pre, p.text, post, "content_block_delta")],
        )
    for call, args in zip(reply.tool_calls, p.arguments, strict=True):
        pre, post = delta_template("input_json_delta", "partial_json")
        empty = call.arguments.strip() in ("", "{}")
        if empty:  # like the real API: a call with empty input gets one empty delta
            deltas = [Event(pre + b'""' + post, False, "content_block_delta")]
        else:
            deltas = [pieces(pre, args, post, "content_block_delta")]
        block({"type": "tool_use", "id": call.id, "name": call.name, "input": {}}, deltas)
    events.append(
        ev(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": p.finish, "stop_sequence": p.stop_sequence},
                "usage": {"output_tokens": p.usage["output_tokens"]},
            },
        )
    )
    events.append(ev("message_stop", {"type": "message_stop"}))
    return events


def anthropic_body(reply: Reply, p: Plan, model: str, rid: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.reasoning:
        thought = "".join(p.reasoning)
        content.append(
            {"type": "thinking", "thinking": thought, "signature": thinking.signature(thought)}
        )
    if p.text:
        content.append({"type": "text", "text": "".join(p.text)})
    for call in reply.tool_calls:
        try:
            args = orjson.loads(call.arguments) if call.arguments else {}
        except orjson.JSONDecodeError:
            args = call.arguments
        content.append({"type": "tool_use", "id": call.id, "name": call.name, "input": args})
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": p.finish,
        "stop_sequence": p.stop_sequence,
        "usage": dict(p.usage),
    }


def anthropic_error_event(message: str, kind: str) -> Event:
    return Event(
        orjson.dumps({"type": "error", "error": {"type": kind, "message": message}}), False, "error"
    )


# The malformed fault: an event cut off mid-JSON, named as the protocol names its
# events (an Anthropic client skips an event without a name it knows).
MALFORMED = {
    "openai": b'data: {"choices": [{"delta": \n\n',
    "anthropic": b'event: content_block_delta\ndata: {"type": "content_block_delta", \n\n',
}

# -- error bodies --------------------------------------------------------------------

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
# OpenAI's (type, code) for the statuses whose bodies carry them: a rate limit is
# {"type": "requests", "code": "rate_limit_exceeded"} (or "tokens"), a bad key
# {"type": "invalid_request_error", "code": "invalid_api_key"}.
_OPENAI_TYPES = {
    429: ("requests", "rate_limit_exceeded"),
    401: ("invalid_request_error", "invalid_api_key"),
}


def error_body(
    protocol: str,
    status: int,
    message: str,
    kind: str | None = None,
    code: str | None = None,
    param: str | None = None,
    request_id: str | None = None,
) -> bytes:
    if protocol == "anthropic":
        kind = kind or _ANTHROPIC_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        body = {"type": "error", "error": {"type": kind, "message": message}}
        if request_id:  # as the real API does, beside the request-id header
            body["request_id"] = request_id
        return orjson.dumps(body)
    default_kind, default_code = _OPENAI_TYPES.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    error = {"message": message, "type": kind or default_kind, "param": param,
             "code": code or (default_code if kind is None else None)}  # fmt: skip
    return orjson.dumps({"error": error})
