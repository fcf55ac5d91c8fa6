"""Wire protocols. Everything protocol-specific lives below this package; the
rest of mint sees a :class:`WireProtocol` and mint's own events."""

from __future__ import annotations

from mintcli.errors import UsageError
from mintcli.protocols.base import (
    StreamDecoder,
    WireProtocol,
    error_message,
    list_models,
    parse_model_list,
)

__all__ = [
    "StreamDecoder",
    "WireProtocol",
    "error_message",
    "get_protocol",
    "list_models",
    "parse_model_list",
]


def get_protocol(name: str) -> WireProtocol:
    if name == "openai":
        from mintcli.protocols.openai import OpenAIProtocol

        return OpenAIProtocol()
    if name == "anthropic":
        from mintcli.protocols.anthropic import AnthropicProtocol

        return AnthropicProtocol()
    raise UsageError(f"unknown protocol {name!r} (choose openai or anthropic)")
