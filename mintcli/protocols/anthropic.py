"""Anthropic Messages streaming (``POST {base}/messages``)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeGuard

import orjson

from mintcli.base.events import (
    Event,
    Finish,
    MessageStart,
    ReasoningBlock,
    ReasoningDelta,
    TextDelta,
    ToolCall,
)
from mintcli.errors import ProtocolError, UsageError, error_for_stream
from mintcli.protocols.anthropic_messages import convert_messages
from mintcli.protocols.base import (
    MAX_ARGUMENTS,
    OWNED,
    ArgumentsBudget,
    check_options,
    error_kind,
    error_message,
    load_object,
    not_a_reply,
    parse_arguments,
    typed,
    usage_event,
)
from mintcli.protocols.fastpath import TextTemplate
from mintcli.request.model import ChatRequest
from mintcli.wire.sse import SSEEvent

API_VERSION = "2023-06-01"


DEFAULT_MAX_TOKENS = 4096

# --schema: the Messages API has no JSON-mode field mint could rely on, so the
# schema becomes the input schema of one tool the model must call. Its input is
# the reply: the decoder streams it as text, and the rest of mint never sees a
# tool call.
SCHEMA_TOOL = "structured_reply"
SCHEMA_TOOL_DESCRIPTION = (
    "Give your whole answer as this tool's input; it must follow the input schema."
)

THINKING = ("thinking", "redacted_thinking")

_TOOL_CHOICE = {"auto": {"type": "auto"}, "none": {"type": "none"}, "required": {"type": "any"}}


class AnthropicProtocol:
    name = "anthropic"
    chat_path = "/messages"
    sentinel: bytes | None = None

    def retext(self, data: bytes, text: str) -> bytes | None:
        obj = orjson.loads(data)
        if obj.get("type") == "content_block_start":
            if obj["content_block"].get("type") == "text":
                obj["content_block"]["text"] = text  # the block itself must stay
        elif not text:
            return None
        elif obj["delta"].get("type") == "input_json_delta":  # --schema's tool input
            obj["delta"]["partial_json"] = text
        else:
            obj["delta"]["text"] = text
        return orjson.dumps(obj)

    owned: ClassVar[dict[str, str]] = {**OWNED, "system": "-s/--system"}

    def check_options(self, options: dict[str, Any], schema: bool = False) -> None:
        check_options(options, self.owned)
        if schema and thinking_on(options):
            # mint would force its tool, and the API refuses forced tool use
            # with thinking: said before anything is sent.
            raise UsageError(
                "--schema cannot be combined with extended thinking (-o thinking=...) "
                "on the Anthropic protocol: it forces a tool, which thinking does not allow"
            )

    def headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key, "anthropic-version": API_VERSION}

    def refuses_prefill(self, request: ChatRequest) -> bool:
        # the extended-thinking guide: not compatible with pre-filled responses
        return thinking_on(request.options)

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
        if request.schema is not None:
            self.check_options(request.options, schema=True)
            body["tools"] = [
                {
                    "name": SCHEMA_TOOL,
                    "description": SCHEMA_TOOL_DESCRIPTION,
                    "input_schema": request.schema,
                }
            ]
            body["tool_choice"] = {"type": "tool", "name": SCHEMA_TOOL}
        body.update(request.options)
        return body

    def decoder(self, request: ChatRequest | None = None) -> AnthropicDecoder:
        return AnthropicDecoder(_text_tool(request))

    def reply_events(
        self, reply: dict[str, Any], request: ChatRequest | None = None
    ) -> list[Event]:
        """A ``message`` object: its content blocks in order."""
        text_tool = _text_tool(request)
        content = typed(reply, "content", list, "reply")
        if reply.get("type") != "message" or content is None:
            raise not_a_reply("message")
        out: list[Event] = [MessageStart(typed(reply, "id", str), typed(reply, "model", str))]
        budget = ArgumentsBudget()
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
                signature = typed(block, "signature", str)
                out += [ReasoningBlock(kind, thought or "", signature)] if signature else []
            elif kind == "redacted_thinking":
                data = typed(block, "data", str)
                out += [ReasoningBlock(kind, data)] if data else []
            elif kind == "tool_use":
                budget.call()
                arguments = block.get("input")
                name = typed(block, "name", str) or ""
                if text_tool is not None and name == text_tool:
                    out.append(TextDelta(orjson.dumps(arguments or {}).decode()))
                    continue
                out.append(ToolCall(typed(block, "id", str) or "", name, arguments or {}))
        usage = typed(reply, "usage", dict)
        if usage:
            out.append(usage_event(usage, "input_tokens", "output_tokens"))
        reason = typed(reply, "stop_reason", str)
        if reason:
            called = any(type(e) is ToolCall for e in out)
            out.append(Finish(_schema_finish(reason, text_tool, called)))
        return out


def thinking_on(options: dict[str, Any]) -> bool:
    """Whether -o thinking turns extended thinking on (enabled or adaptive)."""
    thinking = options.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _text_tool(request: ChatRequest | None) -> str | None:
    """The tool whose input is the reply text (with --schema), if any."""
    return SCHEMA_TOOL if request is not None and request.schema is not None else None


def _schema_finish(reason: str, text_tool: str | None, other_calls: bool) -> str:
    """With --schema the forced tool is mint's, not the user's: the model
    answering through it ended its turn (end_turn), not asked for a tool."""
    if text_tool is not None and reason == "tool_use" and not other_calls:
        return "end_turn"
    return reason


def _put_text(obj: Any, text: str) -> None:
    obj["delta"]["text"] = text


class _Block:
    __slots__ = ("id", "kind", "name", "parts", "signature")

    def __init__(self, kind: str, id: str = "", name: str = "") -> None:
        self.kind = kind
        self.id = id
        self.name = name
        self.parts: list[str] = []  # a tool's input, a thinking block's text
        self.signature = ""  # a thinking block's (signature_delta), or redacted data


class AnthropicDecoder:
    """Events: message_start, content_block_start/delta/stop (text, thinking,
    tool_use), ping, message_delta (stop reason, output tokens), message_stop,
    error. ``message_stop`` terminates and ends the stream.

    With ``text_tool`` (--schema), a tool_use block of that name is the reply:
    its input pieces come out as text, and no tool call is made of it."""

    def __init__(self, text_tool: str | None = None) -> None:
        self.terminated = False
        self.ended = False
        self._blocks: dict[int, _Block] = {}
        self._template = TextTemplate()
        self._text_tool = text_tool
        self._called = False  # a tool other than text_tool was called
        self._budget = ArgumentsBudget()
        self._thought = 0  # thinking text kept to send back (at most MAX_ARGUMENTS)

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
            if ended is None:
                return []
            return self._thinking(ended) if ended.kind in THINKING else self._tool_call(ended)
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
                out.append(Finish(_schema_finish(reason, self._text_tool, self._called)))
            return out
        if kind == "message_stop":
            self.terminated = self.ended = True
            # A tool_use block the server never closed is still a call the model
            # made: kept (with arguments_error if its input is cut), never dropped.
            out = [call for block in self._blocks.values() for call in self._tool_call(block)]
            self._blocks.clear()
            return out
        if kind == "error":
            raise error_for_stream(error_kind(obj), error_message(obj))
        return []  # ping and event types added after this was written

    def _keep(self, block: _Block | None, piece: str) -> TypeGuard[_Block]:
        """Whether a piece of a thinking block (text or signature) is kept to be
        sent back: at most MAX_ARGUMENTS characters in all, so memory stays
        bounded; past that the block is shown but not kept."""
        if block is None or block.kind != "thinking":
            return False
        self._thought += len(piece)
        if self._thought > MAX_ARGUMENTS:
            block.kind, block.parts = "overlong", []
            return False
        return True

    @staticmethod
    def _thinking(block: _Block) -> list[Event]:
        """A finished thinking block, to be sent back with the tool results or a
        prefill (the API refuses a thinking turn replayed without it). One the
        server never signed cannot go back and is not kept."""
        if not block.signature:
            return []
        if block.kind == "redacted_thinking":
            return [ReasoningBlock(block.kind, block.signature)]
        return [ReasoningBlock(block.kind, "".join(block.parts), block.signature)]

    def _tool_call(self, block: _Block) -> list[Event]:
        if block.kind != "tool_use":
            return []
        self._called = True
        arguments, problem = parse_arguments("".join(block.parts))
        return [ToolCall(block.id, block.name, arguments, problem)]

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
            if not text:
                return []
            block = self._blocks.get(typed(obj, "index", int) or 0)
            if self._keep(block, text):
                block.parts.append(text)
            return [ReasoningDelta(text)]
        if dkind == "signature_delta":
            block = self._blocks.get(typed(obj, "index", int) or 0)
            signature = typed(delta, "signature", str)
            if signature and self._keep(block, signature):
                block.signature += signature
            return []
        if dkind == "input_json_delta":
            block = self._blocks.get(typed(obj, "index", int) or 0)
            partial = typed(delta, "partial_json", str)
            if block is not None and partial:
                if block.kind == "reply":
                    return [TextDelta(partial)]
                self._budget.spend(partial)
                block.parts.append(partial)
        return []  # citations_delta, ...

    def _block_start(self, obj: dict[str, Any]) -> list[Event]:
        start = typed(obj, "content_block", dict) or {}
        btype = typed(start, "type", str) or ""
        name = typed(start, "name", str) or ""
        if btype == "tool_use" and self._text_tool is not None and name == self._text_tool:
            btype = "reply"  # --schema: this tool's input is the reply text
        if btype == "tool_use":
            self._budget.call()
        opened = _Block(btype, typed(start, "id", str) or "", name)
        self._blocks[typed(obj, "index", int) or 0] = opened
        if btype == "reply":
            whole = start.get("input")  # a server that sends the input up front
            return [TextDelta(orjson.dumps(whole).decode())] if whole else []
        if btype == "text":
            text = typed(start, "text", str)
            return [TextDelta(text)] if text else []
        if btype == "thinking":
            text = typed(start, "thinking", str)
            opened.signature = typed(start, "signature", str) or ""
            if text:
                opened.parts.append(text)
            return [ReasoningDelta(text)] if text else []
        if btype == "redacted_thinking":
            opened.signature = typed(start, "data", str) or ""  # sent back as it came
        if btype == "tool_use" and start.get("input"):
            # Some servers send the whole input up front instead of deltas.
            whole = orjson.dumps(start["input"]).decode()
            self._budget.spend(whole)
            opened.parts.append(whole)
        return []
