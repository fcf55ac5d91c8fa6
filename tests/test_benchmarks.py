"""The benchmark tools still work (they are run by hand, so nothing else would notice).

Nothing is timed here: these check that the benchmark server speaks both
protocols, that mint and the baseline client print the same text from it, and
that the in-process stage timer runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench_server() -> Any:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "server.py")], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    yield proc.stdout.readline().strip()
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_mint_and_the_baseline_print_the_same_text(
    bench_server: str, protocol: str, env: dict[str, str]
) -> None:
    bench = {"pieces": 1003}
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "max_tokens": 16,
        "bench": bench,
    }
    base = subprocess.run(
        [
            sys.executable,
            str(BENCH / "minimal_client.py"),
            bench_server,
            protocol,
            json.dumps(body),
        ],
        capture_output=True,
        timeout=60,
        check=True,
    ).stdout
    mint = subprocess.run(
        [
            sys.executable,
            "-m",
            "mintcli",
            "chat",
            "--no-stdin",
            "--protocol",
            protocol,
            "--base-url",
            bench_server,
            "-o",
            "bench=" + json.dumps(bench),
            "hi",
        ],
        capture_output=True,
        timeout=60,
        env=env,
    )
    assert mint.returncode == 0, mint.stderr
    assert len(base) > 1003 * 4
    # mint ends the text with a newline when it lacks one; otherwise byte for byte.
    assert mint.stdout == base if base.endswith(b"\n") else mint.stdout == base + b"\n"


def test_live_pieces_carry_their_send_time(bench_server: str, env: dict[str, str]) -> None:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "mintcli",
            "chat",
            "--no-stdin",
            "--base-url",
            bench_server,
            "-o",
            'bench={"pieces": 5, "interval_ms": 1}',
            "hi",
        ],
        capture_output=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    stamps = [int(line) for line in r.stdout.splitlines()]
    assert len(stamps) == 5 and stamps == sorted(stamps)


def test_hotpath_runs_every_stage() -> None:
    for protocol in ("openai", "anthropic"):
        r = subprocess.run(
            [sys.executable, str(BENCH / "hotpath.py"), "--pieces", "2000", "--protocol", protocol],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        for stage in ("frame", "decode", "handle", "journal", "httpx-sse"):
            assert f"  {stage} " in r.stdout
