"""Request validation for the mock: the checks the real APIs make on a request
that a client can get wrong, answered with the real status and error shape, so
that a CI run against the mock fails where production would.

Each rule cites where it comes from: the official SDKs' request types (openai-python
``src/openai/types/chat/...``, anthropic-sdk-python ``src/anthropic/types/...``:
fields marked ``Required``, ``Literal`` values, ranges stated in their docstrings)
or the API reference. What neither states is not checked: the mock must not
reject a request the provider accepts. ``mint mock --lenient`` (or a script rule
with ``"lenient": true``) turns all of this off.

The rules of each protocol are in validate_openai.py and validate_anthropic.py,
the type and range helpers they share in validate_types.py, OpenAI strict mode's
schema rules in validate_strict.py and both protocols' metadata in
validate_metadata.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mintcli.mock import validate_anthropic, validate_openai
from mintcli.mock.refusal import Refusal


def check(protocol: str, route: str, body: Any, headers: Mapping[str, str]) -> None:
    """Raise :class:`Refusal` (400) for the first rule the request breaks."""
    if protocol == "anthropic":
        validate_anthropic.check(route, body, headers)
    else:
        validate_openai.check(body)


def essentials(body: Any) -> dict[str, Any]:
    """What the mock itself needs to answer at all (all that --lenient keeps)."""
    if not isinstance(body, dict):
        raise Refusal(400, "The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise Refusal(400, "you must provide a model parameter")
    messages = body.get("messages")
    if (
        not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) for m in messages)
    ):
        raise Refusal(400, "messages: Field required (a non-empty list of message objects)")
    tools = body.get("tools")
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
    ):
        raise Refusal(400, "tools: a list of tool objects")
    return body
