"""A small value that a JSON Schema accepts, for the mock's structured replies
(``response_format`` json_schema, a forced tool) and tool-call arguments.

Deterministic: strings are a word taken from the prompt (``hint``) bent to the
schema's length limits, numbers 1 moved into their range, booleans true, and an
object holds its required properties (all of them when it lists none). Handles
type (and type lists), const, enum, $ref into the same document, allOf, anyOf,
oneOf, properties, prefixItems/items with minItems, string formats and simple
patterns. What it cannot satisfy (a pattern no candidate matches, a recursion
without end) it answers with its best guess: the mock is a test double, and
mint's own check says when a reply does not fit.
"""

from __future__ import annotations

import re
from typing import Any

_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "email": "mock@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}
_MAX_DEPTH = 32


def minimal_instance(schema: Any, hint: str = "x") -> Any:
    return _Maker(schema, hint).make(schema, 0)


class _Maker:
    def __init__(self, root: Any, hint: str) -> None:
        self.root = root
        self.hint = hint

    def _deref(self, ref: str) -> Any:
        node = self.root
        if not ref.startswith("#"):
            return {}
        for part in (p for p in ref[1:].split("/") if p):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node

    def make(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return self.hint if schema is not False else None
        if "$ref" in schema:
            return self.make(self._deref(str(schema["$ref"])), depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if isinstance(schema.get("allOf"), list):
            merged = _merge([schema, *(self._resolved(s) for s in schema["allOf"])])
            return self.make(merged, depth + 1)
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                rest = {k: v for k, v in schema.items() if k != key}
                return self.make(_merge([rest, self._resolved(schema[key][0])]), depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else ""
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth)
        if kind in ("integer", "number"):
            return _number(schema, kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema)

    def _resolved(self, schema: Any) -> Any:
        if isinstance(schema, dict) and "$ref" in schema:
            return self._deref(str(schema["$ref"]))
        return schema

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        props = schema.get("properties") or {}
        wanted = schema["required"] if "required" in schema else list(props)
        minimum = schema.get("minProperties", 0)
        names = (
            list(wanted) + [p for p in props if p not in wanted][: max(0, minimum - len(wanted))]
        )
        return {name: self.make(props.get(name, {}), depth + 1) for name in names}

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems") or []
        count = schema.get("minItems", 0)
        items = schema.get("items", {})
        return [self.make(prefix[i] if i < len(prefix) else items, depth + 1) for i in range(count)]

    def _string(self, schema: dict[str, Any]) -> str:
        fmt = schema.get("format")
        text = str(_FORMATS.get(fmt, self.hint)) if isinstance(fmt, str) else self.hint
        low: int = schema.get("minLength", 0)
        high: int | None = schema.get("maxLength")
        text += "x" * max(0, low - len(text))
        if high is not None:
            text = text[:high]
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            for candidate in (text, "x" * max(1, low), "0" * max(1, low), "A" * max(1, low), ""):
                try:
                    if re.search(pattern, candidate):
                        return candidate
                except re.error:
                    break
        return text


def _merge(schemas: list[Any]) -> dict[str, Any]:
    """allOf, roughly: later keys win, properties and required add up."""
    out: dict[str, Any] = {}
    for schema in schemas:
        if not isinstance(schema, dict):
            continue
        for key, value in schema.items():
            if key in ("allOf",):
                continue
            if key == "properties" and isinstance(value, dict):
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required" and isinstance(value, list):
                out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
            else:
                out[key] = value
    return out


def _number(schema: dict[str, Any], integer: bool) -> int | float:
    value: float = 1
    if "minimum" in schema:
        value = max(value, schema["minimum"])
    if "exclusiveMinimum" in schema and isinstance(schema["exclusiveMinimum"], (int, float)):
        value = max(value, schema["exclusiveMinimum"] + (1 if integer else 0.5))
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    if "exclusiveMaximum" in schema and isinstance(schema["exclusiveMaximum"], (int, float)):
        value = min(value, schema["exclusiveMaximum"] - (1 if integer else 0.5))
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0:
        value = step * max(1, -(-value // step))
    return int(value) if integer else value
