"""OpenAI strict mode's rules for a JSON Schema, as the mock checks them on a
``response_format`` of type ``json_schema`` and on a function tool, each sent
with ``"strict": true`` (what ``mint chat --schema`` sends). Sources:

  [S] openai-python src/openai/types/shared_params/response_format_json_schema.py
      and function_definition.py: "Only a subset of JSON Schema is supported when
      `strict` is `true`" (without strict the schema is not held to it); the
      Structured Outputs guide's "Supported schemas" names two rules a schema
      most often breaks: every object sets ``additionalProperties: false``, and
      lists every one of its properties in ``required`` (nested objects too).
  [E] the real 400s for those two, quoted in public threads: moeru-ai/xsai#202
      ("Invalid schema for response_format 'json_schema': In context=('properties',
      'etymology'), 'additionalProperties' is required to be supplied and to be
      false.", type invalid_request_error, param "response_format"),
      google/adk-python#4039 (the same at the top: "In context=()"), and public
      code quoting "Invalid schema for response_format 'calendar_event_extraction':
      In context=(), 'required' is required to be supplied and to be an array
      including every key in properties. Missing 'location'." and, for a tool,
      "Invalid schema for function 'search': In context=(), ...". The context is
      the path to the object that breaks the rule, through properties, items,
      anyOf (an index) and $defs; the first object met from the top is named.
      The code, invalid_json_schema, is the one the API gives the same fault in
      its Responses flavour (param "text.format.schema").

The rest of the strict subset (unsupported keywords, size limits) is not
checked: the mock must not refuse what the provider takes, and those rules
have moved over time.
"""

from __future__ import annotations

from typing import Any

from mintcli.mock.refusal import Refusal

_NO_EXTRA = "'additionalProperties' is required to be supplied and to be false."
_ALL_REQUIRED = (
    "'required' is required to be supplied and to be an array including every key in "
    "properties. Missing '{}'."
)


def check(schema: Any, what: str, param: str | None) -> None:
    """Raise the real 400 for the first object of ``schema`` that strict mode
    refuses; ``what`` names the schema as the API does ("response_format 'reply'",
    "function 'get_weather'")."""
    found = first_fault(schema)
    if found is not None:
        path, problem = found
        raise Refusal(
            400,
            f"Invalid schema for {what}: In context={path!r}, {problem}",
            code="invalid_json_schema",
            param=param,
        )


def first_fault(schema: Any) -> tuple[tuple[str, ...], str] | None:
    """(path, problem) of the first object schema breaking [S]'s two rules, the
    top first, then each child in order (iterative: a schema from the wire may
    nest deeper than Python's recursion limit)."""
    todo: list[tuple[tuple[str, ...], Any]] = [((), schema)]
    while todo:
        path, node = todo.pop()
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        if kind == "object" or (isinstance(kind, list) and "object" in kind):
            if node.get("additionalProperties") is not False:
                return path, _NO_EXTRA
            properties = node.get("properties")
            required = node.get("required")
            listed = required if isinstance(required, list) else []
            missing = next((k for k in properties if k not in listed), None) if isinstance(
                properties, dict) else None  # fmt: skip
            if missing is not None:
                return path, _ALL_REQUIRED.format(missing)
        children: list[tuple[tuple[str, ...], Any]] = []
        for key in ("properties", "$defs", "definitions"):
            named = node.get(key)
            if isinstance(named, dict):
                children += [((*path, key, str(name)), sub) for name, sub in named.items()]
        if isinstance(node.get("items"), dict):
            children.append(((*path, "items"), node["items"]))
        if isinstance(node.get("anyOf"), list):
            children += [((*path, "anyOf", str(i)), sub) for i, sub in enumerate(node["anyOf"])]
        todo.extend(reversed(children))
    return None
