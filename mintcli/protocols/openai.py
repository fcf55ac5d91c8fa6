"""OpenAI Chat Completions streaming (``POST {base}/chat/completions``)."""

from __future__ import annotations

from typing import Any

import orjson

from mintcli.errors import ProtocolError, error_for_stream
from mintcli.events import (
    Event,
    Finish,
    MessageStart,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from mintcli.protocols.base import (
    error_kind,
    error_message,
    parse_arguments,
)
from mintcli.protocols.template import TextTemplate
from mintcli.request import ChatRequest
from mintcli.sse import SSEEvent

_DONE = b"[DONE]"


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

    def headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        messages = list(request.messages)
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
        body.update(request.options)
        return body

    def decoder(self) -> OpenAIDecoder:
        return OpenAIDecoder()



def _put_content(obj: Any, text: str) -> None:
    obj["choices"][0]["delta"]["content"] = text


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
    finishes. ``[DONE]`` or a finish reason terminates the stream."""

    def __init__(self) -> None:
        self.terminated = False
        self._calls: dict[int, _PendingCall] = {}
        self._template = TextTemplate()

    def decode(self, event: SSEEvent) -> list[Event]:
        data = event.data
        if event.event == "message":
            text = self._template.match(data)
            if text is not None:
                return [TextDelta(text)] if text else []
        if data == _DONE:
            self.terminated = True
            return self._flush_calls()
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"malformed JSON in stream: {exc}") from None
        if not isinstance(obj, dict):
            raise ProtocolError("malformed stream chunk: not a JSON object")
        if event.event == "error" or obj.get("error"):
            raise error_for_stream(error_kind(obj), error_message(obj))
        out: list[Event] = []
        choices = obj.get("choices")
        if choices:
            choice = choices[0]
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                delta = choice.get("delta")
                if delta:
                    content = delta.get("content")
                    if len(delta) == 1 and content and type(content) is str:
                        out.append(TextDelta(content))  # the common case
                        if (
                            self._template.learning
                            and event.event == "message"
                            and not choice.get("finish_reason")
                            and not obj.get("usage")
                        ):
                            self._template.learn(data, obj, content, _put_content)
                    else:
                        self._delta(obj, delta, out)
                reason = choice.get("finish_reason")
                if reason:
                    out.extend(self._flush_calls())
                    out.append(Finish(reason))
                    self.terminated = True
        usage = obj.get("usage")
        if usage:
            out.append(Usage(usage.get("prompt_tokens"), usage.get("completion_tokens")))
        return out

    def _delta(self, obj: dict[str, Any], delta: dict[str, Any], out: list[Event]) -> None:
        if "role" in delta:
            out.append(MessageStart(obj.get("id"), obj.get("model")))
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if reasoning and isinstance(reasoning, str):
            out.append(ReasoningDelta(reasoning))
        content = delta.get("content")
        if content:
            if not isinstance(content, str):
                raise ProtocolError("malformed stream chunk: delta content is not a string")
            out.append(TextDelta(content))
        for piece in delta.get("tool_calls") or ():
            index = piece.get("index", 0)
            call = self._calls.get(index)
            if call is None:
                call = self._calls[index] = _PendingCall()
            if piece.get("id"):
                call.id = piece["id"]
            fn = piece.get("function") or {}
            name = fn.get("name")
            if name and name != call.name:
                # Normally sent once; some servers repeat it, a few split it.
                call.name = name if not call.name else call.name + name
            args = fn.get("arguments")
            if args:
                call.parts.append(args)

    def _flush_calls(self) -> list[Event]:
        out: list[Event] = []
        for index in sorted(self._calls):
            call = self._calls[index]
            arguments, problem = parse_arguments("".join(call.parts))
            out.append(ToolCall(call.id or f"call_{index}", call.name, arguments, problem))
        self._calls.clear()
        return out
