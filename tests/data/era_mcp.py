"""A bare MCP server (no SDK) for tests/test_mcp.py, of one revision or another,
with one tool, echo. ``stateless``: the 2026-07-28 revision (server/discover, no
handshake, _meta on every request); ``legacy``: an earlier one (server/discover
is an unknown method, initialize comes first); ``silent``: an earlier one that
never answers server/discover. Each method received is appended to $ERA_LOG.
With $ERA_STAY (a file name), it writes its pid there and does not exit at the
end of its stdin."""

import json
import os
import sys
import time

if os.environ.get("ERA_STAY"):
    with open(os.environ["ERA_STAY"] + ".tmp", "w") as out:
        out.write(str(os.getpid()))
    os.rename(os.environ["ERA_STAY"] + ".tmp", os.environ["ERA_STAY"])

era = sys.argv[1]
VERSION = "io.modelcontextprotocol/protocolVersion"
initialized = False


def answer(msg, result=None, error=None):
    out = {"jsonrpc": "2.0", "id": msg["id"]}
    out.update({"error": error} if error else {"result": result})
    print(json.dumps(out), flush=True)


for line in sys.stdin:
    msg = json.loads(line)
    method, params = msg.get("method"), msg.get("params") or {}
    with open(os.environ["ERA_LOG"], "a") as log:
        log.write(method + "\n")
    if "id" not in msg:
        initialized = initialized or method == "notifications/initialized"
        continue
    if method == "server/discover":
        if era == "stateless":
            answer(msg, {"resultType": "complete", "supportedVersions": ["2026-07-28"],
                         "capabilities": {"tools": {}}})  # fmt: skip
        elif era == "legacy":
            answer(msg, error={"code": -32601, "message": "Method not found"})
        continue
    if era == "stateless" and method == "initialize":
        answer(msg, error={"code": -32601, "message": "Method not found"})
    elif era == "stateless" and (params.get("_meta") or {}).get(VERSION) != "2026-07-28":
        answer(msg, error={"code": -32602, "message": "_meta must name the protocol version"})
    elif method == "initialize":
        answer(msg, {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                     "serverInfo": {"name": "era", "version": "1"}})  # fmt: skip
    elif era != "stateless" and not initialized:
        answer(msg, error={"code": -32002, "message": "not initialized"})
    elif method == "tools/list":
        tool = {"name": "echo", "inputSchema": {"type": "object",
                "properties": {"text": {"type": "string"}}}}  # fmt: skip
        answer(msg, {"tools": [tool]} | ({"resultType": "complete"} if era == "stateless" else {}))
    elif method == "tools/call":
        text = params["arguments"]["text"]
        answer(msg, {"content": [{"type": "text", "text": text}], "isError": False})
    else:
        answer(msg, error={"code": -32601, "message": "Method not found"})

if os.environ.get("ERA_STAY"):
    time.sleep(300)
