"""mint mock: a deterministic local gateway speaking the OpenAI and Anthropic
wire formats, with scripted replies and injectable faults. It checks requests as
the real APIs do (validate*.py; off with --lenient) and shapes replies as the
request asks (shape.py). Standard library and orjson only."""

from mintcli.mock.faults import Fault, FaultSpecError, parse_fault
from mintcli.mock.script import MockScriptError
from mintcli.mock.server import MockServer, serve_main

__all__ = [
    "Fault",
    "FaultSpecError",
    "MockScriptError",
    "MockServer",
    "parse_fault",
    "serve_main",
]
