"""A bare MCP server (no SDK) for tests/test_leaks.py that breaks one rule,
chosen by its argument. It speaks an earlier revision (server/discover is an
unknown method) and offers one tool, echo, which answers "ok" unless:

  keyerror=F tools/call is answered with an error that is a bare string
             holding an escape sequence and the text of file F (the key: mint
             keeps it out of a server's environment)
  nameless   the tool list also holds a tool without a name, one whose name
             is a number and one whose name is a list holding an escape
  version=V  initialize is answered with protocol version V
  idtrue     server/discover is answered with "id": true
  empty      every request is answered with the line {}
  batch      every answer is sent as a batch of one (an array), as the
             2025-03-26 revision allows
  long=N     tools/call is answered with one line of N MiB (written a MiB at a time)
"""

import json
import sys

MODE, _, ARG = (sys.argv[1] if len(sys.argv) > 1 else "").partition("=")
ECHO = {"name": "echo", "inputSchema": {"type": "object"}}


def send(obj):
    sys.stdout.write(json.dumps([obj] if MODE == "batch" else obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    if MODE == "empty":
        print("{}", flush=True)
        continue
    method, ident = msg["method"], msg["id"]
    if method == "server/discover":
        if MODE == "idtrue":
            send({"jsonrpc": "2.0", "id": True, "result": {"supportedVersions": ["2026-07-28"]}})
        else:
            send({"jsonrpc": "2.0", "id": ident, "error": {"code": -32601, "message": "no"}})
    elif method == "initialize":
        version = {"version": ARG, "batch": "2025-03-26"}.get(MODE, "2025-06-18")
        send({"jsonrpc": "2.0", "id": ident, "result": {
            "protocolVersion": version, "capabilities": {"tools": {}},
            "serverInfo": {"name": "strict", "version": "1"}}})  # fmt: skip
    elif method == "tools/list":
        tools = [ECHO]
        if MODE == "nameless":
            tools += [{"inputSchema": {"type": "object"}}, {"name": 5},
                      {"name": ["\x1b]0;title\x07"]}]  # fmt: skip
        send({"jsonrpc": "2.0", "id": ident, "result": {"tools": tools}})
    elif MODE == "keyerror":
        with open(ARG) as held:
            send({"jsonrpc": "2.0", "id": ident, "error": "\x1b[31mbad " + held.read()})
    elif MODE == "long":
        out = sys.stdout.buffer
        out.write(b'{"jsonrpc": "2.0", "id": %d, "result": {"content": [' % ident)
        out.write(b'{"type": "text", "text": "')
        for _ in range(int(ARG)):
            out.write(b"a" * (1 << 20))
        out.write(b'"}]}}\n')
        out.flush()
    else:
        send({"jsonrpc": "2.0", "id": ident,
              "result": {"content": [{"type": "text", "text": "ok"}]}})  # fmt: skip
