"""Fitting a reply to what the request asks of its shape, as the real APIs do:
``tool_choice`` (none never calls, required/any/a named tool always does;
OpenAI ``parallel_tool_calls: false`` and Anthropic ``disable_parallel_tool_use``
keep one call), unique tool call ids, ``stop``/``stop_sequences`` (the text ends
before the first one) and ``max_tokens`` (the reply is cut, ``length`` /
``max_tokens``). A token is a piece here: usage counts the pieces sent, so it
adds up. OpenAI ``n`` is rendered by render.py. Imports script.py, instance.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import orjson

from mintcli.mock.instance import minimal_instance
from mintcli.mock.script import (
    MockCall,
    Reply,
    _subject,
    _tool_name,
    _tool_schema,
    prompt_text,
)

_ID_PREFIX = {"openai": "call_", "anthropic": "toolu_"}
_LENGTH = {"openai": "length", "anthropic": "max_tokens"}


def fit(reply: Reply, protocol: str, body: dict[str, Any], messages: list[dict[str, Any]]) -> Reply:
    """The reply as the request's parameters shape it."""
    reply = _tool_choice(reply, protocol, body, messages)
    reply = _ids(reply, protocol, messages)
    reply = _stop(reply, protocol, body)
    return _max_tokens(reply, protocol, body)


def _tool_choice(
    reply: Reply, protocol: str, body: dict[str, Any], messages: list[dict[str, Any]]
) -> Reply:
    choice = body.get("tool_choice")
    kind = choice.get("type") if isinstance(choice, dict) else choice
    if kind == "none":
        if not reply.tool_calls:
            return reply
        finish = None if reply.finish_reason in ("tool_calls", "tool_use") else reply.finish_reason
        text = reply.text or f"Mock reply to: {_prompt(messages)[:200]}"
        return replace(reply, tool_calls=(), text=text, finish_reason=finish)
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    if kind in ("required", "any", "tool", "function") and not reply.tool_calls and tools:
        named = None
        if isinstance(choice, dict):  # Anthropic {"name"}, OpenAI {"function": {"name"}}
            fn = choice.get("function")
            named = choice.get("name") or (fn.get("name") if isinstance(fn, dict) else None)
        name = named if isinstance(named, str) else _tool_name(tools[0])
        tool = next((t for t in tools if _tool_name(t) == name), None)
        schema = _tool_schema(tool) if isinstance(tool, dict) else {}
        args = minimal_instance(schema, _subject(_prompt(messages)))
        call = MockCall("", name or "tool", orjson.dumps(args).decode())
        # A model made to call a tool answers with the call alone.
        reply = replace(reply, text="", repeat=1, tool_calls=(call,))
    single = body.get("parallel_tool_calls") is False or (
        isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True
    )
    if single and len(reply.tool_calls) > 1:
        reply = replace(reply, tool_calls=reply.tool_calls[:1])
    return reply


def _prompt(messages: list[dict[str, Any]]) -> str:
    user: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return prompt_text(user.get("content"))


def _ids(reply: Reply, protocol: str, messages: list[dict[str, Any]]) -> Reply:
    """A call without a scripted id gets one made from the conversation and its
    place: unique across the turns of a conversation, yet the same when the same
    request comes again (a retry or a resumed stream sees the same reply)."""
    if not any(not c.id for c in reply.tool_calls):
        return reply
    seed = hashlib.sha256(orjson.dumps(messages)).digest()
    prefix = _ID_PREFIX[protocol]
    calls = tuple(
        c if c.id else replace(c, id=prefix + hashlib.sha256(seed + b"%d" % i).hexdigest()[:24])
        for i, c in enumerate(reply.tool_calls)
    )
    return replace(reply, tool_calls=calls)


def _stop(reply: Reply, protocol: str, body: dict[str, Any]) -> Reply:
    stops = body.get("stop_sequences" if protocol == "anthropic" else "stop")
    if isinstance(stops, str):
        stops = [stops]
    if not isinstance(stops, list) or not reply.text:
        return reply
    text = reply.text * max(1, reply.repeat)
    found = [(text.find(s), s) for s in stops if isinstance(s, str) and s and s in text]
    if not found:
        return reply
    at, sequence = min(found)
    # The text ends before the sequence (which is not sent) and the turn ends there.
    if protocol == "anthropic":
        return replace(
            reply, text=text[:at], repeat=1, tool_calls=(), finish_reason="stop_sequence",
            stop_sequence=sequence,
        )  # fmt: skip
    return replace(reply, text=text[:at], repeat=1, tool_calls=(), finish_reason="stop")


def _max_tokens(reply: Reply, protocol: str, body: dict[str, Any]) -> Reply:
    limit = body.get("max_tokens")
    if protocol == "openai" and body.get("max_completion_tokens") is not None:
        limit = body["max_completion_tokens"]
    if not isinstance(limit, int) or isinstance(limit, bool):
        return reply
    limit = max(0, limit)  # (a lenient mock may get a negative one)
    n = max(1, reply.piece_chars)
    budget = limit * n  # characters that fit in limit pieces
    text = reply.text * max(1, reply.repeat)
    need = _pieces(reply.reasoning, n) + _pieces(text, n)
    need += sum(_pieces(c.arguments, n) for c in reply.tool_calls)
    if need <= limit:
        return reply
    # Reasoning comes first, then the text, then the calls' arguments: what does
    # not fit is cut, and calls that do not start are dropped.
    reasoning = reply.reasoning[:budget]
    budget = (limit - _pieces(reasoning, n)) * n
    text = text[:budget]
    budget = (limit - _pieces(reasoning, n) - _pieces(text, n)) * n
    calls = []
    for call in reply.tool_calls:
        if budget <= 0:
            break
        calls.append(replace(call, arguments=call.arguments[:budget]))
        budget -= _pieces(call.arguments[:budget], n) * n
    return replace(
        reply, reasoning=reasoning, text=text, repeat=1, tool_calls=tuple(calls),
        finish_reason=_LENGTH[protocol], stop_sequence=None,
    )  # fmt: skip


def _pieces(text: str, n: int) -> int:
    return -(-len(text) // n)
