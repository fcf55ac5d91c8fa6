"""mint runs the tools: ``--tool-cmd NAME=COMMAND`` and ``--mcp 'COMMAND'``.

When the run declares runnable tools, ``cli/chat.py`` hands it to :class:`ToolLoop`
(loop.py): each step streams a reply through the usual runner; its tool calls
run in parallel, up to 16 at a time (proc.py for commands, mcp.py for MCP
servers, with jsonrpc.py checking what they send; toolbox.py maps names to
them and redacts the key from the results),
each result is journaled as it ends (chain.py) and shown per
format (output.py); then the next request carries the results, until a reply
makes no call or ``--max-steps`` is reached (exit 13). approve.py asks before
each call with ``--approve``; watchdog.py kills the tools' process groups if
mint dies without doing so.

Imports: the standard library (subprocess, selectors, threading, shlex),
orjson, and mint's runner, sinks, journal and request modules. Nothing here is
imported unless ``--tool-cmd``/``--mcp`` is given (or a resumed journal holds
a tool loop).
"""

from mintcli.toolloop.loop import ToolLoop

__all__ = ["ToolLoop"]
