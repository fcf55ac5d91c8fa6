"""What a JSON-RPC 2.0 message must be, as an MCP server sends it on stdout.

MCP sends nothing else there: a line that is no such message means a broken
server, and mint stops waiting for its answers at once (mcp.py) instead of
at a timeout. Imports: orjson and mint's sanitize (to quote what was wrong).
"""

from __future__ import annotations

from typing import Any

import orjson

from mintcli.base.sanitize import clip


def problem(message: Any) -> str | None:
    """What is wrong with one message (None: it is a request, a notification or
    an answer). An id is a string, a number or null: never true, which Python
    would take for the number 1."""
    if not isinstance(message, dict):
        return f"not an object: {_quoted(message)}"
    if message.get("jsonrpc") != "2.0":
        return 'no "jsonrpc": "2.0"'
    ident = message.get("id")
    if isinstance(ident, bool) or not isinstance(ident, str | int | float | None):
        return f"an id that is neither a string, a number nor null: {_quoted(ident)}"
    if "method" in message:
        return None if isinstance(message["method"], str) else "a method that is not a string"
    if "id" not in message or ("result" in message) == ("error" in message):
        return "neither a request, a notification nor an answer"
    return None


def _quoted(value: Any) -> str:
    return clip(orjson.dumps(value).decode(), 40)
