"""The mock as a tool-using model: which step of a tool loop a request is,
the scripted reply for that step, and the text that quotes the results.

A rule's ``steps`` (a list of replies, each with the keys of a rule but no
``match``) scripts a chain: the reply to a request is ``steps[N]``, where N
counts the model's turns since the user's last prompt (0: no tool result yet).
Past the last step, the mock answers with text quoting the results.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any


def content_text(content: Any) -> str:
    """Text of a message content in either protocol's shape."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_result":
                parts.append(content_text(block.get("content")))
        return "".join(parts)
    return ""


def prompt_text(content: Any) -> str:
    """What the user typed in a message: its text, without the tool results an
    Anthropic user turn may carry before it."""
    if isinstance(content, list):
        texts = (b for b in content if isinstance(b, dict) and b.get("type") == "text")
        return "".join(str(b.get("text", "")) for b in texts)
    return content_text(content)


def is_tool_result(message: dict[str, Any]) -> bool:
    """Tool results and nothing else: an Anthropic user turn that also holds
    text is a new prompt (the results of calls left unanswered go with it)."""
    if message.get("role") == "tool":
        return True
    content = message.get("content")
    return (
        isinstance(content, list)
        and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)
        and not prompt_text(content).strip()
    )


def step_of(messages: list[dict[str, Any]]) -> int:
    """The model's turns since the last prompt (tool results are not prompts)."""
    step = 0
    for message in reversed(messages):
        if message.get("role") == "assistant":
            step += 1
        elif not is_tool_result(message):
            break
    return step


def results(messages: list[dict[str, Any]]) -> list[str]:
    """The tool results after the model's last turn, in order, as text
    (an error result marked as one)."""
    out: list[str] = []
    for message in reversed(messages):
        if message.get("role") == "tool":
            out.insert(0, content_text(message.get("content")))
            continue
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            for block in content:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    text = content_text(block.get("content"))
                    out.append(f"(error) {text}" if block.get("is_error") else text)
        break
    return out


def quote_results(messages: list[dict[str, Any]]) -> str:
    found = results(messages)
    if len(found) == 1:
        return f"Tool result received: {found[0]}"
    return f"{len(found)} tool results received: " + " | ".join(found)


def pick_step(reply: Any, messages: list[dict[str, Any]]) -> Any:
    """A rule with ``steps``: the reply (a script.Reply) for this request's step."""
    if not reply.steps:
        return reply
    step = step_of(messages)
    if step < len(reply.steps):
        fields = {"steps": (), "text": "", "tool_calls": (), **reply.steps[step]}
        return replace(reply, **fields)
    return replace(reply, steps=(), tool_calls=(), text=quote_results(messages))
