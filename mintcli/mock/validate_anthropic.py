"""The Anthropic messages (and count_tokens) request checks (see validate.py).
Sources, cited beside each rule:

  [P] anthropic-sdk-python src/anthropic/types/message_create_params.py and
      message_count_tokens_params.py (MessageCreateParamsBase: fields, Required
      marks, Literals, docstrings), in the 0.x line (which still has temperature,
      top_k, top_p) and the 2.x line (which adds diagnostics, speed, workspace_id)
  [B] the block and tool types beside them: message_param.py, tool_param.py,
      tool_use_block_param.py, tool_result_block_param.py, text_block_param.py,
      tool_choice_*_param.py, thinking_config_*_param.py, output_config_param.py,
      json_output_format_param.py
  [V] the versioning page of the API reference (docs.anthropic.com/en/api/versioning):
      every request sends an anthropic-version header
  [U] the tool-use guide (docs.anthropic.com/en/docs/agents-and-tools/tool-use/
      implement-tool-use): tool results come in the user turn right after the
      assistant turn that asked for them, one per tool_use, before any other content
  [E] the real error bodies for the two pairing faults, quoted in public issue
      threads (anthropics/claude-code#13460 "unexpected `tool_use_id` found in
      `tool_result` blocks", #7929 "`tool_use` ids were found without
      `tool_result` blocks immediately after"), empty content (#6774 "all messages
      must have non-empty content except for the optional final assistant
      message"; mckaywrigley/chatbot-ui#1656 "text content blocks must be non-empty"),
      an unknown block type (quoted in public code: "messages.2.content.0: Input tag
      'drive_file' found using 'type' does not match any of the expected tags: ...",
      the tags listed in alphabetical order)

Error messages follow the real API's (pydantic's wording, ``field.path: message``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mintcli.mock import thinking, validate_metadata
from mintcli.mock.refusal import Refusal
from mintcli.mock.validate_types import (
    anthropic_choice,
    anthropic_error,
    anthropic_range,
    anthropic_typed,
)

# [P] the fields of MessageCreateParamsBase (both lines) and of its streaming subclasses.
CREATE = frozenset(
    {
        "max_tokens", "messages", "model", "cache_control", "container", "diagnostics",
        "inference_geo", "metadata", "output_config", "service_tier", "speed",
        "stop_sequences", "stream", "system", "temperature", "thinking", "tool_choice",
        "tools", "top_k", "top_p", "user_profile_id", "workspace_id",
    }
)  # fmt: skip
# [B] content_block_param.py: the type of each member of ContentBlockParam.
BLOCK_TYPES = tuple(
    sorted(
        {
            "text", "image", "document", "search_result", "thinking", "redacted_thinking",
            "tool_use", "tool_result", "server_tool_use", "web_search_tool_result",
            "web_fetch_tool_result", "code_execution_tool_result",
            "bash_code_execution_tool_result", "text_editor_code_execution_tool_result",
            "tool_search_tool_result", "container_upload", "mid_conv_system",
        }
    )
)  # fmt: skip
# [E] what a custom tool's name may hold (see _tool_name).
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
# [P] the fields of MessageCountTokensParams.
COUNT = frozenset(
    {
        "messages", "model", "cache_control", "output_config", "speed", "system",
        "thinking", "tool_choice", "tools", "user_profile_id", "workspace_id",
    }
)  # fmt: skip


def check(path: str, body: Any, headers: Mapping[str, str]) -> None:
    # [V] anthropic-version is required on every request.
    if not headers.get("anthropic-version"):
        raise Refusal(400, "anthropic-version: header is required")
    if not isinstance(body, dict):
        return  # essentials() answers that
    counting = path.split("?")[0].rstrip("/").endswith("/count_tokens")
    # [P] model and messages are Required; max_tokens too when creating a message.
    for key in ("model", "messages") if counting else ("model", "max_tokens", "messages"):
        if key not in body:
            raise anthropic_error(key, "Field required")
    # [P] nothing outside the params (the beta endpoint, ?beta=true, takes more).
    if "beta=true" not in path:
        known = COUNT if counting else CREATE
        unknown = next((k for k in body if k not in known), None)
        if unknown is not None:
            raise anthropic_error(unknown, "Extra inputs are not permitted")
    # [P] model: a model id, a non-empty string.
    if not anthropic_typed(body, "model", "string"):
        raise anthropic_error("model", "String should have at least 1 character")
    # [P] max_tokens: an integer, 0 allowed ("Set to 0 to populate the prompt cache").
    anthropic_range(body, "max_tokens", "integer", 0)
    # [P] temperature: "Ranges from 0.0 to 1.0" (0.x docstring); top_p is a
    # probability mass (0 to 1); top_k an integer.
    anthropic_range(body, "temperature", "number", 0, 1)
    anthropic_range(body, "top_p", "number", 0, 1)
    anthropic_range(body, "top_k", "integer", 0)
    anthropic_typed(body, "stream", "boolean")
    # [P] stop_sequences: a list of strings.
    for i, s in enumerate(anthropic_typed(body, "stop_sequences", "array") or ()):
        if not isinstance(s, str):
            raise anthropic_error(f"stop_sequences.{i}", "Input should be a valid string")
    # [P] metadata: MetadataParam, an object holding user_id alone (validate_metadata.py).
    validate_metadata.anthropic(body)
    anthropic_choice(body, "service_tier", ("auto", "standard_only"))
    _system(body)
    _thinking(body)
    _output_config(body)
    _tools(body)
    _messages(body["messages"])
    thinking.check(body)  # the extended-thinking rules (mock/thinking.py)


def _system(body: dict[str, Any]) -> None:
    # [P] system: a string or a list of TextBlockParam ([B] type "text", text Required).
    system = body.get("system")
    if system is None or isinstance(system, str):
        if "system" in body and system is None:
            raise anthropic_error("system", "Input should be a valid string")
        return
    if not isinstance(system, list):
        raise anthropic_error("system", "Input should be a valid list")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise anthropic_error(f"system.{i}.type", "Input should be 'text'")
        if not isinstance(block.get("text"), str):
            raise anthropic_error(f"system.{i}.text", "Field required")


def _thinking(body: dict[str, Any]) -> None:
    thinking = anthropic_typed(body, "thinking", "object")
    if thinking is None:
        return
    # [B] ThinkingConfigParam: enabled, disabled or adaptive; enabled's budget_tokens
    # is Required, "Must be ≥1024 and less than max_tokens".
    kind = anthropic_choice(thinking, "type", ("enabled", "disabled", "adaptive"), "thinking.")
    if kind is None:
        raise anthropic_error("thinking.type", "Field required")
    if kind == "enabled":
        if "budget_tokens" not in thinking:
            raise anthropic_error("thinking.enabled.budget_tokens", "Field required")
        anthropic_range(thinking, "budget_tokens", "integer", 1024, where="thinking.enabled.")
        tokens = body.get("max_tokens")
        if isinstance(tokens, int) and thinking["budget_tokens"] >= tokens:
            raise anthropic_error("", "`max_tokens` must be greater than `thinking.budget_tokens`.")


def _output_config(body: dict[str, Any]) -> None:
    config = anthropic_typed(body, "output_config", "object")
    if config is None:
        return
    # [B] OutputConfigParam: effort (a Literal), format (JSONOutputFormatParam or
    # null: type "json_schema" and schema, both Required).
    anthropic_choice(config, "effort", ("low", "medium", "high", "xhigh", "max"), "output_config.")
    fmt = config.get("format")
    if fmt is None:
        return
    if not isinstance(fmt, dict):
        raise anthropic_error("output_config.format", "Input should be a valid dictionary")
    if fmt.get("type") != "json_schema":
        raise anthropic_error("output_config.format.type", "Input should be 'json_schema'")
    if not isinstance(fmt.get("schema"), dict):
        raise anthropic_error("output_config.format.schema", "Field required")


def _tools(body: dict[str, Any]) -> None:
    for i, tool in enumerate(anthropic_typed(body, "tools", "array") or ()):
        where = f"tools.{i}"
        if not isinstance(tool, dict):
            raise anthropic_error(where, "Input should be a valid dictionary")
        # [B] ToolParam (a custom tool: no type, or "custom"): name and
        # input_schema are Required. Server tools carry their own type.
        if tool.get("type") in (None, "custom"):
            for key in ("name", "input_schema"):
                if key not in tool:
                    raise anthropic_error(f"{where}.custom.{key}", "Field required")
            anthropic_typed(tool, "name", "string", f"{where}.custom.")
            _tool_name(tool["name"], f"{where}.custom.name")
            anthropic_typed(tool, "input_schema", "object", f"{where}.custom.")
    choice = anthropic_typed(body, "tool_choice", "object")
    if choice is None:
        return
    # [B] ToolChoiceParam: auto, any, tool or none; tool's name is Required.
    kind = anthropic_choice(choice, "type", ("auto", "any", "tool", "none"), "tool_choice.")
    if kind is None:
        raise anthropic_error("tool_choice.type", "Field required")
    if kind == "tool" and not isinstance(choice.get("name"), str):
        raise anthropic_error("tool_choice.tool.name", "Field required")
    anthropic_typed(choice, "disable_parallel_tool_use", "boolean", f"tool_choice.{kind}.")


def _tool_name(name: str, where: str) -> None:
    # [E] a custom tool's name: the real API answers "tools.0.custom.name: String
    # should match pattern '^[a-zA-Z0-9_-]{1,128}$'" (home-assistant/core#147760, a
    # name with a dot; modelcontextprotocol/modelcontextprotocol#1345, spaces) and,
    # for a longer one, "tools.18.custom.name: String should have at most 128
    # characters" (anthropics/claude-code#96152).
    if len(name) > 128:
        raise anthropic_error(where, "String should have at most 128 characters")
    if not _TOOL_NAME.fullmatch(name):
        raise anthropic_error(where, "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")


def _messages(messages: Any) -> None:
    if not isinstance(messages, list):
        raise anthropic_error("messages", "Input should be a valid list")
    if not messages:
        # [P] "Each input message must be an object with a role and content".
        raise anthropic_error(
            "messages", "List should have at least 1 item after validation, not 0"
        )
    turns: list[list[int]] = []  # indexes of the messages of each turn
    for i, m in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(m, dict):
            raise anthropic_error(where, "Input should be a valid dictionary")
        # [B] MessageParam: role ("user" or "assistant") and content are Required.
        if "role" not in m:
            raise anthropic_error(f"{where}.role", "Field required")
        if m["role"] not in ("user", "assistant"):
            raise anthropic_error(f"{where}.role", "Input should be 'user' or 'assistant'")
        if "content" not in m:
            raise anthropic_error(f"{where}.content", "Field required")
        _blocks(m["content"], where)
        # [E] only a final assistant message (a prefill) may be empty.
        final = i == len(messages) - 1 and m["role"] == "assistant"
        if m["content"] in ("", []) and not final:
            raise anthropic_error(
                where,
                "all messages must have non-empty content except for the optional final "
                "assistant message",
            )
        # [P] "Consecutive user or assistant turns in your request will be combined
        # into a single turn."
        if turns and messages[turns[-1][0]]["role"] == m["role"]:
            turns[-1].append(i)
        else:
            turns.append([i])
    _pairing(messages, turns)
    last = messages[-1]
    # [P] a final assistant message is a prefill; the real API refuses one ending in
    # whitespace.
    content = last["content"]
    if isinstance(content, list):
        content = "".join(str(b.get("text", "")) for b in content if b.get("type") == "text")
    if last["role"] == "assistant" and content != content.rstrip():
        raise anthropic_error(
            "messages", "final assistant content cannot end with trailing whitespace"
        )


def _blocks(content: Any, where: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise anthropic_error(f"{where}.content", "Input should be a valid list")
    for k, block in enumerate(content):
        here = f"{where}.content.{k}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise anthropic_error(f"{here}.type", "Field required")
        if block["type"] not in BLOCK_TYPES:  # [E] mint's own "attachment" block too
            tags = ", ".join(f"'{t}'" for t in BLOCK_TYPES)
            raise anthropic_error(
                here,
                f"Input tag '{block['type']}' found using 'type' does not match any of "
                f"the expected tags: {tags}",
            )
        # [B] ToolUseBlockParam: id, name, input Required; ToolResultBlockParam:
        # tool_use_id Required; TextBlockParam: text Required.
        required = {"tool_use": ("id", "name", "input"), "tool_result": ("tool_use_id",),
                    "text": ("text",)}.get(block["type"], ())  # fmt: skip
        for key in required:
            if key not in block:
                raise anthropic_error(f"{here}.{block['type']}.{key}", "Field required")
        if block["type"] == "text" and block["text"] == "":  # [E]
            raise anthropic_error("messages", "text content blocks must be non-empty")


def _uses(m: dict[str, Any], kind: str, key: str) -> list[tuple[int, str]]:
    content = m["content"]
    if not isinstance(content, list):
        return []
    return [(k, str(b.get(key))) for k, b in enumerate(content) if b.get("type") == kind]


def _pairing(messages: list[dict[str, Any]], turns: list[list[int]]) -> None:
    """[U] each tool_use of an assistant turn is answered by a tool_result in the
    next (user) turn, results before any other block; a tool_result answers a
    tool_use of the turn just before. [E] the wording of both answers."""
    asked: list[str] = []
    asked_at = 0
    for turn in turns:
        role = messages[turn[0]]["role"]
        if role == "assistant":
            asked = [u for i in turn for _, u in _uses(messages[i], "tool_use", "id")]
            asked_at = turn[-1]
            continue
        results: list[str] = []
        for i in turn:
            for k, used in _uses(messages[i], "tool_result", "tool_use_id"):
                if used not in asked:
                    raise anthropic_error(
                        f"messages.{i}.content.{k}",
                        f"unexpected `tool_use_id` found in `tool_result` blocks: {used}. "
                        "Each `tool_result` block must have a corresponding `tool_use` "
                        "block in the previous message.",
                    )
                results.append(used)
        # the turn's blocks in order (a string content is one text block)
        blocks: list[Any] = []
        for i in turn:
            content = messages[i]["content"]
            blocks += [b.get("type") for b in content] if isinstance(content, list) else ["text"]
        leading = 0
        while leading < len(blocks) and blocks[leading] == "tool_result":
            leading += 1
        if asked and (leading < len(results) or set(asked) - set(results)):
            _unanswered([u for u in asked if u not in results] or asked, asked_at)
        asked = []
    if asked:
        _unanswered(asked, asked_at)


def _unanswered(ids: list[str], at: int) -> None:
    raise anthropic_error(
        f"messages.{at}",
        f"`tool_use` ids were found without `tool_result` blocks immediately after: "
        f"{', '.join(ids)}. Each `tool_use` block must have a corresponding "
        "`tool_result` block in the next message.",
    )
