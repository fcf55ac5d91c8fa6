"""Benchmarks of ``mint batch``: paced throughput and memory, CPU-bound speed.

    python benchmarks/batch.py            # the full run (a few minutes); writes results-batch.md
    python benchmarks/batch.py --quick    # smaller batches, for a first look

* **Paced**: ``mint mock`` answers every item with 20 pieces, 10 ms apart (a
  200 ms reply, as a real model streams), and ``mint batch -j 64`` runs 1,000
  and then 10,000 items. The ideal is 64 items per 200 ms; mint should reach it
  within 10%, with a peak RSS that stays flat and under 60 MB.
* **CPU-bound**: the same batch with no pacing, against ``benchmarks/server.py``
  (cached replies, never the bottleneck), ``mint batch`` against
  ``batch_client.py`` (httpx + httpx-sse in a thread pool, one JSON line per
  item) at the same concurrency, runs interleaved.
* **Memory with no pacing**: peak RSS at 1,000 and 10,000 quick items, which
  shows what each item leaves behind (paced runs add the allocator's
  fragmentation under 64 threads; see results-batch.md).
* **The mock keeps up**: CPU seconds the mock spends per item against those
  mint spends, with no pacing (the mock must be several times cheaper).

Processes are started as in ``run.py`` (same environment, same RSS launcher).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import HERE, MINT, PY, Bench, Report, finish, prepare

CONCURRENCY = 64
PIECES, INTERVAL = 20, 0.010  # the paced reply: 20 pieces, 10 ms apart
PIECE_CHARS = 4


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class BatchBench(Bench):
    def inputs(self, n: int) -> Path:
        path = self.tmp / f"items-{n}.jsonl"
        if not path.exists():
            path.write_text("".join(json.dumps({"prompt": f"item {i}"}) + "\n" for i in range(n)))
        return path

    def start_mock(self, *args: str) -> tuple[subprocess.Popen[bytes], str]:
        text = "春眠不觉晓处处闻啼鸟" * (PIECES * PIECE_CHARS // 10)
        script = self.tmp / "rules.json"
        script.write_text(json.dumps([{"text": text, "piece_chars": PIECE_CHARS}]))
        mock = subprocess.Popen(
            [*MINT, "mock", "--script", str(script), *args],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        assert mock.stdout is not None
        return mock, mock.stdout.readline().decode().strip()

    def batch(self, base: str, n: int, *extra: str) -> list[str]:
        out = self.tmp / "out.jsonl"
        return [
            *MINT, "batch", "-q", "-j", str(CONCURRENCY), "--base-url", base,
            "-O", str(out), *extra, str(self.inputs(n)),
        ]  # fmt: skip

    def lines_out(self) -> int:
        return (self.tmp / "out.jsonl").read_bytes().count(b"\n")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait()


def paced(b: BatchBench, report: Report) -> None:
    sizes = [200, 1_000] if b.quick else [1_000, 10_000]
    mock, base = b.start_mock("--delay", str(INTERVAL))
    ideal = CONCURRENCY / (PIECES * INTERVAL)
    rows = []
    try:
        # One item alone: what a reply takes end to end (the pace, plus overhead).
        single = b.run(b.batch(base, 1), rss=False).wall
        results = {}
        for n in sizes:
            cpu_before = cpu_seconds(mock.pid)
            r = b.run(b.batch(base, n), rss=True)
            if b.lines_out() != n:
                raise SystemExit(f"paced: expected {n} result lines, got {b.lines_out()}")
            rate = n / r.wall
            mock_cpu = (cpu_seconds(mock.pid) - cpu_before) / n * 1000
            results[n] = (rate, r.maxrss_kb / 1024)
            rows.append(
                (f"{n:,}", f"{r.wall:.1f}", f"{rate:.0f}", f"{rate / ideal:.1%}",
                 f"{r.maxrss_kb / 1024:.1f}", f"{mock_cpu:.2f}")
            )  # fmt: skip
    finally:
        stop(mock)
    report.table(
        f"Paced: {PIECES} pieces {INTERVAL * 1000:g} ms apart per item, -j {CONCURRENCY}, "
        f"mint mock (one item alone: {single * 1000:.0f} ms, start-up included)",
        ["items", "wall s", "items/s", "of ideal", "peak RSS MB", "mock CPU ms/item"],
        rows,
        f"Ideal: {CONCURRENCY} / {PIECES * INTERVAL:g} s = {ideal:.0f} items/s. "
        "Wall time includes mint's start-up.",
    )
    big = sizes[-1]
    report.target(
        f"{big:,} paced items at -j {CONCURRENCY}: items/s within 10% of ideal",
        f"{results[big][0]:.0f} items/s, {results[big][0] / ideal:.1%} of {ideal:.0f}",
        results[big][0] >= 0.9 * ideal,
    )
    rss = [results[n][1] for n in sizes]
    report.target(
        f"paced: peak RSS under 60 MB at {sizes[0]:,} and {sizes[-1]:,} items",
        f"{rss[0]:.1f} and {rss[-1]:.1f} MB",
        max(rss) < 60,
    )
    report.target(
        f"paced: peak RSS flat (within 3 MB) from {sizes[0]:,} to {sizes[-1]:,} items",
        f"{rss[-1] - rss[0]:+.1f} MB",
        rss[-1] - rss[0] < 3,
    )


def memory(b: BatchBench, report: Report) -> None:
    """Peak RSS when items are quick (no pacing): what each item leaves behind."""
    sizes = [1_000, 4_000] if b.quick else [1_000, 10_000]
    bench = json.dumps({"pieces": PIECES})
    rss = [
        b.run(b.batch(b.base, n, "-o", "bench=" + bench), rss=True).maxrss_kb / 1024 for n in sizes
    ]
    report.table(
        f"Peak RSS with no pacing, -j {CONCURRENCY}, benchmarks/server.py",
        ["items", "peak RSS MB"],
        [(f"{n:,}", f"{r:.1f}") for n, r in zip(sizes, rss, strict=True)],
    )
    report.target(
        f"no pacing: peak RSS flat (within 3 MB) from {sizes[0]:,} to {sizes[-1]:,} items",
        f"{rss[0]:.1f} -> {rss[-1]:.1f} MB",
        rss[-1] - rss[0] < 3,
    )


def cpu_bound(b: BatchBench, report: Report) -> None:
    n = 1_000 if b.quick else 5_000
    rounds = 1 if b.quick else 3
    bench = json.dumps({"pieces": PIECES})
    rows = []
    rates: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}  # client CPU ms per item (start-up included)
    for protocol in ("openai", "anthropic"):
        commands = {
            f"mint batch, {protocol}": b.batch(b.base, n, "--protocol", protocol, "-o", "bench=" + bench),
            f"batch_client.py, {protocol}": [
                "sh", "-c", f'exec "$0" "$@" < {b.inputs(n)}', PY, str(HERE / "batch_client.py"),
                b.base, protocol, str(CONCURRENCY), bench,
            ],
        }  # fmt: skip
        for _ in range(rounds):
            for name, argv in commands.items():
                before = children_cpu()
                r = b.run(argv, keep=name.startswith("batch_client"))
                cpu.setdefault(name, []).append((children_cpu() - before) / n * 1000)
                got = r.out.count(b"\n") if name.startswith("batch_client") else b.lines_out()
                if got != n:
                    raise SystemExit(f"{name}: expected {n} lines, got {got}")
                rates.setdefault(name, []).append(n / r.wall)
    for name, values in rates.items():
        rows.append(
            (name, f"{statistics.median(values):.0f}", f"{max(values):.0f}",
             f"{statistics.median(cpu[name]):.2f}")
        )  # fmt: skip
    report.table(
        f"CPU-bound: {n:,} items of {PIECES} pieces, no pacing, -j {CONCURRENCY}, "
        f"benchmarks/server.py ({rounds} runs each, interleaved)",
        ["client", "median items/s", "best items/s", "CPU ms/item"],
        rows,
    )
    for protocol in ("openai", "anthropic"):
        mint = statistics.median(rates[f"mint batch, {protocol}"])
        base = statistics.median(rates[f"batch_client.py, {protocol}"])
        report.target(
            f"CPU-bound, {protocol}: mint batch at least as fast as the minimal client",
            f"{mint:.0f} vs {base:.0f} items/s ({mint / base:.2f}x)",
            mint >= base,
        )


def mock_headroom(b: BatchBench, report: Report) -> None:
    n = 1_000 if b.quick else 5_000
    mock, base = b.start_mock()
    try:
        mock_before, mint_before = cpu_seconds(mock.pid), children_cpu()
        start = time.perf_counter()
        b.run(b.batch(base, n))
        wall = time.perf_counter() - start
        mock_ms = (cpu_seconds(mock.pid) - mock_before) / n * 1000
        mint_ms = (children_cpu() - mint_before) / n * 1000
    finally:
        stop(mock)
    report.table(
        f"mint mock under batch load: {n:,} items of {PIECES} pieces, no pacing, -j {CONCURRENCY}",
        ["mint batch CPU ms/item", "mint mock CPU ms/item", "items/s"],
        [(f"{mint_ms:.2f}", f"{mock_ms:.2f}", f"{n / wall:.0f}")],
    )
    report.target(
        "mint mock spends several (3x) times less CPU per item than mint batch",
        f"{mint_ms / mock_ms:.1f}x",
        mint_ms >= 3 * mock_ms,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="mint batch benchmarks")
    parser.add_argument("--quick", action="store_true", help="smaller batches, fewer runs")
    parser.add_argument("--out", type=Path, default=HERE / "results-batch.md")
    args = parser.parse_args()
    head = prepare()
    b = BatchBench(args.quick)
    report = Report()
    try:
        b.start_server()
        paced(b, report)
        cpu_bound(b, report)
        memory(b, report)
        mock_headroom(b, report)
    finally:
        b.stop()
    command = f"batch.py{' --quick' if args.quick else ''}"
    finish("mint batch benchmark results", command, head, report, args.out)


if __name__ == "__main__":
    main()
