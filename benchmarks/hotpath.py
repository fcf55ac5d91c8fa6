"""Where mint's time per piece goes, stage by stage, with no network.

    python benchmarks/hotpath.py [--pieces 200000] [--protocol openai|anthropic] [--read 65536]

Renders a stream like the benchmark server's, cuts it into 64 KiB reads (what a
socket read returns on a busy loopback; ``--read 100``: about one piece a read,
as a slow stream's) and times, in this process:

  frame     mint's SSE framing alone (mintcli.wire.sse)
  decode    framing + the protocol decoder (wire JSON -> mint events)
  handle    the whole per-read path of a run: decoder, accumulator, text sink,
            one write + flush per read to /dev/null (what ``mint chat`` does)
  journal   the same with the --resume journal on (and an API key, which the
            journal keeps out of its records, as in every real run)
  no-key    the journal without a key to keep out (what that costs: the difference)
  write     one Terminal.write per piece, to /dev/null (the stdout cost of a
            network read that brought one piece, as a slow stream's reads do)
  httpx-sse the framing the minimal client uses (httpx_sse's line decoder),
            for comparison

Each figure is the best of five runs, in microseconds per piece.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server import render_events, reply_text

from mintcli.base.sanitize import Secrets
from mintcli.base.terminal import Terminal
from mintcli.mock import framing
from mintcli.output.sinks import SINKS, RunInfo
from mintcli.protocols import get_protocol
from mintcli.request.model import ChatRequest
from mintcli.run.retry import RetryPolicy
from mintcli.run.runner import ChatRun, RunConfig
from mintcli.storage.journal import Journal
from mintcli.wire.sse import SSEDecoder

READ = 65536


def reads(protocol: str, pieces: int, size: int = READ) -> list[bytes]:
    body = b"".join(
        framing.frames(render_events(protocol, reply_text(pieces), 4), ids=False).frames
    )
    return [body[i : i + size] for i in range(0, len(body), size)]


def best(fn: Callable[[], None], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=200_000)
    parser.add_argument("--protocol", default="openai", choices=("openai", "anthropic"))
    parser.add_argument("--format", default="text", choices=("text", "raw", "jsonl"))
    parser.add_argument("--read", type=int, default=READ, help="bytes a network read brings")
    args = parser.parse_args()
    chunks = reads(args.protocol, args.pieces, args.read)
    protocol = get_protocol(args.protocol)
    devnull = open(os.devnull, "wb")  # noqa: SIM115
    term = Terminal(
        stdin=devnull,
        stdout=devnull,
        stderr=sys.stderr,
        stdin_isatty=False,
        stdout_isatty=False,
        stderr_isatty=False,
        color=False,
    )
    term.secrets.add("sk-bench-0123456789abcdefghijklmnopqrstuv")  # a run always has a key
    state = tempfile.TemporaryDirectory()

    def frame() -> None:
        dec = SSEDecoder()
        for c in chunks:
            dec.feed(c)

    def decode() -> None:
        dec = SSEDecoder()
        pd = protocol.decoder()
        for c in chunks:
            for f in dec.feed(c):
                pd.decode(f)

    keyless = Secrets()

    def handle(journal: bool, secrets: Secrets = term.secrets) -> Callable[[], None]:
        def go() -> None:
            j = Journal.prepare({"request": {}}, Path(state.name), secrets) if journal else None
            config = RunConfig(
                protocol=protocol,
                url="",
                headers={},
                request=ChatRequest(model="m", messages=[]),
                policy=RetryPolicy(0, 1, 1),
                info=RunInfo(args.protocol, "m"),
            )
            sink = SINKS[args.format](term, False)
            run = ChatRun(config, transport=None, sink=sink, term=term, journal=j)  # type: ignore[arg-type]
            run._decoder = protocol.decoder()
            dec = SSEDecoder()
            for c in chunks:
                run._on_read(dec.feed(c))
            if j is not None:
                j.close(remove=True)

        return go

    piece = reply_text(1).encode()

    def write() -> None:
        for _ in range(args.pieces):
            term.write(piece)

    def httpx_sse() -> None:
        # httpx's own byte -> text -> line decoders, then httpx-sse's event decoder:
        # the path iter_sse() takes, minus the socket.
        from httpx._decoders import LineDecoder, TextDecoder
        from httpx_sse._decoders import SSEDecoder as HDecoder

        text, lines, dec = TextDecoder(), LineDecoder(), HDecoder()
        for c in chunks:
            for line in lines.decode(text.decode(c)):
                dec.decode(line)

    n = args.pieces
    print(
        f"{args.protocol}, {n} pieces, {len(chunks)} reads of {args.read} bytes, --format {args.format}"
    )
    for name, fn in [
        ("frame", frame),
        ("decode", decode),
        ("handle", handle(False)),
        ("journal", handle(True)),
        ("no-key", handle(True, keyless)),
        ("write", write),
        ("httpx-sse", httpx_sse),
    ]:
        seconds = best(fn)
        print(f"  {name:<10} {seconds * 1e6 / n:6.2f} us/piece  ({n / seconds:,.0f} pieces/s)")


if __name__ == "__main__":
    main()
