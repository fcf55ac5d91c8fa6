"""A bare MCP server (no SDK) for tests/test_mcp.py: it lists 1,000 tools in
pages of 100 (tools/list with nextCursor), then answers nothing else."""

import json
import sys

for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    if msg["method"] == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "many", "version": "1"}}  # fmt: skip
    elif msg["method"] == "tools/list":
        start = int((msg.get("params") or {}).get("cursor") or 0)
        tools = [{"name": f"t{i}", "inputSchema": {"type": "object"}}
                 for i in range(start, start + 100)]  # fmt: skip
        result = {"tools": tools}
        if start + 100 < 1000:
            result["nextCursor"] = str(start + 100)
    else:
        result = {}
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
