"""Assembling the request: the conversation from argv, stdin and ``--messages``,
plus the model, tools and options from the settings.

Rules (also in the README and man page):
* argv words are joined with spaces; a ``-`` word stands for stdin at that place.
* If stdin is not a terminal and ``--no-stdin`` was not given, stdin is read too:
  argv is the instruction and stdin the material, joined as
  ``INSTRUCTION + "\\n\\n" + MATERIAL``.
* With a prompt in argv, mint waits at most ``--stdin-timeout`` seconds (default
  1) for stdin to deliver its first byte or end; a stdin that stays silent (an
  idle pipe left open by a CI runner) is ignored with a warning. Writing ``-``
  makes mint wait for stdin as long as it takes.
* Without a prompt in argv, stdin is the prompt and is read to its end.
"""

from __future__ import annotations

import select
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from mintcli.base.capped import TEXT_BYTES, over, read_at_most, read_named
from mintcli.errors import UsageError
from mintcli.options.kinds import not_utf8
from mintcli.request.model import ChatRequest, parse_options

if TYPE_CHECKING:
    from mintcli.base.terminal import Terminal
    from mintcli.options.settings import ChatSettings
    from mintcli.storage.conversations import Conversation

_ROLES = {"system", "developer", "user", "assistant", "tool"}


@dataclass
class StdinFacts:
    stream: BinaryIO
    isatty: bool


def _wait_readable(stream: BinaryIO, timeout: float) -> bool:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return True  # not a real file (tests): it will not block
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    except (OSError, ValueError):
        return True
    return bool(ready)


def _decode(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} is not UTF-8 text") from None


def read_stdin(stdin: StdinFacts) -> str:
    data = read_at_most(stdin.stream, TEXT_BYTES)
    if data is None:
        raise UsageError(f"stdin is {over(TEXT_BYTES)}")
    return _decode(data, "stdin")


def assemble_prompt(
    words: tuple[str, ...],
    stdin: StdinFacts,
    *,
    use_stdin: bool,
    stdin_timeout: float,
    warn: Any = None,
) -> str | None:
    """The user prompt, or None when there is none at all."""
    if "-" in words:
        if not use_stdin:
            raise UsageError("'-' means stdin, but --no-stdin was given")
        # Joined with the other words like a word: the line end that ends
        # stdin's last line does not belong in the middle of a sentence.
        material = read_stdin(stdin).rstrip("\r\n")
        return " ".join(material if w == "-" else w for w in words)
    instruction = " ".join(words)
    material = ""
    if use_stdin and not stdin.isatty:
        if not instruction or _wait_readable(stdin.stream, stdin_timeout):
            material = read_stdin(stdin)
        elif warn is not None:
            warn(
                f"stdin sent nothing within {stdin_timeout:g}s, so it was not read "
                "(give '-' to wait for it, or --no-stdin to silence this)"
            )
    material = material if material.strip() else ""
    if instruction and material:
        return f"{instruction}\n\n{material}"
    return instruction or material or None


def load_messages(data: bytes, source: str) -> list[dict[str, Any]]:
    """Validate a ``--messages`` document: a JSON array of OpenAI-shape messages."""
    try:
        messages = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"--messages {source}: not valid JSON ({exc})") from None
    return check_messages(messages, f"--messages {source}")


def check_messages(messages: Any, source: str) -> list[dict[str, Any]]:
    """A list of OpenAI-shape messages, checked; ``source`` names it in errors."""
    if not isinstance(messages, list):
        raise UsageError(f"{source}: expected a JSON array of messages")
    for i, msg in enumerate(messages):
        where = f"{source}: message {i}"
        if not isinstance(msg, dict):
            raise UsageError(f"{where} is not an object")
        role = msg.get("role")
        if role not in _ROLES:
            raise UsageError(f"{where} has an unknown role {role!r}")
        content = msg.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise UsageError(f"{where}: content must be a string, a list of parts or null")
        for part in content if isinstance(content, list) else ():
            _check_part(part, where)
        if role == "tool" and not msg.get("tool_call_id"):
            raise UsageError(f"{where}: a tool message needs tool_call_id")
        calls = msg.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            raise UsageError(f"{where}: tool_calls must be a list of tool calls")
        for call in calls or ():
            if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
                raise UsageError(f"{where}: each tool call needs a function object")
    return messages


def _check_part(part: Any, where: str) -> None:
    """A content part in OpenAI shape (or a block of the other protocol, passed on)."""
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise UsageError(f"{where}: each content part must be an object with a type")
    if part["type"] == "text" and not isinstance(part.get("text"), str):
        raise UsageError(f"{where}: a text part needs its text")
    if part["type"] == "image_url":
        image = part.get("image_url")
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            raise UsageError(f"{where}: an image_url part needs image_url.url")


def build_messages(
    history: list[dict[str, Any]], system: str | None, user: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """``--system`` replaces any system message of the history; the new user
    message, if any, comes last."""
    messages = [
        m for m in history if system is None or m.get("role") not in ("system", "developer")
    ]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    if user is not None:
        messages.append(user)
    return messages


@dataclass(frozen=True)
class Prepared:
    """A request, and the conversation up to its reply as a conversation saves
    it (attachments from files by reference; see attach.py)."""

    request: ChatRequest
    saved: list[dict[str, Any]]


def build_request(settings: ChatSettings, words: tuple[str, ...], term: Terminal) -> ChatRequest:
    return prepare(settings, words, term).request


def _history(
    settings: ChatSettings, continued: Conversation | None, term: Terminal
) -> tuple[list[dict[str, Any]], str]:
    """The earlier messages (a saved conversation's, or --messages) and where they are from."""
    if continued is not None:
        if settings.messages is not None:
            raise UsageError("--messages cannot be combined with -c or --conversation")
        return continued.messages, f"conversation {continued.id}"
    source = settings.messages
    if source is None:
        return [], ""
    where = "stdin" if source == "-" else source
    data = read_named(source, f"--messages {where}", term.stdin)
    return load_messages(data, where), f"--messages {where}"


def prepare(
    settings: ChatSettings,
    words: tuple[str, ...],
    term: Terminal,
    continued: Conversation | None = None,
) -> Prepared:
    """The request for the prompt (argv, stdin), the earlier messages (a
    continued conversation or --messages), tool results and attachments."""
    from mintcli.request.attach import resolve_messages
    from mintcli.request.tools import check_tool_choice, load_tools
    from mintcli.request.turns import load_attachments, stdin_reader, tool_messages, user_message

    tools = load_tools(settings.tool, settings.tools)
    tool_choice = check_tool_choice(settings.tool_choice, tools)
    if any(not_utf8(w) for w in words):
        raise UsageError("the prompt is not valid UTF-8 text")
    reader = stdin_reader(settings, words)
    history, where = _history(settings, continued, term)
    attachments = load_attachments(settings, words, term)
    results = tool_messages(settings.tool_result, history, term, continued is not None)
    # stdin is the prompt's unless an option reads it, or tool results are the new turn
    use_stdin = not settings.no_stdin and reader in (None, "the '-' prompt word")
    if results and not words:
        use_stdin = False
    prompt = assemble_prompt(
        words,
        StdinFacts(term.stdin, term.stdin_isatty),
        use_stdin=use_stdin,
        stdin_timeout=settings.stdin_timeout,
        warn=term.warn,
    )
    if prompt is None and (attachments or (continued is not None and not results)):
        raise UsageError(
            "no prompt: give it as arguments or on stdin"
            + (" (-a attaches files to a prompt)" if attachments else ""),
            usage="Usage: mint chat [OPTIONS] [PROMPT]...",
        )
    if prompt is None and not history:
        raise UsageError(
            "no prompt: give it as arguments, on stdin, or with --messages",
            usage="Usage: mint chat [OPTIONS] [PROMPT]...",
        )
    new = [*history, *results]
    saved_user = user_message(prompt, attachments, saved=True) if prompt is not None else None
    wire_user = user_message(prompt, attachments, saved=False) if prompt is not None else None
    saved = build_messages(new, settings.system, saved_user)
    wire = build_messages(resolve_messages(history, where) + results, settings.system, wire_user)
    if not any(m.get("role") != "system" for m in wire):
        raise UsageError("--messages holds no user message and no prompt was given")
    request = ChatRequest(
        model=settings.model,
        messages=wire,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        tools=tools,
        tool_choice=tool_choice,
        options=parse_options(settings.option),
    )
    if settings.schema is not None:
        from mintcli.request.schema import load_schema, with_schema

        request = with_schema(request, load_schema(settings.schema))
    return Prepared(request, saved)
