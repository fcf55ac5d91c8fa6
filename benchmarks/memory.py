"""run.py's memory section alone, repeated, with the log's share apart.

    python benchmarks/memory.py [--rounds 3] [--sizes 10000,200000,1000000] [--only text,nolog]

Runs the commands of run.py's memory section (``mint chat`` with text, raw and
jsonl output and the Anthropic protocol, logging and the journal on as by
default) through run.py's launcher (peak RSS, ``ru_maxrss``, of the mint process
alone), plus the text command with ``--no-log`` (the stream alone, without the
save of the reply to the log database at its end). Rounds are interleaved so
the machine's drift hits every command alike; the figures are noisy (a few
tenths of a MB), hence the rounds. Prints each run, then per command the median
at each size and run.py's target on those medians: peak under 40 MB and under
2.0 MB from the smallest size to the largest. Writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import Bench, prepare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="10000,200000,1000000", help="pieces, comma-separated")
    parser.add_argument("--only", default="", help="commands to run, comma-separated")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    prepare()
    b = Bench(quick=False)

    def text(protocol: str, fmt: str = "text", *extra: str) -> Callable[[int], list[str]]:
        def argv(n: int) -> list[str]:
            whole = b.mint(protocol, {"pieces": n}, fmt)
            return [*whole[:-1], *extra, whole[-1]]  # the prompt stays last

        return argv

    commands = {
        "text": text("openai"),
        "raw": text("openai", "raw"),
        "jsonl": text("openai", "jsonl"),
        "text-anthropic": text("anthropic"),
        "nolog": text("openai", "text", "--no-log"),
    }
    if args.only:
        commands = {k: v for k, v in commands.items() if k in args.only.split(",")}
    peaks: dict[str, list[list[float]]] = {name: [] for name in commands}
    try:
        b.start_server()
        b.warm(sizes)
        for r in range(args.rounds):
            for name, make in commands.items():
                rss = [b.run(make(n), rss=True).maxrss_kb / 1024 for n in sizes]
                peaks[name].append(rss)
                row = " ".join(f"{x:6.2f}" for x in rss)
                print(
                    f"round {r + 1}  {name:<15} {row}   growth {max(rss) - min(rss):.2f}",
                    flush=True,
                )
    finally:
        b.stop()
    print(f"\nmedian of {args.rounds} rounds (MB) at {', '.join(f'{n:,}' for n in sizes)} pieces")
    for name, runs in peaks.items():
        med = [statistics.median(run[i] for run in runs) for i in range(len(sizes))]
        growth = max(med) - min(med)
        verdict = "PASS" if max(med) < 40 and growth < 2.0 else "FAIL"
        row = " ".join(f"{x:6.2f}" for x in med)
        print(f"  {name:<15} {row}   growth {growth:.2f}  {verdict}")


if __name__ == "__main__":
    main()
