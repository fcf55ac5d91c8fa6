"""A streaming server built to be faster than any client it serves.

    python benchmarks/server.py [--port 0]     # prints its base URL, serves until killed

It speaks the same wire formats as ``mint mock`` (the bodies are rendered by
``mintcli.mock.render``) but renders each reply once and keeps it: a request
for a stream it has already sent costs one ``sendall`` of cached bytes. The
reply is chosen by a ``bench`` field in the request body (mint sends it with
``-o bench=...``):

    {"pieces": 200000}                      a 200,000-piece reply, sent at full speed
    {"pieces": 2000, "interval_ms": 2}      a live reply: one piece every 2 ms, each piece's
                                            text is its send time (time.time_ns) and a newline

Like the real APIs it sends no SSE ids. Standard library plus mint's own
dependencies only.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mintcli.mock import framing, render
from mintcli.mock.script import Reply

# Forty pieces of 4 characters each: Chinese, English and emoji, as real replies mix them.
PIECES = [
    "春眠不觉",
    "晓,处处",
    "闻啼鸟。",
    "夜来风雨",
    "声,花落",
    "知多少。",
    "The ",
    "quic",
    "k br",
    "own ",
    "fox ",
    "jump",
    "s ov",
    "er t",
    "he l",
    "azy ",
    "dog.",
    " 🌸🌿 ",
    "数据流式",
    "传输,逐",
    "块刷新。",
    "stre",
    "amin",
    "g is",
    " fun",
    ", is",
    "n't ",
    "it? ",
    "床前明月",
    "光,疑是",
    "地上霜。",
    "1234",
    "5678",
    '{"a"',
    ":[1]",
    "}\n\n ",
    "行尾\n换",
    "tab\t",
    "end.",
    "\n\n\n\n",
]
STAMP = "@" * 19 + "\n"  # replaced by a 19-digit time.time_ns() when sent
_STAMP_JSON = b"@" * 19


def reply_text(pieces: int) -> str:
    rounds, rest = divmod(pieces, len(PIECES))
    return "".join(PIECES) * rounds + "".join(PIECES[:rest])


def render_events(protocol: str, text: str, piece_chars: int) -> render.Stream:
    reply = Reply(text=text, piece_chars=piece_chars)
    plan = render.plan(reply, protocol, 10)
    rid = "bench"
    if protocol == "openai":
        return render.openai_stream(reply, plan, "bench-model", "chatcmpl-" + rid, True)
    return render.anthropic_stream(reply, plan, "bench-model", "msg_" + rid)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: BenchServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = orjson.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        protocol = "anthropic" if self.path.endswith("/messages") else "openai"
        bench = body.get("bench") or {}
        pieces = int(bench.get("pieces", 20))
        interval = float(bench.get("interval_ms", 0)) / 1000.0
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if interval:
            self._live(protocol, pieces, interval)
            return
        data = self.server.body(protocol, pieces)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _live(self, protocol: str, pieces: int, interval: float) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        framed = framing.frames(render_events(protocol, STAMP * pieces, len(STAMP)), ids=False)
        write = self.wfile.write
        due = time.perf_counter()
        for data, piece in zip(framed.frames, framed.marks, strict=True):
            if piece:
                due += interval
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                data = data.replace(_STAMP_JSON, b"%019d" % time.time_ns(), 1)
            write(b"%x\r\n%s\r\n" % (len(data), data))
        write(b"0\r\n\r\n")


class BenchServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many clients connect at once (benchmarks/batch.py)

    def __init__(self, host: str, port: int) -> None:
        super().__init__((host, port), _Handler)
        self._cache: dict[tuple[str, int], bytes] = {}
        self._lock = threading.Lock()

    def body(self, protocol: str, pieces: int) -> bytes:
        key = (protocol, pieces)
        with self._lock:
            data = self._cache.get(key)
            if data is None:
                framed = framing.frames(render_events(protocol, reply_text(pieces), 4), ids=False)
                data = b"".join(framed.frames)
                del framed
                self._cache[key] = data
            return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = BenchServer(args.host, args.port)
    host, port = server.server_address[:2]
    print(f"http://{host}:{port}/v1", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
