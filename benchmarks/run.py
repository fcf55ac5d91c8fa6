"""mint's benchmark suite: start-up, short replies, throughput, latency, memory.

    python benchmarks/run.py            # the full run (about two minutes)
    python benchmarks/run.py --quick    # a smaller run, for a first look

It starts ``benchmarks/server.py`` (a streaming server that is never the
bottleneck), measures mint side by side with ``benchmarks/minimal_client.py``
(httpx + httpx-sse, print and flush each delta) and ``curl -N``, prints the
tables and writes them to ``benchmarks/results.md``, each target marked PASS or
FAIL. Every figure is wall time of whole processes, as a user or a script sees
them; runs of the things compared are interleaved so drift hits all alike.

Children run as they would for a user: byte-code caches written (this
workplace sets PYTHONDONTWRITEBYTECODE, which would make every run recompile
mint), PYTHONUNBUFFERED unset, a fresh config and state directory.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
MINT = [PY, "-m", "mintcli"]
MINT_SCRIPT = shutil.which("mint", path=str(Path(PY).parent)) or ""
MINIMAL = [PY, str(HERE / "minimal_client.py")]

# Peak RSS is read through this launcher. On Linux a child's ru_maxrss starts
# from its parent's size at fork (it survives exec), so measuring children of
# this (large) process directly would report this process's size. The launcher
# is small; the command it forks and execs is measured from there.
_LAUNCH = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
os.write(2, b"\\n@maxrss %d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def child_env(state: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINT_", "PYTHON"))}
    env.update(
        MINT_API_KEY="bench-key",
        XDG_STATE_HOME=str(state / "state"),
        XDG_DATA_HOME=str(state / "data"),  # conversations are saved there, not in ~
        XDG_CONFIG_HOME=str(state / "config"),
        NO_COLOR="1",
    )
    return env


@dataclass
class Result:
    wall: float
    out: bytes
    size: int
    maxrss_kb: int
    code: int


@dataclass
class Report:
    sections: list[str] = field(default_factory=list)
    targets: list[tuple[str, str, bool]] = field(default_factory=list)

    def table(
        self, title: str, head: Sequence[str], rows: list[Sequence[object]], note: str = ""
    ) -> None:
        lines = [f"### {title}", ""]
        if note:
            lines += [note, ""]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        text = "\n".join(lines) + "\n"
        self.sections.append(text)
        print(text, flush=True)

    def target(self, name: str, measured: str, ok: bool) -> None:
        self.targets.append((name, measured, ok))
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {measured}", flush=True)


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.tmp = Path(tempfile.mkdtemp(prefix="mint-bench-"))
        self.env = child_env(self.tmp)
        self.server: subprocess.Popen[bytes] | None = None
        self.base = ""

    # -- processes ------------------------------------------------------------
    def run(
        self,
        argv: Sequence[str],
        keep: bool = False,
        on_read: Callable[[bytes], None] | None = None,
        rss: bool = False,
    ) -> Result:
        if rss:
            argv = [PY, "-c", _LAUNCH, *argv]
        with tempfile.TemporaryFile() as errfile:
            return self._run(argv, errfile, keep, on_read)

    def _run(
        self,
        argv: Sequence[str],
        errfile: IO[bytes],
        keep: bool,
        on_read: Callable[[bytes], None] | None,
    ) -> Result:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errfile, env=self.env
        )
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            if on_read is not None:
                on_read(chunk)
            size += len(chunk)
            if keep:
                chunks.append(chunk)
        _, status, _ = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        errfile.seek(0)
        err = errfile.read()
        if proc.returncode != 0:
            raise SystemExit(
                f"benchmark child failed ({proc.returncode}): {' '.join(argv)}\n{err.decode()[-2000:]}"
            )
        found = re.search(rb"@maxrss (\d+)", err)
        return Result(
            wall, b"".join(chunks), size, int(found.group(1)) if found else 0, proc.returncode
        )

    def start_server(self) -> None:
        self.server = subprocess.Popen(
            [PY, str(HERE / "server.py")], stdout=subprocess.PIPE, env=self.env
        )
        assert self.server.stdout is not None
        self.base = self.server.stdout.readline().decode().strip()

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- commands ---------------------------------------------------------------
    @staticmethod
    def body(protocol: str, bench: dict[str, float]) -> str:
        import json

        body: dict[str, object] = {
            "model": "bench-model",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "max_tokens": 4096,
            "bench": bench,
        }
        if protocol == "openai":
            body["stream_options"] = {"include_usage": True}
        return json.dumps(body)

    def mint(
        self, protocol: str, bench: dict[str, float], fmt: str = "text", journal: bool = True
    ) -> list[str]:
        import json

        argv = [
            *MINT,
            "chat",
            "--no-stdin",
            "--base-url",
            self.base,
            "--protocol",
            protocol,
            "-f",
            fmt,
            "-m",
            "bench-model",
        ]
        if not journal:
            argv.append("--no-journal")
        return [*argv, "-o", "bench=" + json.dumps(bench), "hi"]

    def minimal(self, protocol: str, bench: dict[str, float], fast_json: bool = False) -> list[str]:
        return [*MINIMAL, self.base, protocol, self.body(protocol, bench)] + (
            ["--orjson"] if fast_json else []
        )

    def curl(self, protocol: str, bench: dict[str, float]) -> list[str]:
        path = "/chat/completions" if protocol == "openai" else "/messages"
        return [
            "curl",
            "-sSN",
            "-H",
            "Content-Type: application/json",
            self.base + path,
            "-d",
            self.body(protocol, bench),
        ]

    def warm(self, pieces: list[int]) -> None:
        """Have the server render (and cache) each long reply before timing."""
        for protocol in ("openai", "anthropic"):
            for n in pieces:
                self.run(self.minimal(protocol, {"pieces": n}, fast_json=True))


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def percentile(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def interleaved(b: Bench, commands: dict[str, list[str]], rounds: int) -> dict[str, list[Result]]:
    results: dict[str, list[Result]] = {name: [] for name in commands}
    for _ in range(rounds):
        for name, argv in commands.items():
            results[name].append(b.run(argv))
    return results


# -- the measurements --------------------------------------------------------------


def startup(b: Bench, report: Report) -> None:
    rounds = 10 if b.quick else 30
    mint = [MINT_SCRIPT] if MINT_SCRIPT else MINT
    commands = {
        "python -c pass": [PY, "-c", "pass"],
        "mint --version": [*mint, "--version"],
        "mint --help": [*mint, "--help"],
        "mint chat --help": [*mint, "chat", "--help"],
    }
    res = interleaved(b, commands, rounds)
    rows = []
    for name, rs in res.items():
        walls = [r.wall * 1000 for r in rs]
        rows.append((name, f"{median(walls):.1f}", f"{min(walls):.1f}"))
    report.table(f"Start-up ({rounds} runs each)", ["command", "median ms", "min ms"], rows)
    # Which modules each command imports: httpx must not be among them.
    for name, argv in list(commands.items())[1:]:
        script = argv[0] if argv[0] != PY else None
        probe = (
            [PY, "-X", "importtime", script, *argv[1:]]
            if script
            else [PY, "-X", "importtime", *argv[1:]]
        )
        err = subprocess.run(probe, env=b.env, capture_output=True, check=True).stderr.decode()
        imported_httpx = bool(re.search(r"\|\s+httpx\s*$", err, re.M))
        ms = median([r.wall * 1000 for r in res[name]])
        report.target(
            f"`{name}` under 100 ms, httpx not imported",
            f"{ms:.1f} ms, httpx {'imported' if imported_httpx else 'not imported'}",
            ms < 100 and not imported_httpx,
        )


def short_reply(b: Bench, report: Report) -> None:
    rounds = 10 if b.quick else 30
    bench = {"pieces": 20}
    # mint skips loading the CA bundle for a plain-http gateway reached directly;
    # the minimal client always loads it. Going through a proxy makes mint load it
    # too, so the target compares both clients through the same proxy (the
    # benchmark server itself, which answers requests in proxy form): both load
    # the bundle, both pay for the proxy. That is what an https gateway costs.
    with_ca = "mint chat, through a proxy (CA bundle loaded, as for https)"
    minimal_ca = "minimal client, through the same proxy"
    proxy = f"http_proxy={b.base.removesuffix('/v1')}"
    commands = {
        "mint chat": b.mint("openai", bench),
        "minimal client": b.minimal("openai", bench),
        with_ca: ["env", proxy, *b.mint("openai", bench)],
        minimal_ca: ["env", proxy, *b.minimal("openai", bench)],
        "mint chat --mock (in-process mock)": [*MINT, "chat", "--mock", "--no-stdin", "写一首诗"],
    }
    if shutil.which("curl"):
        commands["curl -N"] = b.curl("openai", bench)
    res = interleaved(b, commands, rounds)
    meds = {name: median([r.wall * 1000 for r in rs]) for name, rs in res.items()}
    rows = [
        (name, f"{m:.1f}", f"{min(r.wall for r in res[name]) * 1000:.1f}")
        for name, m in meds.items()
    ]
    report.table(
        f"A short reply: 20 pieces, OpenAI protocol ({rounds} runs each)",
        ["client", "median ms", "min ms"],
        rows,
    )
    ratio = meds[with_ca] / meds[minimal_ca]
    report.target(
        "short reply within 1.2x of the minimal client (both loading the CA bundle)",
        f"{ratio:.2f}x ({meds[with_ca]:.0f} vs {meds[minimal_ca]:.0f} ms)",
        ratio <= 1.2,
    )


def throughput(b: Bench, report: Report) -> dict[tuple[str, str], float]:
    n = 50_000 if b.quick else 200_000
    rounds = 1 if b.quick else 3
    bench = {"pieces": n}
    rates: dict[tuple[str, str], float] = {}
    rows = []
    for protocol in ("openai", "anthropic"):
        commands = {
            "minimal client (json)": b.minimal(protocol, bench),
            "minimal client (orjson)": b.minimal(protocol, bench, fast_json=True),
            "mint text": b.mint(protocol, bench),
            "mint text --no-journal": b.mint(protocol, bench, journal=False),
            "mint raw": b.mint(protocol, bench, "raw"),
            "mint jsonl": b.mint(protocol, bench, "jsonl"),
            "mint json": b.mint(protocol, bench, "json"),
        }
        res = interleaved(b, commands, rounds)
        # The same text must come out of mint and the baseline.
        same = b.run(commands["mint text"], keep=True).out.rstrip(b"\n") == b.run(
            commands["minimal client (json)"], keep=True
        ).out.rstrip(b"\n")
        if not same:
            raise SystemExit(f"{protocol}: mint's text differs from the minimal client's")
        for name, rs in res.items():
            wall = median([r.wall for r in rs])
            rates[(protocol, name)] = n / wall
            rows.append((protocol, name, f"{wall:.2f}", f"{n / wall:,.0f}"))
    report.table(
        f"Throughput: a {n:,}-piece reply ({rounds} run{'s' if rounds > 1 else ''} each, median)",
        ["protocol", "client", "wall s", "pieces/s"],
        rows,
        "Whole process: start-up, request, every piece printed and flushed, exit.",
    )
    for protocol in ("openai", "anthropic"):
        base = max(
            rates[(protocol, "minimal client (json)")], rates[(protocol, "minimal client (orjson)")]
        )
        ratio = rates[(protocol, "mint text")] / base
        report.target(
            f"{protocol}: text throughput at least 1.5x the faster minimal client",
            f"{ratio:.2f}x",
            ratio >= 1.5,
        )
        on, off = rates[(protocol, "mint text")], rates[(protocol, "mint text --no-journal")]
        cost = (off - on) / off * 100
        report.target(
            f"{protocol}: journaling costs under 10% throughput",
            f"{cost:+.1f}% ({on:,.0f} vs {off:,.0f} pieces/s)",
            cost < 10,
        )
    return rates


_STAMP = re.compile(rb"(\d{19})(?:\n|\\n)")


class StampReader:
    """Reads a client's stdout as it arrives; each line holds a send time."""

    def __init__(self) -> None:
        self.delays: list[float] = []  # ms from the server's stamp to our read
        self._tail = b""

    def read(self, chunk: bytes) -> None:
        now = time.time_ns()
        data = self._tail + chunk
        cut = data.rfind(b"\n") + 1
        self._tail = data[cut:]
        self.delays.extend((now - int(m.group(1))) / 1e6 for m in _STAMP.finditer(data[:cut]))


def latency(b: Bench, report: Report) -> None:
    n, interval = (300, 2) if b.quick else (2000, 2)
    bench = {"pieces": n, "interval_ms": interval}
    rows = []
    p99s: dict[str, float] = {}
    for label, argv in [
        ("mint text, openai", b.mint("openai", bench)),
        ("mint text, anthropic", b.mint("anthropic", bench)),
        ("mint jsonl, openai", b.mint("openai", bench, "jsonl")),
        ("minimal client, openai", b.minimal("openai", bench)),
    ]:
        stamps = StampReader()
        b.run(argv, on_read=stamps.read)
        delays = stamps.delays
        if len(delays) != n:
            raise SystemExit(
                f"latency: expected {n} stamped pieces from {label}, read {len(delays)}"
            )
        p99s[label] = percentile(delays, 0.99)
        rows.append((label, f"{median(delays):.3f}", f"{p99s[label]:.3f}", f"{max(delays):.3f}"))
    report.table(
        f"Latency per piece: {n} pieces, one every {interval} ms",
        ["client", "median ms", "p99 ms", "max ms"],
        rows,
        "From the server stamping a piece (just before it is sent) to the benchmark reading it from the client's stdout.",
    )
    for label in ("mint text, openai", "mint text, anthropic"):
        report.target(f"{label}: p99 delay under 1 ms", f"{p99s[label]:.3f} ms", p99s[label] < 1.0)


def memory(b: Bench, report: Report) -> None:
    sizes = [10_000, 100_000] if b.quick else [10_000, 200_000, 1_000_000]
    rows = []
    for label, make in [
        ("mint text", lambda n: b.mint("openai", {"pieces": n})),
        ("mint raw", lambda n: b.mint("openai", {"pieces": n}, "raw")),
        ("mint jsonl", lambda n: b.mint("openai", {"pieces": n}, "jsonl")),
        ("mint text, anthropic", lambda n: b.mint("anthropic", {"pieces": n})),
        ("minimal client", lambda n: b.minimal("openai", {"pieces": n}, fast_json=True)),
    ]:
        rss = [b.run(make(n), rss=True).maxrss_kb / 1024 for n in sizes]
        rows.append((label, *(f"{r:.1f}" for r in rss)))
        if label.startswith("mint"):
            flat = max(rss) - min(rss)
            report.target(
                f"{label}: peak RSS under 40 MB, flat from {sizes[0]:,} to {sizes[-1]:,} pieces",
                f"{min(rss):.1f}-{max(rss):.1f} MB",
                max(rss) < 40 and flat < 2.0,
            )
    report.table(
        "Peak RSS (MB) by reply length",
        ["client", *(f"{n:,} pieces" for n in sizes)],
        rows,
        "ru_maxrss of the client process; OpenAI protocol unless named.",
    )


def mock_speed(b: Bench, report: Report, rates: dict[tuple[str, str], float]) -> None:
    """mint mock must not be the bottleneck: how fast does it serve alone?"""
    import json

    if not shutil.which("curl"):
        return
    n = 50_000 if b.quick else 200_000
    script = b.tmp / "rules.json"
    script.write_text(
        f'[{{"text": "{"春眠不觉晓处处闻啼鸟" * 2}", "repeat": {n // 5}, "piece_chars": 4}}]'
    )
    mock = subprocess.Popen(
        [*MINT, "mock", "--script", str(script)], stdout=subprocess.PIPE, env=b.env
    )
    assert mock.stdout is not None
    url = mock.stdout.readline().decode().strip()
    rows = []
    try:
        for protocol in ("openai", "anthropic"):
            path = "/chat/completions" if protocol == "openai" else "/messages"
            # A request the real APIs accept (the mock checks): no "bench" field, an
            # anthropic-version header, and room for the whole reply in max_tokens.
            request = json.loads(b.body(protocol, {}))
            del request["bench"]
            request["max_tokens"] = n
            body = json.dumps(request)
            argv = [
                "curl",
                "-sSN",
                "-H",
                "Authorization: Bearer bench",
                "-H",
                "x-api-key: bench",
                "-H",
                "anthropic-version: 2023-06-01",
                url + path,
                "-d",
                body,
            ]
            runs = [b.run(argv) for _ in range(1 if b.quick else 3)]
            if runs[0].size < n * 50:
                raise SystemExit(
                    f"mock speed: the mock sent {runs[0].size} bytes, too few for {n} pieces"
                )
            walls = [r.wall for r in runs]
            served = n / median(walls)
            client = rates[(protocol, "mint text")]
            rows.append((protocol, f"{served:,.0f}", f"{client:,.0f}", f"{served / client:.1f}x"))
            report.target(
                f"{protocol}: mint mock serves several times faster than mint reads",
                f"{served / client:.1f}x",
                served >= 3 * client,
            )
    finally:
        mock.terminate()
        mock.wait()
    report.table(
        f"mint mock as a server: a {n:,}-piece reply fetched with curl",
        ["protocol", "mock pieces/s", "mint text pieces/s", "headroom"],
        rows,
    )


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return [
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {commit or 'unknown'}",
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; load average at start {' / '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="mint's benchmark suite")
    parser.add_argument("--quick", action="store_true", help="fewer runs, shorter streams")
    parser.add_argument(
        "--out", type=Path, default=HERE / "results.md", help="where to write the report"
    )
    args = parser.parse_args()
    head = prepare()
    b = Bench(args.quick)
    report = Report()
    try:
        b.start_server()
        b.warm([50_000] if args.quick else [200_000, 1_000_000])
        startup(b, report)
        short_reply(b, report)
        rates = throughput(b, report)
        latency(b, report)
        memory(b, report)
        mock_speed(b, report, rates)
    finally:
        b.stop()
    finish("Benchmark results", f"run.py{' --quick' if args.quick else ''}", head, report, args.out)


def prepare() -> list[str]:
    """Byte-code cached, as installed for a user (see the module docstring);
    the machine's description, printed."""
    subprocess.run(
        [PY, "-m", "compileall", "-q", str(ROOT / "mintcli"), str(HERE)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    head = machine()
    print("\n".join(head), flush=True)
    return head


def finish(title: str, command: str, head: list[str], report: Report, out: Path) -> None:
    """Write the report (targets first) and exit 1 when a target was missed."""
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    passed = sum(ok for _, _, ok in report.targets)
    lines = [
        f"# {title}",
        "",
        f"Written by `python benchmarks/{command}`; see benchmarks/README.md.",
        "",
        *head,
        f"- load average at the end {load}",
        "",
        f"## Targets: {passed} of {len(report.targets)} met",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *(
            f"| {name} | {measured} | {'PASS' if ok else 'FAIL'} |"
            for name, measured, ok in report.targets
        ),
        "",
        "## Measurements",
        "",
        *report.sections,
    ]
    out.write_text("\n".join(lines))
    print(f"targets met: {passed}/{len(report.targets)}; report written to {out}")
    sys.exit(0 if passed == len(report.targets) else 1)


if __name__ == "__main__":
    main()
