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
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from mintcli.errors import UsageError
from mintcli.kinds import not_utf8
from mintcli.request import ChatRequest, parse_options

if TYPE_CHECKING:
    from mintcli.settings import ChatSettings
    from mintcli.terminal import Terminal

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
    return _decode(stdin.stream.read(), "stdin")


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
        if role == "tool" and not msg.get("tool_call_id"):
            raise UsageError(f"{where}: a tool message needs tool_call_id")
        for call in msg.get("tool_calls") or ():
            if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
                raise UsageError(f"{where}: each tool call needs a function object")
    return messages


def build_messages(
    history: list[dict[str, Any]], system: str | None, prompt: str | None
) -> list[dict[str, Any]]:
    """``--system`` replaces any system message of the history; the prompt, if
    any, becomes the last user message."""
    messages = [
        m for m in history if system is None or m.get("role") not in ("system", "developer")
    ]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    if prompt is not None:
        messages.append({"role": "user", "content": prompt})
    return messages


def build_request(settings: ChatSettings, words: tuple[str, ...], term: Terminal) -> ChatRequest:
    from mintcli.tools import check_tool_choice, load_tools

    tools = load_tools(settings.tool, settings.tools)
    tool_choice = check_tool_choice(settings.tool_choice, tools)
    stdin = StdinFacts(term.stdin, term.stdin_isatty)
    history: list[dict[str, Any]] = []
    messages_src = settings.messages
    use_stdin = not settings.no_stdin
    if messages_src is not None:
        if messages_src == "-":
            if settings.no_stdin:
                raise UsageError("--messages - reads stdin, but --no-stdin was given")
            data, source = term.stdin.read(), "stdin"
            use_stdin = False
        else:
            try:
                data, source = Path(messages_src).expanduser().read_bytes(), messages_src
            except OSError as exc:
                raise UsageError(f"--messages {messages_src}: {exc.strerror or exc}") from None
        history = load_messages(data, source)
    if any(not_utf8(w) for w in words):
        raise UsageError("the prompt is not valid UTF-8 text")
    if "-" in words and messages_src == "-":
        raise UsageError("stdin cannot be both --messages - and the '-' prompt word")
    prompt = assemble_prompt(
        words,
        stdin,
        use_stdin=use_stdin,
        stdin_timeout=settings.stdin_timeout,
        warn=term.warn,
    )
    if prompt is None and not history:
        raise UsageError(
            "no prompt: give it as arguments, on stdin, or with --messages",
            usage="Usage: mint chat [OPTIONS] [PROMPT]...",
        )
    messages = build_messages(history, settings.system, prompt)
    if not any(m.get("role") != "system" for m in messages):
        raise UsageError("--messages holds no user message and no prompt was given")
    return ChatRequest(
        model=settings.model,
        messages=messages,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        tools=tools,
        tool_choice=tool_choice,
        options=parse_options(settings.option),
    )
