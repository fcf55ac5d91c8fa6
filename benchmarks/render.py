"""The streaming Markdown renderer (--render): cost per piece, and import cost.

Feeds a reply of N pieces (4 characters each, cut from a Markdown sample with
headings, emphasis, code spans, fenced code, lists, quotes, links and tables,
repeated) through the real RenderSink into /dev/null, one piece per network
read as mint does (``events`` + ``flush``), and times every piece. The claim
checked: a 200,000-piece reply costs the same per piece as a 2,000-piece one
(nothing is re-rendered), with p99 under 1 ms; and one 80 KB line whose kind
or style stays open (a rule, a quote, a run of asterisks) costs milliseconds,
not seconds.

With ``--compare PYTHON`` (an interpreter that has rich and markdown-it-py
installed) it also measures what the usual alternatives cost here: their
import time, and the per-piece cost of re-rendering everything so far with
rich (what rich.live does), at a few reply lengths.

    .venv/bin/python benchmarks/render.py [--compare /tmp/venv/bin/python]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = """\
## Step 3: configure the **server**

Set `MINT_BASE_URL` and run the *mock* first; see [the docs](https://example.org/docs).
A value like 2 * 3 or snake_case_name stays as it is, ~~old~~ new.

- install it with `pip install mint`
- then **start** it:
  1. open a terminal
  2. run the command

> Note: a quote with `code` and **weight**.

```python
def total(items: list[int]) -> int:
    return sum(x * 2 for x in items)  # **not bold**
```

| name | value | note |
|:-----|------:|:----:|
| alpha | 1 | *first* |
| 北京 | 22 | `wide` |

---

"""


LONG_LINES = {
    "'- '": "- " * 40_000,
    "'*' after a word": "x " + "*" * 80_000,
    "'> '": "> " * 40_000,
    "spaces": " " * 80_000 + "x",
}


def pieces(count: int, size: int = 4) -> list[str]:
    text = SAMPLE * (count * size // len(SAMPLE) + 1)
    return [text[i * size : (i + 1) * size] for i in range(count)]


def run_sink(count: int) -> list[int]:
    from mintcli.base.events import TextDelta
    from mintcli.base.terminal import Terminal
    from mintcli.render.sink import RenderSink

    devnull = open(os.devnull, "wb")  # noqa: SIM115
    term = Terminal(
        stdin=sys.stdin.buffer,
        stdout=devnull,
        stderr=sys.stderr,
        stdin_isatty=False,
        stdout_isatty=True,
        stderr_isatty=False,
        color=False,
        stdout_color=True,
    )
    sink = RenderSink(term)
    times = []
    clock = time.perf_counter_ns
    for piece in pieces(count):
        events = [TextDelta(piece)]
        t0 = clock()
        sink.events(events)
        sink.flush()
        times.append(clock() - t0)
    devnull.close()
    return times


def describe(times: list[int]) -> str:
    ordered = sorted(times)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000  # noqa: E731
    return (
        f"mean {statistics.fmean(times) / 1000:6.2f} µs  p50 {p(0.5):6.2f} µs  "
        f"p99 {p(0.99):6.2f} µs  max {max(times) / 1000:8.1f} µs"
    )


def import_ms(python: str, statement: str, runs: int = 7) -> float:
    """Median wall time of ``python -c statement`` minus that of ``python -c pass``."""

    def once(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([python, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - t0

    base = statistics.median(once("pass") for _ in range(runs))
    return (statistics.median(once(statement) for _ in range(runs)) - base) * 1000


def renderer_import_us(python: str) -> int:
    """What importing mintcli.render.sink adds, in µs, once mintcli.output.sinks (which
    mint chat imports anyway) is in: Python's own -X importtime figure, steadier
    than timing whole processes on a busy machine."""
    code = "import mintcli.output.sinks, mintcli.render.sink"
    r = subprocess.run([python, "-X", "importtime", "-c", code], capture_output=True, text=True)
    line = next(x for x in r.stderr.splitlines() if x.endswith("| mintcli.render.sink"))
    return int(line.split("|")[1])


RICH_RERENDER = """
import io, sys, time
from rich.console import Console
from rich.markdown import Markdown
sample = sys.argv[1]
for kb in (1, 4, 16):
    text = (sample * (kb * 1024 // len(sample) + 1))[: kb * 1024]
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    t0 = time.perf_counter()
    for _ in range(5):
        console.print(Markdown(text))
    print(f"  rich, re-render of a {kb:2d} KB reply (once per piece): "
          f"{(time.perf_counter() - t0) / 5 * 1000:7.2f} ms per piece")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare", metavar="PYTHON", help="an interpreter with rich installed")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}  cpus: {os.cpu_count()}")
    medians = []
    run_sink(500)  # warm-up: the first pieces pay for caches and lazy set-up
    for count in (2_000, 200_000, 2_000):
        times = run_sink(count)
        medians.append(statistics.median(times))
        print(f"{count:>8,} pieces: {describe(times)}")
    ratios = ", ".join(f"{medians[1] / m:.2f}" for m in (medians[0], medians[2]))
    print(f"per-piece median, 200,000 pieces against each 2,000-piece run: {ratios}")
    # One long line a paced server sends in small pieces: a line whose kind or
    # style stays undecided must not be looked at again with every piece.
    from mintcli.render.markdown import Renderer

    for name, line in LONG_LINES.items():
        renderer = Renderer()
        start = time.perf_counter()
        for at in range(0, len(line), 4):
            renderer.feed(line[at : at + 4])
        renderer.finish()
        print(f"one {len(line) // 1000} KB line of {name}, in 4-character pieces: "
              f"{(time.perf_counter() - start) * 1000:.0f} ms")  # fmt: skip
    here = sys.executable
    runs = [renderer_import_us(here) for _ in range(9)]
    print(
        f"importing the renderer after mintcli.output.sinks (-X importtime, median of 9): "
        f"{statistics.median(runs) / 1000:.1f} ms"
    )
    if args.compare:
        for module in ("markdown_it", "rich.markdown", "pygments.lexers"):
            ms = import_ms(args.compare, f"import {module}")
            print(f"  {module}: {ms:6.1f} ms")
        subprocess.run([args.compare, "-c", RICH_RERENDER, SAMPLE], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
