"""An MCP server built with the official SDK (FastMCP; MCPServer in mcp 2.x), for
tests/test_mcp.py. ``garbage``: answers lines that are not JSON; ``--tag T``:
tool results say T (to tell two servers apart)."""

import os
import sys
import time

if "garbage" in sys.argv:
    for _line in sys.stdin:
        print("this is not JSON-RPC", flush=True)
    sys.exit(0)

try:
    from mcp.server.fastmcp import FastMCP
except ImportError:  # mcp 2.x renamed it
    from mcp.server.mcpserver import MCPServer as FastMCP

tag = sys.argv[sys.argv.index("--tag") + 1] if "--tag" in sys.argv else "weather"
app = FastMCP(tag)


@app.tool(description=f"The weather in a city ({tag}).")
def weather(city: str) -> str:
    return f"{city}: sunny, 21 C ({tag})"


@app.tool(name="geo.lookup", description="Where a place is.")
def lookup(place: str) -> str:
    return f"{place} is somewhere"


@app.tool(description="Always fails.")
def fail(reason: str) -> str:
    raise ValueError(f"cannot: {reason}")


@app.tool(description="Takes its time.")
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


@app.tool(description="Ends the server mid-call.")
def die(code: int) -> str:
    os._exit(code)


if __name__ == "__main__":
    app.run()
