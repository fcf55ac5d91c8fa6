"""Type and range checks shared by the mock's request validation, with the error
wording of each protocol: OpenAI's ("Invalid type for 'temperature': expected a
decimal, but got a string instead.", with ``param`` and ``code``) and Anthropic's
(pydantic's, "temperature: Input should be less than or equal to 1")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mintcli.mock.refusal import Refusal

# -- JSON types ------------------------------------------------------------------------


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def openai_kind(value: Any) -> str:
    """The type name OpenAI's messages use for a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


# What each expected type accepts, and how OpenAI names it ("expected a decimal").
TYPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "number": (is_number, "a decimal"),
    "integer": (is_int, "an integer"),
    "boolean": (lambda v: isinstance(v, bool), "a boolean"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "array": (lambda v: isinstance(v, list), "an array"),
    "object": (lambda v: isinstance(v, dict), "an object"),
}

# How Anthropic's (pydantic) messages name the same types ("Input should be a valid number").
_ANTHROPIC_NAMES = {
    "number": "a valid number",
    "integer": "a valid integer",
    "boolean": "a valid boolean",
    "string": "a valid string",
    "array": "a valid list",
    "object": "a valid dictionary",
}


# -- OpenAI-shaped errors --------------------------------------------------------------


def openai_invalid_type(param: str, kind: str, value: Any) -> Refusal:
    # The type found takes an article as the one expected does ("but got an array
    # instead", "but got a boolean instead", "but got null instead": real answers
    # quoted in BerriAI/litellm's batch tests and public bug reports).
    found = openai_kind(value)
    if found != "null":
        found = ("an " if found[0] in "aeiou" else "a ") + found
    return Refusal(
        400,
        f"Invalid type for '{param}': expected {TYPES[kind][1]}, but got {found} instead.",
        code="invalid_type",
        param=param,
    )


def openai_missing(param: str) -> Refusal:
    return Refusal(
        400,
        f"Missing required parameter: '{param}'.",
        code="missing_required_parameter",
        param=param,
    )


def openai_value(param: str, value: Any, allowed: tuple[str, ...]) -> Refusal:
    listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
    return Refusal(
        400,
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        code="invalid_value",
        param=param,
    )


def openai_typed(obj: Mapping[str, Any], key: str, kind: str, where: str = "") -> Any:
    """obj[key] if it is absent, null or of the type; else the typed 400."""
    value = obj.get(key)
    if value is not None and not TYPES[kind][0](value):
        raise openai_invalid_type(where + key, kind, value)
    return value


def openai_range(
    obj: Mapping[str, Any],
    key: str,
    kind: str,
    low: float | None = None,
    high: float | None = None,
) -> None:
    """A numeric parameter's type and documented range (null means unset)."""
    value = openai_typed(obj, key, kind)
    if value is None:
        return
    word = "integer" if kind == "integer" else "decimal"
    if low is not None and value < low:
        raise Refusal(
            400,
            f"Invalid '{key}': {word} below minimum value. Expected a value >= {low:g}, "
            f"but got {value} instead.",
            code=f"{word}_below_min_value",
            param=key,
        )
    if high is not None and value > high:
        raise Refusal(
            400,
            f"Invalid '{key}': {word} above maximum value. Expected a value <= {high:g}, "
            f"but got {value} instead.",
            code=f"{word}_above_max_value",
            param=key,
        )


def openai_choice(obj: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> None:
    value = openai_typed(obj, key, "string")
    if value is not None and value not in allowed:
        raise openai_value(key, value, allowed)


# -- Anthropic-shaped errors -----------------------------------------------------------


def anthropic_error(where: str, message: str) -> Refusal:
    return Refusal(400, f"{where}: {message}" if where else message)


def anthropic_typed(obj: Mapping[str, Any], key: str, kind: str, where: str = "") -> Any:
    """obj[key] if it is absent or of the type; else the typed 400. Anthropic's
    optional fields are not nullable in the SDK types, so null is a wrong type."""
    if key not in obj:
        return None
    value = obj[key]
    if not TYPES[kind][0](value):
        raise anthropic_error(where + key, f"Input should be {_ANTHROPIC_NAMES[kind]}")
    return value


def anthropic_range(
    obj: Mapping[str, Any],
    key: str,
    kind: str,
    low: float | None = None,
    high: float | None = None,
    where: str = "",
) -> None:
    value = anthropic_typed(obj, key, kind, where)
    if value is None:
        return
    if low is not None and value < low:
        raise anthropic_error(where + key, f"Input should be greater than or equal to {low:g}")
    if high is not None and value > high:
        raise anthropic_error(where + key, f"Input should be less than or equal to {high:g}")


def anthropic_choice(
    obj: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str = ""
) -> Any:
    value = anthropic_typed(obj, key, "string", where)
    if value is not None and value not in allowed:
        listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + f" or '{allowed[-1]}'"
        raise anthropic_error(where + key, f"Input should be {listed}")
    return value
