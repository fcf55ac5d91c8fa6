"""Tool definitions from ``--tool FILE|JSON`` and ``--tools FILE``.

Three shapes are accepted and normalized to :class:`ToolSpec`; each protocol
then writes its own wire shape:
* OpenAI:    {"type": "function", "function": {"name", "description", "parameters"}}
* bare:      {"name", "description", "parameters"}
* Anthropic: {"name", "description", "input_schema"}
"""

from __future__ import annotations

from typing import Any

from mintcli.base.capped import read_json
from mintcli.errors import UsageError
from mintcli.options.kinds import TOOL_NAME
from mintcli.request.model import ToolSpec

_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def normalize_tool(obj: Any, where: str) -> ToolSpec:
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: a tool must be a JSON object")
    if obj.get("type") == "function" and isinstance(obj.get("function"), dict):
        obj = obj["function"]
    name = obj.get("name")
    if not isinstance(name, str) or not TOOL_NAME.match(name):
        raise UsageError(
            f"{where}: tool name must be 1-64 letters, digits, '_' or '-' (got {name!r})"
        )
    description = obj.get("description")
    if description is not None and not isinstance(description, str):
        raise UsageError(f"{where}: tool {name!r} has a description that is not a string")
    schema = obj.get("parameters", obj.get("input_schema"))
    if schema is None:
        schema = dict(_EMPTY_SCHEMA)
    if not isinstance(schema, dict):
        raise UsageError(f"{where}: tool {name!r} parameters must be a JSON Schema object")
    if schema.get("type", "object") != "object":
        raise UsageError(f"{where}: tool {name!r} parameters must describe an object")
    return ToolSpec(name=name, description=description, parameters=schema)


Document = tuple[str, Any, str]  # the option, its JSON value, where that came from


def load_tools(tool_values: tuple[str, ...], tools_files: tuple[str, ...]) -> tuple[ToolSpec, ...]:
    """The tools of ``--tool`` and ``--tools`` values: read, then checked."""
    values = [*(("--tool", v) for v in tool_values), *(("--tools", v) for v in tools_files)]
    return tools_from([(option, *read_json(value, option)) for option, value in values])


def tools_from(documents: list[Document]) -> tuple[ToolSpec, ...]:
    """The tools of ``--tool`` (one or a list) and ``--tools`` (a list) documents."""
    specs: list[ToolSpec] = []
    for option, obj, source in documents:
        if option == "--tools" and not isinstance(obj, list):
            raise UsageError(f"--tools {source}: expected a JSON array of tools")
        if option == "--tools":
            specs.extend(tool_list(obj, f"--tools {source}"))
        else:
            items = obj if isinstance(obj, list) else [obj]
            specs.extend(normalize_tool(item, f"--tool {source}") for item in items)
    return unique(specs)


def tool_list(obj: list[Any], source: str) -> list[ToolSpec]:
    """A JSON array of tool definitions (``source`` names it in errors)."""
    return [normalize_tool(item, f"{source}: tool {i}") for i, item in enumerate(obj)]


def unique(specs: list[ToolSpec]) -> tuple[ToolSpec, ...]:
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise UsageError(f"tool {spec.name!r} is defined twice")
        seen.add(spec.name)
    return tuple(specs)


def check_tool_choice(choice: str | None, tools: tuple[ToolSpec, ...]) -> str | None:
    if choice is None or choice in ("auto", "none"):
        return choice
    if not tools:
        raise UsageError(f"--tool-choice {choice} needs at least one --tool")
    if choice == "required" or any(t.name == choice for t in tools):
        return choice
    names = ", ".join(t.name for t in tools)
    raise UsageError(f"--tool-choice {choice!r}: no such tool (defined: {names})")
