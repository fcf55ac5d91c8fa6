"""``--schema``: a reply that must be JSON of a given shape.

Three steps, each usable on its own (``mint chat`` uses all three, and so can
any other command that sends requests, such as a batch):

* :func:`load_schema` reads the schema (a file or inline JSON) and checks that
  it is a valid JSON Schema whose top level is an object, which both protocols
  require;
* :func:`with_schema` gives the request that asks for it; each protocol then
  writes its own body (OpenAI ``response_format``; Anthropic a forced tool whose
  input is streamed as the reply text, see ``protocols/anthropic.py``);
* :func:`compile_checker` gives a :class:`Checker` that takes the finished
  reply text and returns the parsed object, or raises :class:`SchemaMismatch`
  saying which field is wrong (exit 10).

Validation uses ``jsonschema`` (the optional ``mintcli[schema]`` extra), the
reference implementation: it knows every draft up to 2020-12, the dialect both
providers document, rejects a broken schema before anything is sent, and
reports every failing field with its JSON path. It is imported only here, and
this module only when ``--schema`` is used, so other runs never pay for it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from mintcli.errors import ConfigError, SchemaMismatch, UsageError

if TYPE_CHECKING:
    from mintcli.request.model import ChatRequest, ToolSpec

MAX_PROBLEMS = 3  # shown in the one error line; the rest are counted
INSTALL_HINT = "pip install 'mintcli[schema]'"


def _validator_for(schema: dict[str, Any]) -> Any:
    """The jsonschema validator class for the schema's dialect (2020-12 by default)."""
    try:
        from jsonschema import validators
    except ImportError:
        raise ConfigError(
            f"--schema needs the jsonschema package, which is not installed (try: {INSTALL_HINT})"
        ) from None
    return validators.validator_for(schema, default=validators.Draft202012Validator)


def load_schema(value: str, option: str = "--schema") -> dict[str, Any]:
    """The schema given as a file path or inline JSON, checked (exit 2 if unusable)."""
    from mintcli.base.capped import read_json

    return check_schema(*read_json(value, option), option)


def check_schema(schema: Any, source: str, option: str = "--schema") -> dict[str, Any]:
    """A schema read from ``source``, checked (exit 2 if unusable)."""
    where = f"{option} {source}"
    if not isinstance(schema, dict):
        raise UsageError(f"{where}: a JSON Schema must be a JSON object")
    if schema.get("type") != "object":
        raise UsageError(
            f'{where}: the top level must be an object schema ("type": "object"); '
            "both protocols require it (wrap a list or a value in an object property)"
        )
    validator = _validator_for(schema)  # first: it says when jsonschema is missing
    from jsonschema.exceptions import SchemaError

    try:
        validator.check_schema(schema)
    except SchemaError as exc:
        problem = f"at {exc.json_path}: {_short(exc.message)}"
        raise UsageError(f"{where}: not a valid JSON Schema: {problem}") from None
    remote = _outside_ref(schema)
    if remote is not None:
        raise UsageError(
            f"{where}: the reference {_short(remote)!r} points outside the schema; mint "
            "never fetches a schema (put the definition under $defs, refer to it as #/$defs/...)"
        )
    try:
        validator(schema).is_valid({})
    except _unusable():
        raise UsageError(f"{where}: {_LOOPS}") from None
    return schema


_LOOPS = "a $ref in the schema refers to itself without end"
_REFS = ("$ref", "$dynamicRef", "$recursiveRef")


def _outside_ref(schema: Any) -> str | None:
    """The first reference that is not to a part of the schema itself (``#...``).
    Iterative: a schema may nest deeper than Python's recursion limit."""
    todo = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in _REFS and isinstance(value, str) and not value.startswith("#"):
                    return value
                todo.append(value)
        elif isinstance(node, list):
            todo.extend(node)
    return None


def _unusable() -> tuple[type[BaseException], ...]:
    from referencing.exceptions import Unresolvable

    return (RecursionError, Unresolvable)


def with_schema(request: ChatRequest, schema: dict[str, Any]) -> ChatRequest:
    """The request asking for a reply that follows ``schema``."""
    check_alone(request.tools, request.tool_choice)
    return replace(request, schema=schema)


def check_alone(tools: tuple[ToolSpec, ...], tool_choice: str | None) -> None:
    """A reply schema leaves no room for tools."""
    if tools or tool_choice is not None:
        raise UsageError(
            "--schema cannot be combined with --tool/--tools/--tool-choice: the reply is "
            "the JSON itself (with the Anthropic protocol the schema is a forced tool)"
        )


class Checker:
    """The finished reply text -> the parsed object, or :class:`SchemaMismatch`."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = _validator_for(schema)(schema)

    def __call__(self, text: str, finish_reason: str | None = None) -> Any:
        cut = f" (the reply was cut short: {finish_reason})" if finish_reason in (
            "length", "max_tokens") else ""  # fmt: skip
        if not text.strip():
            raise SchemaMismatch(f"the reply is empty, not JSON (--schema){cut}")
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise SchemaMismatch(f"the reply is not JSON (--schema): {exc}{cut}") from None
        try:
            found = list(self._validator.iter_errors(value))
        except _unusable():
            # A loop that only this value reaches (a property referring to itself).
            raise SchemaMismatch(
                f"the reply could not be checked against --schema: {_LOOPS}"
            ) from None
        errors = sorted(found, key=lambda e: list(e.absolute_path))
        if errors:
            shown = "; ".join(
                f"at {e.json_path}: {_short(e.message)}" for e in errors[:MAX_PROBLEMS]
            )
            more = len(errors) - MAX_PROBLEMS
            extra = f" (and {more} more)" if more > 0 else ""
            raise SchemaMismatch(f"the reply does not match --schema: {shown}{extra}{cut}")
        return value


def compile_checker(schema: dict[str, Any]) -> Checker:
    """A checker for many replies (the schema is compiled once)."""
    return Checker(schema)


def check_reply(text: str, schema: dict[str, Any]) -> Any:
    """One reply checked against ``schema``: the parsed object, or SchemaMismatch."""
    return Checker(schema)(text)


def _short(message: str, limit: int = 160) -> str:
    """A validator message that quotes a large value stays one readable line."""
    return message if len(message) <= limit else message[: limit - 1] + "…"
