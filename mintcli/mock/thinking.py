"""Extended thinking in the mock (Anthropic): the signature the mock gives a
thinking block, and the rules the real API applies to a request with thinking.

Sources, cited beside each rule:

  [T] the extended-thinking guide (docs.claude.com/en/docs/build-with-claude/
      extended-thinking): thinking is not compatible with temperature changes,
      forced tool use or pre-filled responses; with tool use, the last
      assistant turn's thinking blocks go back unchanged, signature and all
      (redacted_thinking too).
  [E] real error bodies quoted in public issue threads: n8n-io/n8n#22550 and
      anomalyco/opencode#3077 (a final assistant message must start with a
      thinking block), anthropics/claude-code#10627 (invalid signature),
      anthropics/claude-code#20705 (thinking blocks not first),
      tailcallhq/forgecode#1853 (thinking disabled), run-llama/llama_index#19641
      and workglow-dev/libs#746 (forced tool use, any or tool alike;
      temperature), MartialBE/one-hub#529 (temperature),
      danny-avila/LibreChat#6023 (top_k).

The mock signs a block with an HMAC of its text, so it can tell a block that
came back unchanged from one that was edited, re-made or dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from mintcli.mock.validate_types import anthropic_error

_KEY = b"mint mock thinking"
THINKING = ("thinking", "redacted_thinking")
DEFAULT = "Let me think this through."  # what the mock thinks when no script says
_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"


def signature(thinking: str) -> str:
    """A signature that looks like the real API's (long, opaque base64)."""
    digest = hmac.new(_KEY, thinking.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b64encode(b"\x12\x08mock" + digest * 6).decode()


def check(body: dict[str, Any]) -> None:
    """The thinking rules, after the field checks (validate_anthropic.check)."""
    messages = body["messages"]
    last = messages[-1]
    if not _on(body):
        # [E] forgecode#1853: a prefill with thinking when thinking is off.
        if last["role"] == "assistant" and _kinds(last)[0] in THINKING:
            raise anthropic_error(
                f"messages.{len(messages) - 1}.content.0",
                "When thinking is disabled, an `assistant` message in the final position "
                "cannot contain `thinking`. To use thinking blocks, enable `thinking` in "
                "your request.",
            )
        return
    # [T] "not compatible with ... pre-filling responses": no assistant message
    # may come last.
    if last["role"] == "assistant":
        raise anthropic_error(
            f"messages.{len(messages) - 1}",
            "A final `assistant` message (a pre-filled response) cannot be used when "
            f"`thinking` is enabled. Please consult our documentation at {_DOCS}",
        )
    # [T] [E] one-hub#529: temperature is 1 or left out.
    if "temperature" in body and body["temperature"] != 1:
        raise anthropic_error(
            "",
            "`temperature` may only be set to 1 when thinking is enabled. Please consult our "
            f"documentation at {_DOCS}#important-considerations-when-using-extended-thinking",
        )
    # [T] [E] LibreChat#6023: no top_k.
    if "top_k" in body:
        raise anthropic_error(
            "",
            "`top_k` must be unset when thinking is enabled. Please consult our documentation "
            f"at {_DOCS}#important-considerations-when-using-extended-thinking",
        )
    # [T] [E] llama_index#19641: no forced tool use.
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        raise anthropic_error("", "Thinking may not be enabled when tool_choice forces tool use.")
    for i, m in enumerate(messages):
        if m["role"] == "assistant":
            _signed(m, i)
    _leading(messages)


def _on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _kinds(message: dict[str, Any]) -> list[str]:
    content = message.get("content")  # (a lenient mock's requests are unchecked)
    if isinstance(content, str):
        return ["text"]
    if not isinstance(content, list):
        return ["none"]
    return [str(b.get("type")) if isinstance(b, dict) else "none" for b in content] or ["none"]


def _signed(message: dict[str, Any], i: int) -> None:
    """[E] claude-code#20705, #10627: thinking blocks lead their turn and come
    back exactly as the mock gave them."""
    kinds = _kinds(message)
    if not any(k in THINKING for k in kinds):
        return
    if kinds[0] not in THINKING:
        raise anthropic_error(
            f"messages.{i}.content.0",
            "If an assistant message contains any thinking blocks, the first block must be "
            f"thinking or redacted_thinking. Found {kinds[0]}.",
        )
    for k, block in enumerate(message["content"]):
        if block.get("type") == "thinking":
            text, sig = block.get("thinking"), block.get("signature")
            for key, value in (("thinking", text), ("signature", sig)):
                if not isinstance(value, str):
                    raise anthropic_error(
                        f"messages.{i}.content.{k}.thinking.{key}", "Field required"
                    )
            if not hmac.compare_digest(str(sig), signature(str(text))):
                raise anthropic_error(
                    f"messages.{i}.content.{k}", "Invalid `signature` in `thinking` block"
                )
        elif block.get("type") == "redacted_thinking" and not isinstance(block.get("data"), str):
            raise anthropic_error(
                f"messages.{i}.content.{k}.redacted_thinking.data", "Field required"
            )


def _leading(messages: list[dict[str, Any]]) -> None:
    """[E] n8n#22550, opencode#3077: the assistant turn a request goes on from
    (the turn whose tool calls the last user message answers, back through its
    earlier steps) starts with its thinking. (A final assistant message, a
    prefill, is refused before this with thinking on.)"""
    last = len(messages) - 1
    if _results(messages[last]) and last >= 1:
        at = last - 1
    else:
        return  # a new user turn: earlier turns' thinking may be left out
    while at >= 2 and _results(messages[at - 1]) and messages[at - 2]["role"] == "assistant":
        at -= 2  # an earlier step of the same turn
    kinds = _kinds(messages[at])
    if kinds[0] not in THINKING and kinds != ["none"]:
        raise anthropic_error(
            f"messages.{at}.content.0.type",
            f"Expected `thinking` or `redacted_thinking`, but found `{kinds[0]}`. When "
            "`thinking` is enabled, a final `assistant` message must start with a thinking "
            "block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We "
            "recommend you include thinking blocks from previous turns. To avoid this "
            f"requirement, disable `thinking`. Please consult our documentation at {_DOCS}",
        )


def _results(message: dict[str, Any]) -> bool:
    """A user message that answers tool calls (a step of a turn, not a new turn)."""
    return message.get("role") == "user" and "tool_result" in _kinds(message)


def thinks(body: dict[str, Any]) -> bool:
    """Whether the reply to this request opens with a thinking block: thinking
    is on and the request starts a new assistant turn (without interleaved
    thinking the model does not think again after tool results, nor in a
    prefill it continues)."""
    if not _on(body):
        return False
    last = body["messages"][-1]
    return last.get("role") == "user" and not _results(last)
