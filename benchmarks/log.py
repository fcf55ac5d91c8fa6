"""The log database: saving, searching and counting at scale.

    python benchmarks/log.py                  # 100,000 exchanges (about two minutes to build)
    python benchmarks/log.py --exchanges 20000
    python benchmarks/log.py --before ../main # also start-up with logging on, that checkout vs this

Figures (whole processes unless said, median of several runs):

* save one exchange: in-process ``Pending.save`` into the full database, new
  conversation and continued one; and ``mint chat --mock`` with and without ``--no-log``;
* ``mint log search`` (a common word, a rare word, with ``--model``), ``mint log stats``
  (per day, per week) and ``mint log list`` over the database;
* peak RSS of ``mint chat`` saving a 1,000,000-piece reply, against ``--no-log``;
* with ``--before DIR``: ``mint chat --mock hi`` (logging on) from that checkout and this
  one, interleaved.

The database is built in-process through the store's own insert functions, in
conversations of ten exchanges, with prompts of about 20 and replies of about 80
words drawn from a fixed vocabulary (one word in 10,000 exchanges is rare).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from run import _LAUNCH, child_env  # noqa: E402

MINT = [sys.executable, "-m", "mintcli"]
WORDS = [f"w{n}" for n in range(5000)] + ["rsync", "backup", "python", "sqlite"] * 50


def build(home: Path, exchanges: int) -> None:
    os.environ.update(child_env(home))
    from mintcli.store import db, write

    conn = db.open_db(create=True)
    assert conn is not None
    rng = random.Random(7)
    now = time.time() - exchanges * 60
    with db.transaction(conn):
        for n in range(exchanges):
            conv = f"c{n // 10:07d}"
            if n % 10 == 0:
                conn.execute("INSERT INTO conversations VALUES (?, ?, ?)", (conv, now, now))
            model = ("openai/gpt-4o", "anthropic/claude-sonnet-4-5", "openai/gpt-4o-mini")[n % 3]
            usage = {"input_tokens": rng.randint(10, 2000), "output_tokens": rng.randint(10, 800)}
            xid = write.insert_exchange(
                conn,
                conv,
                n % 10,
                {"time": now + n * 60, "model": model, "protocol": "openai", "usage": usage,
                 "finish_reason": "stop", "host": "api.example.com", "duration": 1.5},
            )  # fmt: skip
            prompt = " ".join(rng.choices(WORDS, k=20)) + (" zanzibar" if n % 10000 == 0 else "")
            reply = " ".join(rng.choices(WORDS, k=80))
            write.insert_message(conn, conv, 2 * (n % 10), xid, {"role": "user", "content": prompt})
            write.insert_message(
                conn, conv, 2 * (n % 10) + 1, xid, {"role": "assistant", "content": reply}
            )
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now + n * 60, conv))
    conn.close()


def timed(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, int]:
    """Median wall seconds, and the output lines of the last run."""
    walls, lines = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(argv, env=env, capture_output=True, check=True).stdout
        walls.append(time.perf_counter() - start)
        lines = out.count(b"\n")
    return statistics.median(walls), lines


def peak_rss(argv: list[str], env: dict[str, str]) -> float:
    err = subprocess.run(
        [sys.executable, "-c", _LAUNCH, *argv], env=env, capture_output=True, check=True
    ).stderr
    return int(err.rsplit(b"@maxrss ", 1)[1]) / 1024


def save_in_process(home: Path, rounds: int) -> tuple[float, float]:
    from mintcli.storage.conversations import Pending, find

    new, cont = [], []
    for n in range(rounds):
        start = time.perf_counter()
        ident = Pending.start(None, [{"role": "user", "content": f"bench {n}"}]).save(
            {"role": "assistant", "content": "a short reply " * 20}, {"model": "m"}
        )
        new.append(time.perf_counter() - start)
        start = time.perf_counter()
        conv = find(ident)
        Pending.start(conv, [*conv.messages, {"role": "user", "content": "more"}]).save(
            {"role": "assistant", "content": "again"}, {"model": "m"}
        )
        cont.append(time.perf_counter() - start)
    return statistics.median(new) * 1000, statistics.median(cont) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--exchanges", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--before", type=Path, help="a checkout of an earlier mint")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**child_env(home), "PYTHONDONTWRITEBYTECODE": ""}
        start = time.perf_counter()
        build(home, args.exchanges)
        size = (home / "data" / "mint" / "logs.db").stat().st_size / 1e6
        print(
            f"built {args.exchanges:,} exchanges in {time.perf_counter() - start:.1f} s, {size:.0f} MB"
        )
        new, cont = save_in_process(home, 50)
        print(
            f"save one exchange, in-process: new conversation {new:.2f} ms, continued {cont:.2f} ms"
        )
        log = ["log"]
        rows = {
            "mint log search w17 (common)": [*log, "search", "w17"],
            "mint log search zanzibar (rare)": [*log, "search", "zanzibar"],
            "mint log search rsync -m openai/gpt-4o -n 50": [
                *log,
                "search",
                "rsync",
                "-m",
                "openai/gpt-4o",
                "-n",
                "50",
            ],
            "mint log stats": [*log, "stats"],
            "mint log stats --by week": [*log, "stats", "--by", "week"],
            "mint log list": [*log, "list"],
            "mint log show (latest)": [*log, "show"],
            "mint --version": ["--version"],
        }
        for name, argv in rows.items():
            wall, lines = timed([*MINT, *argv], env, args.runs)
            print(f"{name:48} {wall * 1000:8.0f} ms  ({lines} lines)")
        chat = [*MINT, "chat", "--mock", "hi"]
        for name, argv in {
            "mint chat --mock hi": chat,
            "mint chat --mock --no-log hi": [*chat, "--no-log"],
        }.items():
            wall, _ = timed(argv, env, args.runs)
            print(f"{name:48} {wall * 1000:8.0f} ms")
        script = home / "million.json"
        script.write_text('[{"text": "ab ", "repeat": 1000000, "piece_chars": 3}]')
        mock = subprocess.Popen(
            [*MINT, "mock", "--port", "0", "--script", str(script)], env=env, stdout=subprocess.PIPE
        )
        assert mock.stdout is not None
        url = mock.stdout.readline().decode().strip()
        try:
            for flag in ("--log", "--no-log"):
                argv = [*MINT, "chat", "--base-url", url, "--no-journal", flag, "long"]
                print(f"peak RSS, 1,000,000-piece reply, {flag:9}  {peak_rss(argv, env):6.1f} MB")
        finally:
            mock.terminate()
            mock.wait()
        if args.before:
            pairs: dict[str, list[float]] = {"before": [], "after": []}
            for _ in range(args.runs):
                for name, path in (("before", args.before), ("after", ROOT)):
                    start = time.perf_counter()
                    subprocess.run(
                        chat, env={**env, "PYTHONPATH": str(path)}, capture_output=True, check=True
                    )
                    pairs[name].append(time.perf_counter() - start)
            before, after = (statistics.median(pairs[k]) * 1000 for k in ("before", "after"))
            print(f"mint chat --mock hi, logging on: before {before:.0f} ms, after {after:.0f} ms")


if __name__ == "__main__":
    main()
