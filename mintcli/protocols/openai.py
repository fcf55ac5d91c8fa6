"""OpenAI Chat Completions streaming (``POST {base}/chat/completions``)."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from mintcli.base.events import (
    Event,
    Finish,
    MessageStart,
    ReasoningDelta,
    RefusalDelta,
    TextDelta,
    ToolCall,
)
from mintcli.errors import ProtocolError, UsageError, error_for_stream
from mintcli.options.kinds import TOOL_NAME
from mintcli.protocols.base import (
    MAX_CALLS,
    OWNED,
    ArgumentsBudget,
    check_options,
    error_kind,
    error_message,
    load_object,
    not_a_reply,
    parse_arguments,
    too_many_calls,
    typed,
    usage_event,
)
from mintcli.protocols.fastpath import TextTemplate
from mintcli.request.model import ChatRequest
from mintcli.wire.sse import SSEEvent

_DONE = b"[DONE]"


_ANTHROPIC_ONLY = ("is_error", "thinking_blocks")


class OpenAIProtocol:
    name = "openai"
    chat_path = "/chat/completions"
    sentinel: bytes | None = _DONE

    def retext(self, data: bytes, text: str) -> bytes | None:
        obj = orjson.loads(data)
        delta = obj["choices"][0]["delta"]
        if not text and len(delta) == 1 and not obj["choices"][0].get("finish_reason"):
            return None
        delta["content"] = text
        return orjson.dumps(obj)

    owned: ClassVar[dict[str, str]] = {**OWNED, "stream_options": "nothing: mint asks for usage"}

    def check_options(self, options: dict[str, Any], schema: bool = False) -> None:
        check_options(options, self.owned)

    def headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def refuses_prefill(self, request: ChatRequest) -> bool:
        return False

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        _check_parts(request.messages)
        # is_error marks a failed tool result for Anthropic; Chat Completions has no
        # such field (the result's text says it), so it is not sent; nor are an
        # Anthropic reply's thinking_blocks (a conversation that changed protocol).
        messages = [
            {k: v for k, v in m.items() if k not in _ANTHROPIC_ONLY}
            if "is_error" in m or "thinking_blocks" in m
            else m
            for m in request.messages
        ]
        if request.prefill is not None:
            messages.append({"role": "assistant", "content": request.prefill})
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        **({"description": t.description} if t.description else {}),
                        "parameters": t.parameters,
                    },
                }
                for t in request.tools
            ]
        if request.tool_choice is not None:
            choice = request.tool_choice
            if choice in ("auto", "none", "required"):
                body["tool_choice"] = choice
            else:
                body["tool_choice"] = {"type": "function", "function": {"name": choice}}
        if request.schema is not None:
            if "response_format" in request.options:
                raise UsageError("-o response_format: with --schema mint writes this field itself")
            title = request.schema.get("title")
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": title if isinstance(title, str) and TOOL_NAME.match(title) else "reply",
                    "strict": True,
                    "schema": request.schema,
                },
            }
        body.update(request.options)
        return body

    def decoder(self, request: ChatRequest | None = None) -> OpenAIDecoder:
        return OpenAIDecoder()

    def reply_events(
        self, reply: dict[str, Any], request: ChatRequest | None = None
    ) -> list[Event]:
        """A ``chat.completion`` object: ``choices[0].message`` holds it all."""
        choices = typed(reply, "choices", list, "reply")
        choice = choices[0] if choices else None
        if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
            raise not_a_reply("chat completion")
        message = choice["message"]
        out: list[Event] = [MessageStart(typed(reply, "id", str), typed(reply, "model", str))]
        out += _texts(message)
        calls = typed(message, "tool_calls", list) or ()
        if len(calls) > MAX_CALLS:
            raise too_many_calls()
        for i, call in enumerate(calls):
            if not isinstance(call, dict):
                raise ProtocolError("malformed reply: a tool call is not an object")
            fn = typed(call, "function", dict) or {}
            arguments, problem = parse_arguments(typed(fn, "arguments", str) or "")
            name = typed(fn, "name", str) or ""
            out.append(ToolCall(typed(call, "id", str) or f"call_{i}", name, arguments, problem))
        reason = typed(choice, "finish_reason", str)
        if reason:
            out.append(Finish(reason))
        usage = typed(reply, "usage", dict)
        if usage:
            out.append(usage_event(usage, "prompt_tokens", "completion_tokens"))
        return out


def _check_parts(messages: list[dict[str, Any]]) -> None:
    """Chat Completions takes a PDF only as file data, not by URL."""
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") == "file":
                url = (part.get("file") or {}).get("file_url")
                if url:
                    raise UsageError(
                        f"the OpenAI protocol cannot send a PDF by URL ({url}): download "
                        "it and attach the file, or use --protocol anthropic"
                    )


def _put_content(obj: Any, text: str) -> None:
    obj["choices"][0]["delta"]["content"] = text


def _texts(message: dict[str, Any]) -> list[Event]:
    """The reasoning and the text of a message or a delta (both have the same keys)."""
    out: list[Event] = []
    reasoning = typed(message, "reasoning_content", str) or typed(message, "reasoning", str)
    if reasoning:
        out.append(ReasoningDelta(reasoning))
    content = typed(message, "content", str)
    if content:
        out.append(TextDelta(content))
    refusal = typed(message, "refusal", str)  # Structured Outputs and safety refusals
    if refusal:
        out.append(RefusalDelta(refusal))
    return out


class _PendingCall:
    __slots__ = ("id", "name", "parts")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.parts: list[str] = []


class OpenAIDecoder:
    """Chunks carry ``choices[0].delta``; only choice 0 is followed. Tool calls are
    assembled by ``index`` (id and name come once, arguments in any number of
    pieces, several calls may interleave) and emitted complete when the choice
    finishes. ``[DONE]`` or a finish reason terminates the stream; ``[DONE]`` ends
    it (the usage chunk comes after the finish reason, nothing after [DONE])."""

    def __init__(self) -> None:
        self.terminated = False
        self.ended = False
        self._calls: dict[int, _PendingCall] = {}
        self._slots: dict[int, int] = {}  # a wire index -> the key of its latest call
        self._budget = ArgumentsBudget()
        self._template = TextTemplate()

    def decode(self, event: SSEEvent) -> list[Event]:
        data = event.data
        if event.event == "message":
            text = self._template.match(data)
            if text is not None:
                return [TextDelta(text)] if text else []
        if data == _DONE:
            self.terminated = self.ended = True
            return self._flush_calls()
        obj = load_object(data, "stream event")
        if event.event == "error" or obj.get("error"):
            raise error_for_stream(error_kind(obj), error_message(obj))
        out: list[Event] = []
        choices = typed(obj, "choices", list)
        if choices:
            choice = choices[0]
            if not isinstance(choice, dict):
                raise ProtocolError("malformed stream event: choices[0] is not an object")
            if typed(choice, "index", int) in (0, None):
                delta = typed(choice, "delta", dict)
                reason = typed(choice, "finish_reason", str)
                content = delta.get("content") if delta else None
                if delta and len(delta) == 1 and content and type(content) is str:
                    out.append(TextDelta(content))  # the common case
                    if (
                        self._template.learning
                        and event.event == "message"
                        and not reason
                        and not obj.get("usage")
                    ):
                        self._template.learn(data, obj, content, _put_content)
                elif delta:
                    self._delta(obj, delta, out)
                if reason:
                    out.extend(self._flush_calls())
                    out.append(Finish(reason))
                    self.terminated = True
        usage = typed(obj, "usage", dict)
        if usage:
            out.append(usage_event(usage, "prompt_tokens", "completion_tokens"))
        return out

    def _delta(self, obj: dict[str, Any], delta: dict[str, Any], out: list[Event]) -> None:
        if "role" in delta:
            out.append(MessageStart(typed(obj, "id", str), typed(obj, "model", str)))
        out += _texts(delta)
        for piece in typed(delta, "tool_calls", list) or ():
            if not isinstance(piece, dict):
                raise ProtocolError("malformed stream event: a tool call piece is not an object")
            index = typed(piece, "index", int) or 0
            call = self._calls.get(self._slots.get(index, index))
            call_id = typed(piece, "id", str)
            if call is None or (call_id and call.id and call_id != call.id):
                # A new id where the pending call has another one is a new call:
                # Gemini sends parallel calls one per chunk, all without an index.
                key = index if call is None else max(self._calls) + 1
                self._budget.call()
                self._slots[index] = key
                call = self._calls[key] = _PendingCall()
            if call_id:
                call.id = call_id
            fn = typed(piece, "function", dict) or {}
            name = typed(fn, "name", str)
            if name and name != call.name:
                # Normally sent once; some servers repeat it, a few split it.
                call.name = name if not call.name else call.name + name
            args = typed(fn, "arguments", str)
            if args:
                self._budget.spend(args)
                call.parts.append(args)

    def _flush_calls(self) -> list[Event]:
        out: list[Event] = []
        for index in sorted(self._calls):
            call = self._calls[index]
            arguments, problem = parse_arguments("".join(call.parts))
            out.append(ToolCall(call.id or f"call_{index}", call.name, arguments, problem))
        self._calls.clear()
        self._slots.clear()
        return out
