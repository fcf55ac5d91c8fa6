"""Benchmark of ``mint batch --remote``: the local cost of a remote batch.

    python benchmarks/remote.py            # 100,000 items; writes results-remote.md
    python benchmarks/remote.py --quick    # a tenth of the items, for a first look

``mint mock --batch-delay 0`` plays the provider (it ends a batch at once), so
what is left is mint's own work, in two processes as a user would run them:

* **submit** (``--no-wait``): read and check the input, build the request
  file, upload it, create the batch;
* **fetch** (``mint batch fetch ID``): poll, download the results to disk,
  join them to the input and write one result line per item in input order.

Each is timed (wall seconds and mint's CPU seconds) with its peak RSS: 100,000
items with short replies and with replies of about 1 KB, then 10,000 items
with short replies and with 100,000-character ones (about 1 GB of results).
Peak RSS should follow the number of items, never the size of the results.
Processes are started as in ``run.py`` (same environment, same RSS launcher).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import _LAUNCH, HERE, MINT, PY, Bench, Report, finish, prepare

REPLY_CHARS = 1000
BIG_CHARS = 100_000  # the big run: 10,000 such replies make about 1 GB of results
HEADERS = ["items", "reply", "results MB", "submit wall s", "submit CPU s", "submit RSS MB",
           "fetch wall s", "fetch CPU s", "fetch RSS MB"]  # fmt: skip


def inputs(b: Bench, n: int) -> Path:
    path = b.tmp / f"items-{n}.jsonl"
    if not path.exists():
        path.write_text("".join(json.dumps({"prompt": f"item {i}"}) + "\n" for i in range(n)))
    return path


def start_mock(b: Bench, reply: str | None) -> tuple[subprocess.Popen[bytes], str]:
    args = ["--batch-delay", "0"]
    if reply is not None:
        script = b.tmp / "rules.json"
        # One piece per reply: the mock need not cut a long one into thousands.
        script.write_text(json.dumps([{"text": reply, "piece_chars": len(reply)}]))
        args += ["--script", str(script)]
    mock = subprocess.Popen(
        [*MINT, "mock", *args], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=b.env
    )
    assert mock.stdout is not None
    return mock, mock.stdout.readline().decode().strip()


def measured(b: Bench, argv: list[str]) -> tuple[float, float, float, bytes]:
    """(wall s, CPU s, peak RSS MB, stdout) of one command, through run.py's
    launcher (see there why peak RSS is read through one), which also tells the
    command's CPU seconds: wall time here includes waiting for the mock."""
    start = time.perf_counter()
    done = subprocess.run(
        [PY, "-c", _LAUNCH, *argv], env=b.env, capture_output=True, stdin=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}\n{done.stderr[-2000:]!r}")
    rss = re.search(rb"@maxrss (\d+)", done.stderr)
    cpu = re.search(rb"@cpu ([0-9.]+)", done.stderr)
    assert rss is not None and cpu is not None
    return wall, float(cpu.group(1)), int(rss.group(1)) / 1024, done.stdout


def one(b: Bench, n: int, reply: str | None) -> list[float]:
    """[submit s, CPU s, MB, fetch s, CPU s, MB, results file MB] for n items."""
    mock, base = start_mock(b, reply)
    out = b.tmp / f"out-{n}.jsonl"
    out.unlink(missing_ok=True)
    common = ["--base-url", base, "--poll", "0.05", "-q"]
    try:
        *submit, ids = measured(
            b, [*MINT, "batch", "--remote", "--no-wait", *common, "-O", str(out), str(inputs(b, n))]
        )
        *fetch, _ = measured(b, [*MINT, "batch", "fetch", *common, *ids.decode().split()])
    finally:
        mock.terminate()
        mock.wait()
    lines = out.read_bytes().count(b"\n")
    if lines != n:
        raise SystemExit(f"expected {n} result lines, got {lines}")
    return [*submit, *fetch, out.stat().st_size / 1e6]  # type: ignore[list-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 items instead of 100,000")
    options = parser.parse_args()
    head = prepare()
    b = Bench(options.quick)
    report = Report()
    n = 10_000 if options.quick else 100_000
    runs = [(n, "short", None), (n, f"{REPLY_CHARS} chars", "x" * REPLY_CHARS),
            (n // 10, "short", None), (n // 10, f"{BIG_CHARS} chars", "y" * BIG_CHARS)]  # fmt: skip
    rows, figures = [], {}
    try:
        for items, label, reply in runs:
            got = one(b, items, reply)
            figures[items, label] = got
            rows.append((f"{items:,}", label, f"{got[6]:.0f}", *(f"{x:.1f}" for x in got[:6])))
    finally:
        b.stop()
    report.table(
        "mint batch --remote against mint mock --batch-delay 0 (OpenAI Batch API shape)",
        HEADERS,
        rows,
        "submit: read + check + build + upload + create (--no-wait); fetch: poll + "
        "download + join + write. Wall times include mint's start-up and, for fetch, the "
        "mock making the results (it shares the CPUs); CPU is mint's own.",
    )
    short, long = figures[n, "short"], figures[n, f"{REPLY_CHARS} chars"]
    few, big = figures[n // 10, "short"], figures[n // 10, f"{BIG_CHARS} chars"]
    report.target(
        f"{n:,} items: mint's own CPU (submit + fetch) under 30 s",
        f"{short[1] + short[4]:.1f} s",
        short[1] + short[4] < 30,
    )
    report.target(
        "fetch peak RSS follows the items, not the results' size (within 20 MB)",
        f"{short[5]:.1f} MB for {short[6]:.0f} MB of results, {long[5]:.1f} MB for {long[6]:.0f} MB",
        long[5] - short[5] < 20,
    )
    report.target(
        f"fetch peak RSS flat for {big[6]:,.0f} MB of results (within 20 MB of short replies)",
        f"{few[5]:.1f} MB for {few[6]:.0f} MB, {big[5]:.1f} MB for {big[6]:,.0f} MB",
        big[5] - few[5] < 20,
    )
    finish("mint batch --remote benchmark", "remote.py", head, report, HERE / "results-remote.md")


if __name__ == "__main__":
    main()
