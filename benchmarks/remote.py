"""Benchmark of ``mint batch --remote``: the local cost of a remote batch.

    python benchmarks/remote.py            # 100,000 items; writes results-remote.md
    python benchmarks/remote.py --quick    # 10,000 items, for a first look

``mint mock --batch-delay 0`` plays the provider (it ends a batch at once), so
what is left is mint's own work, in two processes as a user would run them:

* **submit** (``--no-wait``): read and check the input, build the request
  file, upload it, create the batch;
* **fetch** (``mint batch fetch ID``): poll, download the results to disk,
  join them to the input and write one result line per item in input order.

Each is timed (wall seconds, start-up included) with its peak RSS, for short
replies and for replies of about 1 KB (a results file several times larger):
peak RSS should follow the number of items, not the size of the results.
Processes are started as in ``run.py`` (same environment, same RSS launcher).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import HERE, MINT, Bench, Report, finish, prepare

REPLY_CHARS = 1000
HEADERS = ["items", "reply", "results MB", "submit s", "submit RSS MB", "fetch s", "fetch RSS MB",
           "total s"]  # fmt: skip


def inputs(b: Bench, n: int) -> Path:
    path = b.tmp / f"items-{n}.jsonl"
    if not path.exists():
        path.write_text("".join(json.dumps({"prompt": f"item {i}"}) + "\n" for i in range(n)))
    return path


def start_mock(b: Bench, reply: str | None) -> tuple[subprocess.Popen[bytes], str]:
    args = ["--batch-delay", "0"]
    if reply is not None:
        script = b.tmp / "rules.json"
        script.write_text(json.dumps([{"text": reply}]))
        args += ["--script", str(script)]
    mock = subprocess.Popen(
        [*MINT, "mock", *args], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=b.env
    )
    assert mock.stdout is not None
    return mock, mock.stdout.readline().decode().strip()


def one(b: Bench, n: int, reply: str | None) -> tuple[float, float, float, float, float]:
    """(submit s, submit MB, fetch s, fetch MB, results file MB) for n items."""
    mock, base = start_mock(b, reply)
    out = b.tmp / f"out-{n}.jsonl"
    out.unlink(missing_ok=True)
    common = ["--base-url", base, "--poll", "0.05", "-q"]
    try:
        submit = b.run(
            [*MINT, "batch", "--remote", "--no-wait", *common, "-O", str(out), str(inputs(b, n))],
            keep=True,
            rss=True,
        )
        ids = submit.out.decode().split()
        fetch = b.run([*MINT, "batch", "fetch", *common, *ids], rss=True)
    finally:
        mock.terminate()
        mock.wait()
    lines = out.read_bytes().count(b"\n")
    if lines != n:
        raise SystemExit(f"expected {n} result lines, got {lines}")
    return (submit.wall, submit.maxrss_kb / 1024, fetch.wall, fetch.maxrss_kb / 1024,
            out.stat().st_size / 1e6)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 items instead of 100,000")
    options = parser.parse_args()
    head = prepare()
    b = Bench(options.quick)
    report = Report()
    n = 10_000 if options.quick else 100_000
    rows, figures = [], {}
    try:
        for label, reply in (("short", None), (f"{REPLY_CHARS} chars", "x" * REPLY_CHARS)):
            got = one(b, n, reply)
            figures[label] = got
            rows.append(
                (f"{n:,}", label, f"{got[4]:.0f}", f"{got[0]:.1f}", f"{got[1]:.1f}",
                 f"{got[2]:.1f}", f"{got[3]:.1f}", f"{got[0] + got[2]:.1f}")
            )  # fmt: skip
    finally:
        b.stop()
    report.table(
        "mint batch --remote against mint mock --batch-delay 0 (OpenAI Batch API shape)",
        HEADERS,
        rows,
        "submit: read + check + build + upload + create (--no-wait); fetch: poll + "
        "download + join + write. Wall times include mint's start-up.",
    )
    short, long = figures["short"], figures[f"{REPLY_CHARS} chars"]
    report.target(
        f"{n:,} items: local cost (submit + fetch) under 60 s",
        f"{short[0] + short[2]:.1f} s",
        short[0] + short[2] < 60,
    )
    report.target(
        "fetch peak RSS follows the items, not the results' size (within 20 MB)",
        f"{short[3]:.1f} MB for {short[4]:.0f} MB of results, {long[3]:.1f} MB for {long[4]:.0f} MB",
        long[3] - short[3] < 20,
    )
    finish("mint batch --remote benchmark", "remote.py", head, report, HERE / "results-remote.md")


if __name__ == "__main__":
    main()
