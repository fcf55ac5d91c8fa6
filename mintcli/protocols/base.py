"""What the two wire protocols share: their interface, and readers of error bodies,
model lists and tool-call arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from mintcli.errors import ProtocolError

if TYPE_CHECKING:
    from mintcli.events import Event
    from mintcli.request import ChatRequest
    from mintcli.sse import SSEEvent


class StreamDecoder(Protocol):
    """Turns one response's SSE events into mint events (stateful, one per response)."""

    # True once the stream's terminator arrived: after it, an end of stream is a success.
    terminated: bool

    def decode(self, event: SSEEvent) -> list[Event]: ...


class WireProtocol(Protocol):
    name: str
    chat_path: str
    # Event data that only marks the end of the stream (not shown by --format raw).
    sentinel: bytes | None

    def retext(self, data: bytes, text: str) -> bytes | None:
        """Rewrite a text event's data to carry ``text`` instead (None: drop the
        event). Used by --format raw where a continuation repeats a few characters."""
        ...

    def headers(self, api_key: str) -> dict[str, str]: ...

    def build_body(self, request: ChatRequest) -> dict[str, Any]: ...

    def decoder(self) -> StreamDecoder: ...


def parse_model_list(body: Any) -> list[dict[str, Any]]:
    """``GET {base}/models``: both APIs answer ``{"data": [{"id": ...}, ...]}``."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ProtocolError("unexpected /models response: no 'data' list")
    return [m for m in data if isinstance(m, dict) and "id" in m]


def error_message(body: Any) -> str | None:
    """The human message in an error body. OpenAI sends ``{"error": {"message"}}``,
    Anthropic ``{"type": "error", "error": {"type", "message"}}``; some gateways
    send ``{"error": "text"}`` or ``{"message": "text"}``."""
    if not isinstance(body, dict):
        return None
    err = body.get("error")
    if isinstance(err, dict):
        msg = err.get("message")
        if isinstance(msg, str) and msg:
            return msg
    if isinstance(err, str) and err:
        return err
    msg = body.get("message") or body.get("detail")
    return msg if isinstance(msg, str) and msg else None


def error_kind(body: Any) -> str | None:
    """The machine-readable error type, when the body has one."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            kind = err.get("type") or err.get("code")
            return str(kind) if kind else None
    return None


def parse_arguments(raw: str) -> tuple[Any, str | None]:
    """Parse a tool call's accumulated argument text. Empty means no arguments.
    Invalid JSON keeps the raw string and says what is wrong."""
    import orjson

    if not raw.strip():
        return {}, None
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        return raw, f"invalid JSON in arguments: {exc}"
