"""OpenAI-shape messages (mint's own) as Anthropic Messages content.

System messages move to the top-level ``system`` field; assistant
``tool_calls`` become ``tool_use`` blocks and ``role: tool`` results
``tool_result`` blocks (consecutive ones in one user turn), an assistant
message's ``thinking_blocks`` lead its content; ``image_url``
parts become ``image`` blocks and ``file`` parts (PDF) ``document`` blocks,
each with a base64 source for a data URL or a url source for a URL.
"""

from __future__ import annotations

from typing import Any

import orjson

from mintcli.errors import UsageError


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
            blocks.append({"type": "image", "source": _source(url)})
        elif kind == "file":  # a PDF: file_data (a data URL), or mint's file_url
            file = part.get("file") or {}
            url = file.get("file_data") or file.get("file_url") or ""
            blocks.append({"type": "document", "source": _source(url)})
        else:
            blocks.append(part)  # already an Anthropic block, pass it through
    return blocks


def _thinking_blocks(value: Any) -> list[dict[str, Any]]:
    """An assistant message's ``thinking_blocks`` (mint keeps them so, as LiteLLM
    does): Anthropic thinking and redacted_thinking blocks, as they came."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(b, dict) and b.get("type") in ("thinking", "redacted_thinking") for b in value
    ):
        raise UsageError("thinking_blocks must be a list of thinking or redacted_thinking blocks")
    return value


def _source(url: str) -> dict[str, Any]:
    """A data URL as a base64 source, any other URL as a url source."""
    if url.startswith("data:") and ";base64," in url:
        media, _, data = url[5:].partition(";base64,")
        return {"type": "base64", "media_type": media, "data": data}
    return {"type": "url", "url": url}


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
            # The turn's signed thinking goes back first and unchanged: with
            # thinking on, the API refuses a replayed turn that lacks it.
            blocks = [*_thinking_blocks(msg.get("thinking_blocks")), *_blocks(msg.get("content"))]
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
            if msg.get("is_error"):
                result["is_error"] = True
            _append(out, "user", [result])
        else:
            raise UsageError(f"unknown message role {role!r}")
    # Single text blocks read better (and log smaller) as plain strings.
    for msg in out:
        blocks = msg["content"]
        if len(blocks) == 1 and blocks[0].get("type") == "text":
            msg["content"] = blocks[0]["text"]
    return ("\n\n".join(system) if system else None), out
