"""What the two wire protocols share: their interface, and readers of error bodies,
model lists and tool-call arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import orjson

from mintcli.base.events import Usage
from mintcli.errors import ProtocolError, UsageError

if TYPE_CHECKING:
    from mintcli.base.events import Event
    from mintcli.request.model import ChatRequest
    from mintcli.wire.sse import SSEEvent


class StreamDecoder(Protocol):
    """Turns one response's SSE events into mint events (stateful, one per response)."""

    # True once the stream's terminator arrived: after it, an end of stream is a success.
    terminated: bool
    # True once the stream's last event arrived (OpenAI [DONE], Anthropic
    # message_stop): whatever a server sends after it is not part of the reply.
    ended: bool

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

    # Body fields mint writes itself, each with the option that sets it.
    owned: ClassVar[dict[str, str]]

    def check_options(self, options: dict[str, Any], schema: bool = False) -> None:
        """Refuse (UsageError) ``-o`` fields that mint writes itself, or that
        clash with what mint adds (``schema``: --schema is given; Anthropic
        forces a tool for it, which extended thinking does not allow)."""
        ...

    def headers(self, api_key: str) -> dict[str, str]: ...

    def build_body(self, request: ChatRequest) -> dict[str, Any]: ...

    def refuses_prefill(self, request: ChatRequest) -> bool:
        """Whether the API refuses a prefill (a final assistant message) for
        ``request``, so a broken reply must start again (Anthropic with thinking on)."""
        ...

    def decoder(self, request: ChatRequest | None = None) -> StreamDecoder:
        """A decoder for the response to ``request`` (which tells, for one, whether
        the reply text comes as a forced tool's input: --schema on Anthropic)."""
        ...

    def reply_events(
        self, reply: dict[str, Any], request: ChatRequest | None = None
    ) -> list[Event]:
        """The events a stream would have given for a whole (non-streamed) reply."""
        ...


T = TypeVar("T")
_KINDS = {dict: "an object", list: "an array", str: "a string", int: "an integer"}


def load_object(data: bytes, what: str) -> dict[str, Any]:
    """A wire event's (or body's) JSON, which must be an object."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"malformed JSON in {what}: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"malformed {what}: not a JSON object")
    return obj


def typed(obj: dict[str, Any], key: str, kind: type[T], where: str = "stream event") -> T | None:
    """``obj[key]`` when present and not null, which must be of ``kind`` (a
    boolean is not an integer): a server sending the wrong shape gets a
    protocol error (exit 8), never a crash or a silently empty reply."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        got = _KINDS.get(type(value), "true or false" if isinstance(value, bool) else "a number")
        raise ProtocolError(f"malformed {where}: {key} is {got}, not {_KINDS.get(kind, kind)}")
    return value


def not_a_reply(what: str) -> ProtocolError:
    return ProtocolError(f"expected an event stream or a whole {what}, got another JSON object")


def usage_event(usage: dict[str, Any], input_key: str, output_key: str) -> Usage:
    return Usage(typed(usage, input_key, int), typed(usage, output_key, int))


def parse_model_list(body: Any) -> list[dict[str, Any]]:
    """``GET {base}/models``: both APIs answer ``{"data": [{"id": ...}, ...]}``."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ProtocolError("unexpected /models response: no 'data' list")
    # An entry without a string id names no model (it is not listed as "None"),
    # nor does one whose id holds a line break or another control character
    # (one id a line is what `mint models` prints and completion reads).
    return [m for m in data if isinstance(m, dict) and _printable_id(m.get("id"))]


# Anthropic's GET /models comes in pages (``has_more``, ``last_id``; the next
# page is asked for with ``after_id``, up to 1000 models a page); OpenAI's in
# one body. Ten pages of 1000 is far more than any gateway lists, and bounds
# what a server that says "more" forever can make mint read (16 MiB a page).
MODEL_PAGE = 1000
MODEL_PAGES = 10


def list_models(
    fetch: Callable[[dict[str, str]], Any], protocol: str
) -> tuple[list[dict[str, Any]], str | None]:
    """Every model of ``GET /models``, each id once, and why the listing may be
    incomplete (None: it is whole). ``fetch`` gets one page for its query
    parameters."""
    paged = protocol == "anthropic"
    params = {"limit": str(MODEL_PAGE)} if paged else {}
    models: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(MODEL_PAGES):
        body = fetch(params)
        new = [m for m in parse_model_list(body) if m["id"] not in seen]
        seen.update(m["id"] for m in new)
        models += new
        if not paged or body.get("has_more") is not True:
            return models, None
        # The same page again (whatever the cursor), or no cursor to ask for the
        # next: following either would loop, so what was listed is all there is.
        if not new:
            return models, "the server says more models follow but sent none not listed already"
        last = body.get("last_id")
        if not isinstance(last, str) or not last:
            return models, "the server says more models follow but gave no last_id to ask for them"
        params = {"limit": str(MODEL_PAGE), "after_id": last}
    return models, f"the server says more models follow after {MODEL_PAGES} pages; stopped there"


def _printable_id(value: Any) -> bool:
    return isinstance(value, str) and value.isprintable() and bool(value.strip())


# Fields both protocols' bodies take from mint's own options.
OWNED = {
    "model": "-m/--model",
    "messages": "the prompt or --messages",
    "stream": "nothing: mint always streams",
    "tools": "--tool/--tools",
    "tool_choice": "--tool-choice",
    "max_tokens": "--max-tokens",
    "temperature": "--temperature",
}


def check_options(options: dict[str, Any], owned: dict[str, str]) -> None:
    """``-o KEY=VALUE`` may add body fields, not replace the ones mint writes."""
    for key in options:
        if key in owned:
            raise UsageError(f"-o {key}: mint writes this field itself; use {owned[key]}")


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


# All the tool-call arguments of one response together, in characters: each
# piece is bounded by the SSE event limit, but not how many pieces there are.
MAX_ARGUMENTS = 16 * 1024 * 1024
# The tool calls of one response. Each costs memory however short its arguments
# (about 0.7 KB held until the reply ends), so their number needs a cap of its
# own. Real replies hold a handful, rarely dozens: a request offers at most 128
# tools, and every call's result goes back in the next request. 1,024 leaves
# room for a model that calls one tool over a long list.
MAX_CALLS = 1024


def too_many_calls() -> ProtocolError:
    return ProtocolError(
        f"this reply makes more than {MAX_CALLS:,} tool calls, mint's limit for one reply"
    )


class ArgumentsBudget:
    """Counts a response's tool calls against MAX_CALLS and their argument
    text against MAX_ARGUMENTS."""

    __slots__ = ("calls", "used")

    def __init__(self) -> None:
        self.used = 0
        self.calls = 0

    def call(self) -> None:
        """One more call began."""
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise too_many_calls()

    def spend(self, piece: str) -> None:
        self.used += len(piece)
        if self.used > MAX_ARGUMENTS:
            raise ProtocolError(
                f"the tool-call arguments of this reply are longer than {MAX_ARGUMENTS:,} "
                "characters, mint's limit for them"
            )


def parse_arguments(raw: str) -> tuple[Any, str | None]:
    """Parse a tool call's accumulated argument text. Empty means no arguments.
    Invalid JSON keeps the raw string and says what is wrong."""
    if not raw.strip():
        return {}, None
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        return raw, f"invalid JSON in arguments: {exc}"
