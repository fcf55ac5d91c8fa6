"""Mutation testing of the modules where a wrong byte is a wrong answer (not run in CI).

``python tools/mutation.py`` runs mutmut from a clean slate over the modules listed
under ``[tool.mutmut]`` in pyproject.toml (SSE framing, the protocols, the
accumulator, the continuation logic) against the fast in-process tests named there,
then prints the score of each module. It takes about a quarter of an hour on two
cores. ``--report`` prints the table of the last run again without running anything.

A mutant is one small change to the code (``>`` for ``>=``, a string emptied, a
branch taken away). "killed" means a test failed on it, which is what we want;
"timeout" counts as killed (the change made the tests hang). "survived" means every
test still passed; "no tests" means no selected test runs that function at all.
Both are worth a look: ``mutmut show NAME`` prints a mutant's diff, ``mutmut
results`` lists the ones not killed. A survivor that changes nothing a user could
see (an equivalent mutant) needs no test.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAUGHT = ("killed", "timeout", "caught by type check")
COLUMNS = ("killed", "timeout", "survived", "no tests")


def mutmut(*args: str) -> list[str]:
    cmd = [sys.executable, "-m", "mutmut", *args]
    done = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True)
    return done.stdout.splitlines()


def statuses() -> dict[str, Counter[str]]:
    """Module -> how many of its mutants ended in each status, from the last run."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    for line in mutmut("results", "--all", "true"):
        key, sep, status = line.strip().rpartition(": ")
        if sep:
            # mintcli.wire.sse.xǁSSEDecoderǁfeed__mutmut_7 or mintcli.wire.sse.x_too_long__mutmut_1
            found[re.split(r"\.x[_ǁ]", key, maxsplit=1)[0]][status] += 1
    return found


def table(found: dict[str, Counter[str]]) -> str:
    rows = [("module", *COLUMNS, "other", "score")]
    total: Counter[str] = Counter()
    for module in [*sorted(found), "total"]:
        counts = total if module == "total" else found[module]
        if module != "total":
            total.update(counts)
        n = sum(counts.values())
        caught = sum(counts[s] for s in CAUGHT)
        other = n - sum(counts[s] for s in COLUMNS)
        score = f"{caught}/{n} = {caught / n:.0%}" if n else "-"
        rows.append((module, *(str(counts[s]) for s in COLUMNS), str(other), score))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", action="store_true", help="only print the last run's table")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    args = parser.parse_args()
    if importlib.util.find_spec("mutmut") is None:
        sys.exit("mutation.py: mutmut is not installed here: pip install -e '.[test,mutation]'")
    if not args.report:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)  # no result cached from old code
        run = [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.jobs)]
        subprocess.run(run, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    elif not (ROOT / "mutants").is_dir():
        sys.exit("mutation.py: no run to report on; run it without --report first")
    print(table(statuses()))
    print("\nnot killed: mutmut results; a mutant's diff: mutmut show NAME")
    return 0


if __name__ == "__main__":
    sys.exit(main())
