"""A bare MCP server (no SDK) for tests/test_mcp.py: it lists 1,000 tools in
pages of 100 (tools/list with nextCursor), then answers nothing else. With
"endless", it lists no tools, page after page, without end; with "shout", it
writes 200 MiB to stderr without a line end and exits with status 4."""

import json
import sys

MODE = sys.argv[1] if len(sys.argv) > 1 else ""
if MODE == "shout":
    for _ in range(200):
        sys.stderr.buffer.write(b"x" * (1 << 20))
    sys.exit(4)

for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    if msg["method"] == "initialize":
        result = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                  "serverInfo": {"name": "many", "version": "1"}}  # fmt: skip
    elif msg["method"] == "tools/list":
        start = int((msg.get("params") or {}).get("cursor") or 0)
        if MODE == "endless":
            result = {"tools": [], "nextCursor": str(start + 1)}
            print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
            continue
        tools = [{"name": f"t{i}", "inputSchema": {"type": "object"}}
                 for i in range(start, start + 100)]  # fmt: skip
        result = {"tools": tools}
        if start + 100 < 1000:
            result["nextCursor"] = str(start + 100)
    else:
        result = {}
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
