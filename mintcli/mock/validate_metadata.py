"""The ``metadata`` field of each protocol, as the real APIs check it (the mock's
request validation, see validate.py). Sources:

  [O] openai-python src/openai/types/shared_params/metadata.py and the
      ``metadata`` docstring of completion_create_params.py: "Set of 16 key-value
      pairs ... Keys are strings with a maximum length of 64 characters. Values
      are strings with a maximum length of 512 characters."
  [OE] the real 400s for it, quoted in public threads and code: "Invalid type for
      'metadata.tags': expected a string, but got an array instead." (param
      "metadata.tags", code invalid_type; BerriAI/litellm's batch tests), "Invalid
      'metadata': too many properties. Expected an object with at most 16
      properties, but got an object with 17 properties instead." (code
      object_above_max_properties, a Foundry/Teams troubleshooting note), and the
      key and value lengths ("Invalid property name in 'metadata': '...' is too
      long. ..." code property_name_above_max_length; "Invalid 'metadata.k': string
      too long. ..." code string_above_max_length), worded as every OpenAI length
      error is.
  [OS] the real 400 for metadata without ``"store": true``: "The 'metadata'
      parameter is only allowed when 'store' is enabled." (tmc/langchaingo#1484,
      langchain-ai/langchain-litellm#8, QwenLM/qwen-code#243).
  [A] anthropic-sdk-python src/anthropic/types/metadata_param.py: MetadataParam has
      one field, ``user_id: Optional[str]``.
  [AE] the real 400 for any other key, quoted in public code: "metadata.session_id:
      Extra inputs are not permitted" (and BerriAI/litellm#24661: "The Anthropic
      Messages API only supports user_id ... Passing any other key causes the API
      to return an error").
"""

from __future__ import annotations

from typing import Any

from mintcli.mock.refusal import Refusal
from mintcli.mock.validate_types import anthropic_error, anthropic_typed, openai_invalid_type

MAX_PAIRS, MAX_KEY, MAX_VALUE = 16, 64, 512  # [O]


def openai(body: dict[str, Any]) -> None:
    metadata = body.get("metadata")
    if metadata is None:  # OpenAI's optional fields take null as unset
        return
    if not isinstance(metadata, dict):
        raise openai_invalid_type("metadata", "object", metadata)
    if len(metadata) > MAX_PAIRS:  # [O], [OE]
        raise Refusal(
            400,
            f"Invalid 'metadata': too many properties. Expected an object with at most "
            f"{MAX_PAIRS} properties, but got an object with {len(metadata)} properties "
            "instead.",
            code="object_above_max_properties",
            param="metadata",
        )
    for key, value in metadata.items():
        where = f"metadata.{key}"
        if len(key) > MAX_KEY:
            raise Refusal(
                400,
                f"Invalid property name in 'metadata': '{key}' is too long. Expected a "
                f"string with maximum length {MAX_KEY}, but got a string with length "
                f"{len(key)} instead.",
                code="property_name_above_max_length",
                param=where,
            )
        if not isinstance(value, str):  # [O] values are strings, [OE]
            raise openai_invalid_type(where, "string", value)
        if len(value) > MAX_VALUE:
            raise Refusal(
                400,
                f"Invalid '{where}': string too long. Expected a string with maximum "
                f"length {MAX_VALUE}, but got a string with length {len(value)} instead.",
                code="string_above_max_length",
                param=where,
            )
    if body.get("store") is not True:  # [OS]
        raise Refusal(
            400,
            "The 'metadata' parameter is only allowed when 'store' is enabled.",
            param="metadata",
        )


def anthropic(body: dict[str, Any]) -> None:
    metadata = anthropic_typed(body, "metadata", "object")
    if metadata is None:
        return
    # [A] user_id is the one field, [AE] anything else is refused.
    extra = next((k for k in metadata if k != "user_id"), None)
    if extra is not None:
        raise anthropic_error(f"metadata.{extra}", "Extra inputs are not permitted")
    if metadata.get("user_id") is not None:  # [A] Optional[str]: null is allowed
        anthropic_typed(metadata, "user_id", "string", "metadata.")
