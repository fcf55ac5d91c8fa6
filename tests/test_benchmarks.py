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
from conftest import clean_env, read_until

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def bench_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return clean_env(tmp_path_factory.mktemp("bench"))


@pytest.fixture(scope="module")
def bench_server(bench_env: dict[str, str]) -> Any:
    proc = subprocess.Popen(
        [sys.executable, str(BENCH / "server.py")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        env=bench_env,
    )
    try:
        assert proc.stdout is not None
        line = read_until(
            proc.stdout.fileno(), lambda got: b"\n" in got, timeout=20, what="the server's URL"
        )
        yield line.decode().strip()
    finally:
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
    baseline = subprocess.run(
        [
            sys.executable,
            str(BENCH / "minimal_client.py"),
            bench_server,
            protocol,
            json.dumps(body),
        ],
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    assert baseline.returncode == 0, baseline.stderr
    base = baseline.stdout
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
        timeout=30,
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
        timeout=30,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    stamps = [int(line) for line in r.stdout.splitlines()]
    assert len(stamps) == 5 and stamps == sorted(stamps)


def test_hotpath_runs_every_stage(env: dict[str, str]) -> None:
    for protocol in ("openai", "anthropic"):
        r = subprocess.run(
            [sys.executable, str(BENCH / "hotpath.py"), "--pieces", "2000", "--protocol", protocol],
            capture_output=True,
            text=True,
            timeout=25,  # two runs within the 60 s per-test limit
            env=env,
        )
        assert r.returncode == 0, r.stderr
        for stage in ("frame", "decode", "handle", "journal", "httpx-sse"):
            assert f"  {stage} " in r.stdout


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_mint_batch_and_the_batch_baseline_agree(
    bench_server: str, protocol: str, env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": n, "prompt": f"p{n}"}) + "\n" for n in range(12)))
    bench = json.dumps({"pieces": 20})
    with source.open("rb") as stdin:
        baseline = subprocess.run(
            [sys.executable, str(BENCH / "batch_client.py"), bench_server, protocol, "4", bench],
            stdin=stdin,
            capture_output=True,
            timeout=30,
            env=env,
        )
    assert baseline.returncode == 0, baseline.stderr
    mint = subprocess.run(
        [sys.executable, "-m", "mintcli", "batch", "-j", "4", "--protocol", protocol,
         "--base-url", bench_server, "-o", "bench=" + bench, str(source)],
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    assert mint.returncode == 0, mint.stderr
    ours = {
        r["id"]: (r["text"], r["finish_reason"]) for r in map(json.loads, mint.stdout.splitlines())
    }
    theirs = {
        r["id"]: (r["text"], r["finish_reason"])
        for r in map(json.loads, baseline.stdout.splitlines())
    }
    assert ours == theirs and len(ours) == 12
    assert len(ours[0][0]) == 80
