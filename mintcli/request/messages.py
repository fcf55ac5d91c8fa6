"""The messages of a conversation, in the OpenAI shape mint keeps them in:
the checks of a given list (``--messages``, a batch item's ``messages``), the
new user message with its attachments, tool results as tool messages, and the
rule that puts ``--system`` first. Pure functions of values already read;
``build.py`` reads the inputs and calls these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from mintcli.errors import UsageError

if TYPE_CHECKING:
    from mintcli.request.attach import Attachment

_ROLES = {"system", "developer", "user", "assistant", "tool"}


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


def user_message(prompt: str, attachments: list[Attachment], saved: bool) -> dict[str, Any]:
    """The new user message: the prompt, after its attachments (the order the
    providers recommend). ``saved``: with attachments by reference."""
    if not attachments:
        return {"role": "user", "content": prompt}
    parts = [a.stored_part() if saved else a.wire_part() for a in attachments]
    return {"role": "user", "content": [*parts, {"type": "text", "text": prompt}]}


def called_ids(history: list[dict[str, Any]]) -> list[str]:
    """The ids of the tool calls the last reply of the history made, in order."""
    last = history[-1] if history else {}
    calls = last.get("tool_calls") if last.get("role") == "assistant" else None
    return [str(c.get("id")) for c in calls or () if isinstance(c, dict)]


def tool_messages(results: dict[str, str], ids: list[str]) -> list[dict[str, Any]]:
    """The results (``--tool-result CALL_ID=...``, already read) as tool messages,
    one for each call the last reply made, in the order it made them."""
    missing = [i for i in ids if i not in results]
    if missing:
        raise UsageError(
            f"the last reply made {len(ids)} tool calls: give a --tool-result for each "
            f"(missing: {', '.join(missing)})"
        )
    return [{"role": "tool", "tool_call_id": i, "content": results[i]} for i in ids]
