"""Anthropic Messages streaming (``POST {base}/messages``)."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from mintcli.errors import ProtocolError, UsageError, error_for_stream
from mintcli.events import (
    Event,
    Finish,
    MessageStart,
    ReasoningDelta,
    TextDelta,
    ToolCall,
)
from mintcli.protocols.base import (
    OWNED,
    check_options,
    error_kind,
    error_message,
    load_object,
    not_a_reply,
    parse_arguments,
    typed,
    usage_event,
)
from mintcli.protocols.template import TextTemplate
from mintcli.request import ChatRequest
from mintcli.sse import SSEEvent

API_VERSION = "2023-06-01"


DEFAULT_MAX_TOKENS = 4096

_TOOL_CHOICE = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}


class AnthropicProtocol:
    name = "anthropic"
    chat_path = "/messages"
    sentinel: bytes | None = None

    def retext(self, data: bytes, text: str) -> bytes | None:
        obj = orjson.loads(data)
        if obj.get("type") == "content_block_start":
            obj["content_block"]["text"] = text  # the block itself must stay
        elif not text:
            return None
        else:
            obj["delta"]["text"] = text
        return orjson.dumps(obj)

    owned: ClassVar[dict[str, str]] = {**OWNED, "system": "-s/--system"}

    def check_options(self, options: dict[str, Any]) -> None:
        check_options(options, self.owned)

    def headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key, "anthropic-version": API_VERSION}

    def build_body(self, request: ChatRequest) -> dict[str, Any]:
        source = request.messages
        if request.prefill is not None:
            source = [*source, {"role": "assistant", "content": request.prefill}]
        system, messages = convert_messages(source)
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": messages,
            "stream": True,
        }
        if system:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = [
                {
                    "name": t.name,
                    **({"description": t.description} if t.description else {}),
                    "input_schema": t.parameters,
                }
                for t in request.tools
            ]
        if request.tool_choice is not None:
            body["tool_choice"] = _TOOL_CHOICE.get(
                request.tool_choice, {"type": "tool", "name": request.tool_choice}
            )
        body.update(request.options)
        return body

    def decoder(self) -> AnthropicDecoder:
        return AnthropicDecoder()

    def reply_events(self, reply: dict[str, Any]) -> list[Event]:
        """A ``message`` object: its content blocks in order."""
        content = typed(reply, "content", list, "reply")
        if reply.get("type") != "message" or content is None:
            raise not_a_reply("message")
        out: list[Event] = [MessageStart(typed(reply, "id", str), typed(reply, "model", str))]
        for block in content:
            if not isinstance(block, dict):
                raise ProtocolError("malformed reply: a content block is not an object")
            kind = typed(block, "type", str)
            if kind == "text":
                text = typed(block, "text", str)
                out += [TextDelta(text)] if text else []
            elif kind == "thinking":
                thought = typed(block, "thinking", str)
                out += [ReasoningDelta(thought)] if thought else []
            elif kind == "tool_use":
                arguments = block.get("input")
                name = typed(block, "name", str) or ""
                out.append(ToolCall(typed(block, "id", str) or "", name, arguments or {}))
        usage = typed(reply, "usage", dict)
        if usage:
            out.append(usage_event(usage, "input_tokens", "output_tokens"))
        reason = typed(reply, "stop_reason", str)
        if reason:
            out.append(Finish(reason))
        return out


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    raise UsageError("message content must be a string or a list of parts")


def _blocks(content: Any) -> list[dict[str, Any]]:
    """OpenAI content (string or parts) as Anthropic content blocks."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise UsageError("message content must be a string or a list of parts")
    blocks: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            raise UsageError("message content parts must be objects")
        kind = part.get("type")
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            if url.startswith("data:") and ";base64," in url:
                media, _, data = url[5:].partition(";base64,")
                source = {"type": "base64", "media_type": media, "data": data}
            else:
                source = {"type": "url", "url": url}
            blocks.append({"type": "image", "source": source})
        else:
            blocks.append(part)  # already an Anthropic block, pass it through
    return blocks


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Add a turn, merging it into the previous one when the role repeats
    (consecutive tool results become one user turn, as the API expects)."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def convert_messages(source: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """OpenAI-shape messages -> (system text, Anthropic messages)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for msg in source:
        role = msg.get("role")
        if role in ("system", "developer"):
            system.append(_text_of(msg.get("content")))
        elif role == "user":
            _append(out, "user", _blocks(msg.get("content")))
        elif role == "assistant":
            blocks = _blocks(msg.get("content"))
            for call in msg.get("tool_calls") or ():
                fn = call.get("function") or {}
                raw = fn.get("arguments") or "{}"
                try:
                    args = orjson.loads(raw) if isinstance(raw, str) else raw
                except orjson.JSONDecodeError:
                    raise UsageError(
                        f"tool call {call.get('id')!r} in --messages has invalid JSON arguments"
                    ) from None
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": fn.get("name"),
                        "input": args,
                    }
                )
            _append(out, "assistant", blocks)
        elif role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": msg.get("tool_call_id"),
                "content": _text_of(msg.get("content")),
            }
            _append(out, "user", [result])
        else:
            raise UsageError(f"unknown message role {role!r}")
    # Single text blocks read better (and log smaller) as plain strings.
    for msg in out:
        blocks = msg["content"]
        if len(blocks) == 1 and blocks[0].get("type") == "text":
            msg["content"] = blocks[0]["text"]
    return ("\n\n".join(system) if system else None), out


def _put_text(obj: Any, text: str) -> None:
    obj["delta"]["text"] = text


class _Block:
    __slots__ = ("id", "kind", "name", "parts")

    def __init__(self, kind: str, id: str = "", name: str = "") -> None:
        self.kind = kind
        self.id = id
        self.name = name
        self.parts: list[str] = []


class AnthropicDecoder:
    """Events: message_start, content_block_start/delta/stop (text, thinking,
    tool_use), ping, message_delta (stop reason, output tokens), message_stop,
    error. ``message_stop`` terminates the stream."""

    def __init__(self) -> None:
        self.terminated = False
        self._blocks: dict[int, _Block] = {}
        self._template = TextTemplate()

    def decode(self, event: SSEEvent) -> list[Event]:
        text = self._template.match(event.data)
        if text is not None:
            return [TextDelta(text)] if text else []
        obj = load_object(event.data, "stream event")
        kind = typed(obj, "type", str) or event.event
        if kind == "content_block_delta":
            return self._block_delta(obj, event.data)
        if kind == "content_block_start":
            return self._block_start(obj)
        if kind == "content_block_stop":
            ended = self._blocks.pop(typed(obj, "index", int) or 0, None)
            if ended is not None and ended.kind == "tool_use":
                arguments, problem = parse_arguments("".join(ended.parts))
                return [ToolCall(ended.id, ended.name, arguments, problem)]
            return []
        if kind == "message_start":
            message = typed(obj, "message", dict) or {}
            out: list[Event] = [
                MessageStart(typed(message, "id", str), typed(message, "model", str))
            ]
            usage = typed(message, "usage", dict)
            if usage:
                out.append(usage_event(usage, "input_tokens", "output_tokens"))
            return out
        if kind == "message_delta":
            out = []
            reason = typed(typed(obj, "delta", dict) or {}, "stop_reason", str)
            usage = typed(obj, "usage", dict)
            if usage:
                out.append(usage_event(usage, "input_tokens", "output_tokens"))
            if reason:
                out.append(Finish(reason))
            return out
        if kind == "message_stop":
            self.terminated = True
            return []
        if kind == "error":
            raise error_for_stream(error_kind(obj), error_message(obj))
        return []  # ping and event types added after this was written

    def _block_delta(self, obj: dict[str, Any], data: bytes) -> list[Event]:
        delta = typed(obj, "delta", dict) or {}
        dkind = typed(delta, "type", str)
        if dkind == "text_delta":
            text = typed(delta, "text", str)
            if not text:
                return []
            # Only an event that names its own type: the fast path never looks
            # at the SSE event name, which decides for one that does not.
            if self._template.learning and obj.get("type"):
                self._template.learn(data, obj, text, _put_text)
            return [TextDelta(text)]
        if dkind == "thinking_delta":
            text = typed(delta, "thinking", str)
            return [ReasoningDelta(text)] if text else []
        if dkind == "input_json_delta":
            block = self._blocks.get(typed(obj, "index", int) or 0)
            partial = typed(delta, "partial_json", str)
            if block is not None and partial:
                block.parts.append(partial)
        return []  # signature_delta, citations_delta, ...

    def _block_start(self, obj: dict[str, Any]) -> list[Event]:
        start = typed(obj, "content_block", dict) or {}
        btype = typed(start, "type", str) or ""
        opened = _Block(btype, typed(start, "id", str) or "", typed(start, "name", str) or "")
        self._blocks[typed(obj, "index", int) or 0] = opened
        if btype == "text":
            text = typed(start, "text", str)
            return [TextDelta(text)] if text else []
        if btype == "thinking":
            text = typed(start, "thinking", str)
            return [ReasoningDelta(text)] if text else []
        if btype == "tool_use" and start.get("input"):
            # Some servers send the whole input up front instead of deltas.
            opened.parts.append(orjson.dumps(start["input"]).decode())
        return []
