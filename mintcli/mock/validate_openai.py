"""The OpenAI chat completions request checks (see validate.py for the rules of
the game). Sources, cited beside each rule:

  [P] openai-python src/openai/types/chat/completion_create_params.py
      (CompletionCreateParamsBase: its fields, Required marks, Literals, docstrings)
  [M] openai-python src/openai/types/chat/chat_completion_*_message_param.py
  [F] openai-python src/openai/types/shared_params/function_definition.py and
      response_format_json_schema.py
  [G] the function-calling guide (developers.openai.com/api/docs/guides/function-calling):
      each tool call of an assistant message is answered by a tool message with
      its tool_call_id before the conversation goes on.
  [E] real error bodies quoted in public issue threads: the orphan tool message
      (miurla/morphic#136, run-llama/llama_index#10493: param "messages.[N].role",
      code null), n at most 128 (thisisartium/continuous-alignment-testing#25:
      "Invalid 'n': integer above maximum value. Expected a value <= 128, ...",
      code "integer_above_max_value", the pattern of every range message here);
      an unknown content part type, as quoted in public code replaying other
      providers' blocks (Anthropic "thinking", "tool_result"; Responses
      "input_file") to chat completions: "Invalid value: 'thinking'. Supported
      values are: 'text', 'image_url', 'input_audio', 'refusal', 'audio', and
      'file'.", param "messages[1].content[0].type", code "invalid_value".

Error wording, ``param`` and ``code`` follow those real error bodies.
"""

from __future__ import annotations

import re
from typing import Any

from mintcli.mock import validate_metadata, validate_strict
from mintcli.mock.refusal import Refusal
from mintcli.mock.validate_types import (
    openai_choice,
    openai_invalid_type,
    openai_kind,
    openai_missing,
    openai_range,
    openai_typed,
    openai_value,
)

# [P] every field of CompletionCreateParamsBase, plus ``stream`` (its two subclasses).
KNOWN = frozenset(
    {
        "messages", "model", "audio", "frequency_penalty", "function_call", "functions",
        "logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata",
        "modalities", "moderation", "n", "parallel_tool_calls", "prediction",
        "presence_penalty", "prompt_cache_key", "prompt_cache_options",
        "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier",
        "seed", "service_tier", "stop", "store", "stream", "stream_options", "temperature",
        "tool_choice", "tools", "top_logprobs", "top_p", "user", "verbosity",
        "web_search_options",
    }
)  # fmt: skip

# [M] the roles of ChatCompletionMessageParam's members, in the real API's order.
ROLES = ("system", "assistant", "user", "function", "tool", "developer")
# [E] the content part types the API takes, as its error lists them ([M]: the
# text, image_url, input_audio and file parts of a user message, the refusal part
# of an assistant message).
PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
# [F] FunctionDefinition.name: "a-z, A-Z, 0-9, or contain underscores and dashes,
# with a maximum length of 64".
_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def check(body: Any) -> None:
    if not isinstance(body, dict):
        return  # essentials() answers that
    # [P] model and messages are Required.
    if body.get("model") is None or body.get("model") == "":
        raise Refusal(400, "you must provide a model parameter")
    openai_typed(body, "model", "string")
    if "messages" not in body:
        raise openai_missing("messages")
    # [P] no field outside CompletionCreateParams.
    unknown = next((k for k in body if k not in KNOWN), None)
    if unknown is not None:
        raise Refusal(400, f"Unrecognized request argument supplied: {unknown}")
    _messages(body["messages"])
    _parameters(body)
    _tools(body)


def _parameters(body: dict[str, Any]) -> None:
    # [P] temperature: "between 0 and 2".
    openai_range(body, "temperature", "number", 0, 2)
    # [P] top_p: a probability mass, so between 0 and 1.
    openai_range(body, "top_p", "number", 0, 1)
    # [P] frequency_penalty, presence_penalty: "Number between -2.0 and 2.0".
    openai_range(body, "frequency_penalty", "number", -2, 2)
    openai_range(body, "presence_penalty", "number", -2, 2)
    # [P] n: how many choices (at least one, [E] at most 128); max_tokens, max_completion_tokens:
    # an upper bound on the tokens generated (at least one); seed an integer.
    openai_range(body, "n", "integer", 1, 128)
    openai_range(body, "max_tokens", "integer", 1)
    openai_range(body, "max_completion_tokens", "integer", 1)
    openai_range(body, "seed", "integer")
    # [P] top_logprobs: "An integer between 0 and 20"; "logprobs must be set to
    # true if this parameter is used".
    openai_range(body, "top_logprobs", "integer", 0, 20)
    for key in ("stream", "logprobs", "store", "parallel_tool_calls"):
        openai_typed(body, key, "boolean")
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        raise Refusal(
            400,
            "Invalid value for 'logprobs': must be true when 'top_logprobs' is specified.",
            code="invalid_value",
            param="logprobs",
        )
    # [P] stream_options: "Only set this when you set stream: true".
    options = openai_typed(body, "stream_options", "object")
    if options is not None:
        if body.get("stream") is not True:
            raise Refusal(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        openai_typed(options, "include_usage", "boolean", "stream_options.")
    # [P] stop: a string or "Up to 4 sequences".
    stop = body.get("stop")
    if isinstance(stop, list):
        if len(stop) > 4:
            raise Refusal(
                400,
                "Invalid 'stop': array too long. Expected an array with maximum length 4, "
                f"but got an array with length {len(stop)} instead.",
                code="array_above_max_length",
                param="stop",
            )
        for i, s in enumerate(stop):
            if not isinstance(s, str):
                raise openai_invalid_type(f"stop[{i}]", "string", s)
    elif stop is not None and not isinstance(stop, str):
        raise openai_invalid_type("stop", "string", stop)
    # [P] logit_bias: token id -> "bias value from -100 to 100".
    bias = openai_typed(body, "logit_bias", "object")
    for token, value in (bias or {}).items():
        openai_range({f"logit_bias.{token}": value}, f"logit_bias.{token}", "number", -100, 100)
    # [P] the Literal-typed settings.
    efforts = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
    openai_choice(body, "reasoning_effort", efforts)
    openai_choice(body, "verbosity", ("low", "medium", "high"))
    openai_choice(body, "service_tier", ("auto", "default", "flex", "scale", "priority", "fast"))
    openai_choice(body, "prompt_cache_retention", ("in_memory", "24h"))
    validate_metadata.openai(body)
    _response_format(body)


def _response_format(body: dict[str, Any]) -> None:
    fmt = openai_typed(body, "response_format", "object")
    if fmt is None:
        return
    # [P] ResponseFormat: text, json_object or json_schema; [F] json_schema.name Required.
    kinds = ("text", "json_schema", "json_object")
    if fmt.get("type") not in kinds:
        raise openai_value("response_format.type", fmt.get("type"), kinds)
    if fmt["type"] == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict):
            raise openai_missing("response_format.json_schema")
        if not isinstance(spec.get("name"), str):
            raise openai_missing("response_format.json_schema.name")
        _name(spec["name"], "response_format.json_schema.name")  # [F] as a function's
        if spec.get("strict") is True:  # what --schema sends
            validate_strict.check(
                spec.get("schema"), f"response_format '{spec['name']}'", "response_format"
            )


def _name(name: Any, param: str) -> None:
    """A function's or a response format's name ([F]: letters, digits, "_" and "-",
    at most 64). [E] a longer one gets a length error, not the pattern's ("Invalid
    'tools[0].function.name': string too long. Expected a string with maximum length
    64, but got a string with length 67 instead.", quoted in public bug reports)."""
    if isinstance(name, str) and len(name) > 64:
        raise Refusal(
            400,
            f"Invalid '{param}': string too long. Expected a string with maximum length 64, "
            f"but got a string with length {len(name)} instead.",
            code="string_above_max_length",
            param=param,
        )
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise Refusal(
            400,
            f"Invalid '{param}': string does not match pattern. Expected a "
            "string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
            code="invalid_value",
            param=param,
        )


def _messages(messages: Any) -> None:
    if not isinstance(messages, list):
        raise openai_invalid_type("messages", "array", messages)
    if not messages:
        raise Refusal(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            code="empty_array",
            param="messages",
        )
    waiting: list[str] = []  # ids of the last assistant's tool calls not yet answered
    answered: set[str] = set()
    asked_at: int | None = None  # index of that assistant message
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise openai_invalid_type(where, "object", m)
        role = m.get("role")
        if role is None:
            raise openai_missing(f"{where}.role")
        if role not in ROLES:
            raise openai_value(f"{where}.role", role, ROLES)
        if role == "tool":
            _tool_message(m, i, asked_at, waiting)
            answered.add(m["tool_call_id"])
            continue
        if asked_at is not None:
            _all_answered(waiting, answered, asked_at)
        asked_at = None
        _content(m, role, where)
        if role == "assistant" and m.get("tool_calls"):
            waiting, answered, asked_at = _tool_calls(m["tool_calls"], where), set(), i
    if asked_at is not None:
        _all_answered(waiting, answered, asked_at)


def _tool_message(m: dict[str, Any], i: int, asked_at: int | None, waiting: list[str]) -> None:
    # [M] ChatCompletionToolMessageParam: content and tool_call_id are Required;
    # [G] a tool message answers a call of the assistant message just before it
    # ([E] the wording and param of the real answer).
    if asked_at is None:
        raise Refusal(
            400,
            "Invalid parameter: messages with role 'tool' must be a response to a "
            "preceding message with 'tool_calls'.",
            param=f"messages.[{i}].role",
        )
    call_id = m.get("tool_call_id")
    if not isinstance(call_id, str):
        raise Refusal(
            400,
            "Missing parameter 'tool_call_id': messages with role 'tool' must have a "
            "'tool_call_id'.",
            param=f"messages.[{i}].tool_call_id",
        )
    if call_id not in waiting:
        raise Refusal(
            400,
            f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' "
            "of previous message.",
            param=f"messages.[{i}].tool_call_id",
        )
    _content(m, "tool", f"messages[{i}]")


def _all_answered(waiting: list[str], answered: set[str], asked_at: int) -> None:
    # [G] every tool call is answered before the conversation goes on.
    missing = [c for c in waiting if c not in answered]
    if missing:
        raise Refusal(
            400,
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(missing)}",
            param=f"messages.[{asked_at}].role",
        )


def _tool_calls(calls: Any, where: str) -> list[str]:
    # [M] ChatCompletionMessageToolCallParam: id, type and function (name,
    # arguments) are Required.
    if not isinstance(calls, list):
        raise openai_invalid_type(f"{where}.tool_calls", "array", calls)
    ids = []
    for k, call in enumerate(calls):
        here = f"{where}.tool_calls[{k}]"
        if not isinstance(call, dict):
            raise openai_invalid_type(here, "object", call)
        for key in ("id", "type"):
            if not isinstance(call.get(key), str):
                raise openai_missing(f"{here}.{key}")
        fn = call.get("function") if call["type"] == "function" else call.get("custom")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise openai_missing(f"{here}.{call['type']}.name")
        if call["type"] == "function" and not isinstance(fn.get("arguments"), str):
            raise openai_missing(f"{here}.function.arguments")
        ids.append(call["id"])
    return ids


def _content(m: dict[str, Any], role: str, where: str) -> None:
    # [M] content is Required except for an assistant message with tool_calls or
    # function_call (or, by its type, an audio reply or a refusal); it is a
    # string or a list of content parts.
    content = m.get("content")
    if content is None:
        if role == "assistant" and any(
            m.get(k) for k in ("tool_calls", "function_call", "audio", "refusal")
        ):
            return
        if role == "function" and "content" in m:
            return  # [M] ChatCompletionFunctionMessageParam.content is Optional
        if "content" not in m:
            raise openai_missing(f"{where}.content")
        raise Refusal(
            400,
            "Invalid value for 'content': expected a string, got null.",
            param=f"{where.replace('[', '.[')}.content",
        )
    if not isinstance(content, (str, list)):
        raise Refusal(
            400,
            f"Invalid type for '{where}.content': expected one of an array of objects or "
            f"string, but got {openai_kind(content)} instead.",
            code="invalid_type",
            param=f"{where}.content",
        )
    for k, part in enumerate(content if isinstance(content, list) else ()):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise openai_missing(f"{where}.content[{k}].type")
        if part["type"] not in PART_TYPES:  # [E] mint's own "attachment" part too
            raise openai_value(f"{where}.content[{k}].type", part["type"], PART_TYPES)


def _tools(body: dict[str, Any]) -> None:
    tools = openai_typed(body, "tools", "array")
    names = []
    for i, tool in enumerate(tools or ()):
        where = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise openai_invalid_type(where, "object", tool)
        # [P] ChatCompletionToolUnionParam: a function tool or a custom tool.
        kind = tool.get("type")
        if kind not in ("function", "custom"):
            raise openai_value(f"{where}.type", kind, ("function", "custom"))
        spec = tool.get(kind)
        if not isinstance(spec, dict) or "name" not in spec:
            raise openai_missing(f"{where}.{kind}.name")
        name = spec["name"]
        _name(name, f"{where}.{kind}.name")
        names.append(name)
        if kind == "function" and spec.get("strict") is True:
            validate_strict.check(spec.get("parameters"), f"function '{name}'", None)
    if body.get("parallel_tool_calls") is not None and not tools:
        # [E] a setting for tool calls, refused without tools (empty ones too):
        # "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only
        # allowed when 'tools' are specified." (quoted in public code, e.g. letta's
        # OpenAI client and codex rollouts sending tools: [] with it).
        raise Refusal(
            400,
            "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only "
            "allowed when 'tools' are specified.",
            param="parallel_tool_calls",
        )
    choice = body.get("tool_choice")
    if choice is None:
        return
    # [P] tool_choice: "none", "auto", "required", or a named/allowed-tools object;
    # it chooses among the tools, so it comes with them.
    if not tools:
        raise Refusal(
            400,
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
            "are specified.",
            param="tool_choice",
        )
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise openai_value("tool_choice", choice, ("none", "auto", "required"))
    elif isinstance(choice, dict):
        kind = choice.get("type")
        if kind not in ("function", "custom", "allowed_tools"):
            raise openai_value("tool_choice.type", kind, ("function", "custom", "allowed_tools"))
        if kind != "allowed_tools":
            named = choice.get(kind)
            if not isinstance(named, dict) or not isinstance(named.get("name"), str):
                raise openai_missing(f"tool_choice.{kind}.name")
    else:
        raise openai_invalid_type("tool_choice", "object", choice)
