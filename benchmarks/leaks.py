"""What a hostile reply or MCP server can make mint hold or start.

    python benchmarks/leaks.py

Each case is a whole `mint chat` process, its peak RSS taken by run.py's
launcher (wait4 of the mint process):

* a reply of N tool calls with empty arguments (OpenAI stream from a small
  local server): 1,024 calls are run as data (no --tool-cmd), 500,000 are
  refused at the 1,025th (exit 8);
* an MCP server whose tools/call answer is one line of 15 MiB (taken) and of
  17 MiB (over the 16 MiB cap: an error result), written a MiB at a time;
* a reply of 300 calls to a --tool-cmd that notes how many of its kind run
  beside it: the most at once (16 is the cap).

Prints one line per case; nothing is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import _LAUNCH  # the launcher that reports a child's peak RSS

MINT = [sys.executable, "-m", "mintcli"]
CALLS = {"n": 0}

MCP_SERVER = r"""
import json, sys
size = int(sys.argv[1])
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m:
        continue
    out = {"jsonrpc": "2.0", "id": m["id"]}
    if m["method"] == "server/discover":
        out["error"] = {"code": -32601, "message": "no"}
    elif m["method"] == "initialize":
        out["result"] = {"protocolVersion": "2025-06-18", "capabilities": {},
                         "serverInfo": {"name": "big", "version": "1"}}
    elif m["method"] == "tools/list":
        out["result"] = {"tools": [{"name": "big", "inputSchema": {"type": "object"}}]}
    else:
        w = sys.stdout.buffer
        w.write(b'{"jsonrpc": "2.0", "id": %d, "result": {"content": [{"type": "text", '
                b'"text": "' % m["id"])
        for _ in range(size):
            w.write(b"a" * (1 << 20))
        w.write(b'"}]}}\n')
        w.flush()
        continue
    print(json.dumps(out), flush=True)
"""


def event(obj: object) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


class Calls(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        held: list[bytes] = []
        try:
            for i in range(CALLS["n"]):
                call = {"index": i, "id": f"c{i}", "type": "function",
                        "function": {"name": "f", "arguments": "{}"}}  # fmt: skip
                held.append(event({"choices": [{"index": 0, "delta": {"tool_calls": [call]}}]}))
                if len(held) == 1000:
                    self.wfile.write(b"".join(held))
                    held.clear()
            held.append(
                event({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
            )
            self.wfile.write(b"".join(held) + b"data: [DONE]\n\n")
        except OSError:
            pass  # mint stopped reading at its cap


def measured(argv: list[str], env: dict[str, str]) -> tuple[int, int, float, bytes]:
    """Exit status, peak RSS in KiB, seconds, and stdout of one mint run."""
    started = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _LAUNCH, *argv], env=env, capture_output=True)
    seconds = time.perf_counter() - started
    peak = int(r.stderr.decode().rpartition("@maxrss ")[2].split()[0])
    return r.returncode, peak, seconds, r.stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {"PATH": os.environ["PATH"], "HOME": str(home), "MINT_API_KEY": "sk-bench-key-0000",
               "XDG_STATE_HOME": str(home / "state"), "XDG_DATA_HOME": str(home / "data")}  # fmt: skip
        server = ThreadingHTTPServer(("127.0.0.1", 0), Calls)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        base = ["chat", "--no-log", "--no-journal", "--max-retries", "0", "--base-url", url]
        for n in (1024, 500_000):
            CALLS["n"] = n
            code, peak, seconds, _ = measured([*MINT, *base, "hi"], env)
            print(f"reply of {n:,} calls: exit {code}, peak {peak / 1024:.1f} MiB, {seconds:.2f} s")
        mcp = home / "big_mcp.py"
        mcp.write_text(MCP_SERVER)
        for size in (15, 17):
            argv = [*MINT, "chat", "--no-log", "--no-journal", "--mock", "-q", "-f", "jsonl",
                    "--mcp", f"{sys.executable} {mcp} {size}", "call the tool"]  # fmt: skip
            code, peak, seconds, out = measured(argv, env)
            result = next(json.loads(x) for x in out.splitlines() if b'"tool_result"' in x)
            said = result["error"] or f"{len(result['output'].encode()):,} bytes kept"
            print(f"MCP line of {size} MiB: exit {code}, peak {peak / 1024:.1f} MiB, "
                  f"{seconds:.2f} s ({said})")  # fmt: skip
        running = home / "running"
        running.mkdir()
        probe = home / "probe"
        probe.write_text(f'#!/bin/sh\ncd {running} && touch "$MINT_TOOL_CALL_ID" && sleep 0.1\n'
                         f'ls | wc -l >> ../seen; rm "$MINT_TOOL_CALL_ID"\n')  # fmt: skip
        probe.chmod(0o755)
        CALLS["n"] = 300
        code, peak, seconds, _ = measured(
            [*MINT, *base, "-q", "--max-steps", "2", "--tool-cmd", "f=" + str(probe), "hi"], env
        )
        seen = [int(x) for x in (home / "seen").read_text().split()]
        print(f"300 calls to a --tool-cmd: {len(seen)} ran, at most {max(seen)} at once, "
              f"exit {code} (--max-steps 2), {seconds:.2f} s, peak {peak / 1024:.1f} MiB")  # fmt: skip
        server.shutdown()


if __name__ == "__main__":
    main()
