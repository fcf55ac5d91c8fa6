"""What the mock says: deterministic default replies and scripted rules.

A reply is a pure function of the request (and the script), so a test or a
resumed stream can rely on getting the same answer again.

Script rules (``--script FILE``, a JSON array or one JSON object per line):
  match:            {"model": exact-or-regex, "prompt": regex over the last user
                     message, "protocol": "openai"|"anthropic"}  (all optional)
  text, reasoning:  strings
  tool_calls:       [{"id"?, "name", "arguments": object or raw string}]
                    (without an id, each call gets a unique call_.../toolu_... one)
                    (when the request forces a tool, a rule's text is that
                    tool's arguments: a model made to call a tool has no text)
  interleave:       OpenAI only: argument pieces of several calls alternate
  finish_reason:    override (default stop/end_turn, tool_calls/tool_use with calls)
  usage:            {"input_tokens", "output_tokens"} override
  piece_chars, delay, first_byte_delay, repeat (the text repeated N times),
  ids (send SSE ids), honor_last_event_id, fault (a fault spec, see faults.py),
  stream (false: answer even a stream request with one JSON body, as some gateways do),
  lenient (true: requests this rule matches skip validation; a rule with only
  match and lenient gives no reply of its own)
  steps:            a tool-using model's replies, one per step of a chain (mock/agent.py)
Each key's type and range is checked when the script is loaded: piece_chars 1
and up, delays 0 to 3600 seconds, text x repeat at most 16 Mi characters.
The first matching rule wins; without one the default reply is used: for a
structured-output request (OpenAI ``response_format``, Anthropic
``output_config.format``, json_schema) or a tool the
model must or may call, a small value the schema accepts (mock/instance.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from mintcli.base.capped import MiB, read_named
from mintcli.mock import agent
from mintcli.mock.agent import content_text as content_text  # re-exported
from mintcli.mock.agent import is_tool_result
from mintcli.mock.agent import prompt_text as prompt_text  # re-exported
from mintcli.mock.faults import Fault, FaultSpecError, parse_fault
from mintcli.mock.instance import minimal_instance

# A script is rules written by hand (a long reply comes from "repeat", not from
# pasted text), so a few KiB is usual; 16 MiB leaves room for generated ones while
# its parsed rules stay well within memory. /dev/zero or a pipe that never ends
# stops at the cap instead of filling memory (stat says 0 bytes for those).
SCRIPT_BYTES = 16 * MiB

POEM = "《静夜思》\n床前明月光,\n疑是地上霜。\n举头望明月,\n低头思故乡。🌙\n"


class MockScriptError(ValueError):
    """A script (or option) the mock cannot use."""


@dataclass(frozen=True)
class MockCall:
    id: str
    name: str
    arguments: str  # the JSON text, sent as-is (it may be invalid on purpose)


@dataclass(frozen=True)
class Reply:
    text: str = ""
    reasoning: str = ""
    tool_calls: tuple[MockCall, ...] = ()
    interleave: bool = False
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    piece_chars: int = 4
    delay: float = 0.0
    first_byte_delay: float = 0.0
    repeat: int = 1
    ids: bool = True
    honor_last_event_id: bool = True
    stream: bool = True  # False: answer a stream request with one JSON body
    stop_sequence: str | None = None  # the stop sequence that ended the text (shape.py)

    fault: Fault | None = None
    steps: tuple[dict[str, Any], ...] = ()  # a chain of replies (mock/agent.py)


@dataclass(frozen=True)
class Rule:
    model: re.Pattern[str] | None
    prompt: re.Pattern[str] | None
    protocol: str | None
    fields: dict[str, Any] = field(default_factory=dict)

    def matches(self, protocol: str, model: str, prompt: str) -> bool:
        if self.protocol is not None and self.protocol != protocol:
            return False
        if self.model is not None and not self.model.fullmatch(model):
            return False
        return self.prompt is None or bool(self.prompt.search(prompt))


_REPLY_KEYS: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "reasoning": str,
    "interleave": bool,
    "finish_reason": str,
    "ids": bool,
    "honor_last_event_id": bool,
    "stream": bool,
    "lenient": bool,  # no request validation for what this rule matches (server.py)
}
# Bounds a script is held to when it is loaded, so a typo cannot make the mock
# fail on every request later. One answer stays bounded: text x repeat is at
# most 16 Mi characters (the largest reply the benchmarks use is 3 Mi); a wait
# is at most an hour (a delay is per piece, so a reply can still take days).
MAX_REPLY_CHARS = 16 * 1024 * 1024
MAX_SECONDS = 3600.0
MAX_COUNT = 2**31 - 1
_COUNTS = {"piece_chars": 1, "repeat": 0}  # key: its least value
_MATCH_KEYS = ("model", "prompt", "protocol")
_USAGE_KEYS = ("input_tokens", "output_tokens")


def _count(value: Any, where: str, key: str, least: int) -> int:
    if type(value) is not int or not least <= value <= MAX_COUNT:
        raise MockScriptError(f"{where}: {key} must be a whole number from {least} to {MAX_COUNT}")
    return value


def _seconds(value: Any, where: str, key: str) -> float:
    if type(value) not in (int, float) or not 0 <= value <= MAX_SECONDS:  # NaN fails too
        raise MockScriptError(
            f"{where}: {key} must be a number of seconds from 0 to {MAX_SECONDS:g}"
        )
    return float(value)


def _calls(raw: Any, where: str) -> tuple[MockCall, ...]:
    if not isinstance(raw, list):
        raise MockScriptError(f"{where}: tool_calls must be a list")
    calls = []
    for i, call in enumerate(raw):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise MockScriptError(f"{where}: tool_calls[{i}] needs a name")
        if not isinstance(call.get("id", ""), str):
            raise MockScriptError(f"{where}: tool_calls[{i}]: id must be a string")
        args = call.get("arguments", {})
        text = args if isinstance(args, str) else orjson.dumps(args).decode()
        calls.append(MockCall(str(call.get("id") or ""), call["name"], text))
    return tuple(calls)


def _usage(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise MockScriptError(f"{where}: usage must be an object")
    for key in value:
        if key not in _USAGE_KEYS:
            raise MockScriptError(
                f"{where}: usage: unknown key {key!r} (input_tokens, output_tokens)"
            )
    return {k: _count(v, where, f"usage.{k}", 0) for k, v in value.items()}


def _match(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise MockScriptError(f"{where}: match must be an object")
    for key, given in value.items():
        if key not in _MATCH_KEYS:
            raise MockScriptError(f"{where}: match: unknown key {key!r} (model, prompt, protocol)")
        if not isinstance(given, str):
            raise MockScriptError(f"{where}: match.{key} must be a string")
    if value.get("protocol") not in (None, "openai", "anthropic"):
        raise MockScriptError(f'{where}: match.protocol must be "openai" or "anthropic"')
    return value


def _steps(value: Any, where: str, step: bool) -> tuple[dict[str, Any], ...]:
    if step:
        raise MockScriptError(f"{where}: a step cannot have steps of its own")
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise MockScriptError(f"{where}: steps must be a list of rule objects (one per step)")
    parts = [parse_rule(v, f"{where}: step {i}", step=True) for i, v in enumerate(value)]
    if any(p.model or p.prompt or p.protocol for p in parts):
        raise MockScriptError(f"{where}: a step has no match of its own")
    return tuple(p.fields for p in parts)


def _bounded(fields: dict[str, Any], where: str) -> None:
    """text x repeat within MAX_REPLY_CHARS, for the rule and each of its steps
    (a step takes the rule's repeat when it has none of its own)."""
    for part in (fields, *fields.get("steps", ())):
        repeat = max(1, part.get("repeat", fields.get("repeat", 1)))
        text = len(part.get("text", ""))
        if text * repeat > MAX_REPLY_CHARS:
            raise MockScriptError(
                f"{where}: text x repeat is {text * repeat} characters, "
                f"more than the mock's limit of {MAX_REPLY_CHARS} for one answer"
            )


def parse_rule(obj: Any, where: str, step: bool = False) -> Rule:
    if not isinstance(obj, dict):
        raise MockScriptError(f"{where}: a rule must be a JSON object")
    match = _match(obj.get("match") or {}, where)
    fields: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "match":
            continue
        if key == "tool_calls":
            fields[key] = _calls(value, where)
        elif key == "usage":
            fields[key] = _usage(value, where)
        elif key == "steps":
            fields[key] = _steps(value, where, step)
        elif key == "fault":
            try:
                fields[key] = parse_fault(value)
            except FaultSpecError as exc:
                raise MockScriptError(f"{where}: {exc}") from None
        elif key in _COUNTS:
            fields[key] = _count(value, where, key, _COUNTS[key])
        elif key in ("delay", "first_byte_delay"):
            fields[key] = _seconds(value, where, key)
        elif key in _REPLY_KEYS:
            if not isinstance(value, _REPLY_KEYS[key]):
                raise MockScriptError(f"{where}: {key} must be a {_type_word(_REPLY_KEYS[key])}")
            fields[key] = value
        else:
            raise MockScriptError(f"{where}: unknown rule key {key!r}")
    if not step:
        _bounded(fields, where)
    try:
        model = match.get("model")
        prompt = match.get("prompt")
        return Rule(
            model=re.compile(model) if model else None,
            prompt=re.compile(prompt) if prompt else None,
            protocol=match.get("protocol"),
            fields=fields,
        )
    except re.error as exc:
        raise MockScriptError(f"{where}: bad regular expression: {exc}") from None


def _type_word(kind: type | tuple[type, ...]) -> str:
    return "string" if kind is str else "boolean (true or false)"


def load_script(path: Path) -> list[Rule]:
    data = read_named(str(path), f"script {path}", cap=SCRIPT_BYTES, error=MockScriptError)
    stripped = data.strip()
    try:
        if stripped.startswith(b"["):
            items = orjson.loads(stripped)
        else:
            items = [orjson.loads(line) for line in stripped.splitlines() if line.strip()]
    except orjson.JSONDecodeError as exc:
        raise MockScriptError(f"script {path}: not valid JSON or JSONL ({exc})") from None
    return [parse_rule(item, f"script {path}: rule {i}") for i, item in enumerate(items)]


# -- reading requests ---------------------------------------------------------------


def _tool_name(tool: Any) -> str | None:
    if not isinstance(tool, dict):
        return None
    fn = tool.get("function") if tool.get("type") == "function" else tool
    name = fn.get("name") if isinstance(fn, dict) else None
    return name if isinstance(name, str) else None


def _tool_schema(tool: dict[str, Any]) -> dict[str, Any]:
    fn = tool.get("function") if tool.get("type") == "function" else tool
    assert isinstance(fn, dict)
    schema = fn.get("parameters") or fn.get("input_schema") or {}
    return schema if isinstance(schema, dict) else {}


def _subject(prompt: str) -> str:
    """A short value taken from the prompt: the first two characters of its first
    run of CJK characters (北京的天气 -> 北京), else its first word."""
    cjk = re.search(r"[\u4e00-\u9fff]+", prompt)
    if cjk:
        return cjk.group(0)[:2]
    word = re.search(r"\w+", prompt)
    return word.group(0) if word else "x"


def _json_reply_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a structured-output request: OpenAI response_format json_schema,
    Anthropic output_config.format json_schema."""
    fmt = body.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else {}
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return schema if isinstance(schema, dict) else {}
    return None


def _forced_tool(body: dict[str, Any]) -> str | None:
    """The tool the request forces the model to call, by name."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("tool", "function"):
        named = choice.get("name") or (choice.get("function") or {}).get("name")
        return named if isinstance(named, str) else None
    return None


def _tool_choice_name(choice: Any, tools: list[Any]) -> str | None:
    """The tool to call by default, or None when tools are off."""
    if choice in ("none", {"type": "none"}):
        return None
    if isinstance(choice, dict):
        named = choice.get("name") or (choice.get("function") or {}).get("name")
        if isinstance(named, str):
            return named
    return _tool_name(tools[0]) if tools else None


def default_reply(body: dict[str, Any], messages: list[dict[str, Any]]) -> Reply:
    last = messages[-1] if messages else {}
    prompt = prompt_text(last.get("content"))
    if is_tool_result(last):
        return Reply(text=agent.quote_results(messages))
    schema = _json_reply_schema(body)
    if schema is not None:
        return Reply(text=orjson.dumps(minimal_instance(schema, _subject(prompt))).decode())
    tools = body.get("tools") or []
    name = _tool_choice_name(body.get("tool_choice"), tools)
    if name is not None:
        tool = next((t for t in tools if _tool_name(t) == name), None)
        if tool is not None:
            args = minimal_instance(_tool_schema(tool), _subject(prompt))
            return Reply(tool_calls=(MockCall("", name, orjson.dumps(args).decode()),))
    if re.search(r"诗|poem", prompt, re.IGNORECASE):
        return Reply(text=POEM)
    return Reply(text=f"Mock reply to: {prompt[:200]}")


def choose_reply(
    rules: list[Rule],
    protocol: str,
    body: dict[str, Any],
    messages: list[dict[str, Any]],
    base: Reply,
) -> Reply:
    """The reply for a conversation (without any final assistant prefill)."""
    model = str(body.get("model", ""))
    # the prompt: the last user turn that is not tool results (Anthropic sends those as user)
    user: dict[str, Any] = next(
        (m for m in reversed(messages) if m.get("role") == "user" and not is_tool_result(m)), {}
    )
    prompt = prompt_text(user.get("content"))
    for rule in rules:
        if rule.matches(protocol, model, prompt):
            reply: Reply = agent.pick_step(replace(base, **rule.fields), messages)
            forced = _forced_tool(body)
            if forced is not None and reply.text and not reply.tool_calls:
                # A model made to call a tool cannot answer in text: the rule's
                # text is the call's input (how --schema is tested on Anthropic).
                call = MockCall("", forced, reply.text * max(1, reply.repeat))
                reply = replace(reply, text="", repeat=1, tool_calls=(call,))
            return reply
    reply = default_reply(body, messages)
    return replace(base, text=reply.text, tool_calls=reply.tool_calls)
