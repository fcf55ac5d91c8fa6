"""What request validation costs `mint mock`: requests/s and per-request latency
with validation on and with --lenient, in the same run, plus the in-process cost
of the checks alone.

    python benchmarks/mock_validation.py [--seconds 3] [--rounds 3]

Two `mint mock` processes (one validating, one --lenient) are served in turn, one
kept-alive httpx connection each, one request at a time, rounds interleaved so
that both see the same machine load. The request is a realistic tool conversation
(a system prompt, two tool rounds, two tools), both protocols, not streamed (so
that the reply is small and the request's checks weigh the most).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MINT = [sys.executable, "-m", "mintcli"]
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def openai_body() -> dict[str, object]:
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
    ]
    for n in range(2):
        calls = [
            {"id": f"call_{n}{c}", "type": "function",
             "function": {"name": "weather", "arguments": json.dumps({"city": c})}}
            for c in ("Paris", "Rome")
        ]  # fmt: skip
        messages.append({"role": "assistant", "content": None, "tool_calls": calls})
        messages += [{"role": "tool", "tool_call_id": c["id"], "content": "sunny"} for c in calls]
    messages.append({"role": "user", "content": "Thanks. Anything else?"})
    tools = [
        {"type": "function", "function": {"name": name, "parameters": WEATHER}}
        for name in ("weather", "forecast")
    ]
    return {"model": "openai/gpt-4o", "messages": messages, "tools": tools,
            "temperature": 0.5, "max_tokens": 200}  # fmt: skip


def anthropic_body() -> dict[str, object]:
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    for n in range(2):
        uses = [
            {"type": "tool_use", "id": f"toolu_{n}{c}", "name": "weather", "input": {"city": c}}
            for c in ("Paris", "Rome")
        ]
        messages.append({"role": "assistant", "content": uses})
        results = [
            {"type": "tool_result", "tool_use_id": u["id"], "content": "sunny"} for u in uses
        ]
        messages.append({"role": "user", "content": results})
    messages.append({"role": "assistant", "content": "Both sunny."})
    messages.append({"role": "user", "content": "Thanks. Anything else?"})
    tools = [{"name": name, "input_schema": WEATHER} for name in ("weather", "forecast")]
    return {"model": "anthropic/claude-sonnet-4-5", "max_tokens": 200, "system": "You are terse.",
            "messages": messages, "tools": tools, "temperature": 0.5}  # fmt: skip


def start(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*MINT, "mock", *args], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().decode().strip()


def run(client: httpx.Client, url: str, body: bytes, headers: dict[str, str], seconds: float) -> list[float]:
    """Per-request latencies (seconds) of back-to-back requests for ``seconds``."""
    latencies = []
    end = time.perf_counter() + seconds
    while (t0 := time.perf_counter()) < end:
        r = client.post(url, content=body, headers=headers)
        latencies.append(time.perf_counter() - t0)
        if r.status_code != 200:
            raise SystemExit(f"{url}: HTTP {r.status_code}: {r.text[:300]}")
    return latencies


def in_process() -> list[tuple[str, float]]:
    """Microseconds per call of validate.check alone, each protocol's body."""
    sys.path.insert(0, str(ROOT))
    from mintcli.mock import validate

    rows = []
    for protocol, body in (("openai", openai_body()), ("anthropic", anthropic_body())):
        headers = {"anthropic-version": "2023-06-01"}
        timer = timeit.Timer(lambda: validate.check(protocol, "/v1/messages", body, headers))  # noqa: B023
        number, _ = timer.autorange()
        best = min(timer.repeat(5, number)) / number
        rows.append((protocol, best * 1e6))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per protocol, mode and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    strict, strict_url = start()
    lenient, lenient_url = start("--lenient")
    routes = {
        "openai": ("/chat/completions", openai_body(), {"Authorization": "Bearer bench"}),
        "anthropic": ("/messages", anthropic_body(),
                      {"x-api-key": "bench", "anthropic-version": "2023-06-01"}),
    }  # fmt: skip
    results: dict[tuple[str, str], list[float]] = {}
    try:
        with httpx.Client(timeout=30) as a, httpx.Client(timeout=30) as b:
            for _ in range(args.rounds):
                for protocol, (path, body, headers) in routes.items():
                    raw = json.dumps(body).encode()
                    for mode, client, base in (("validating", a, strict_url), ("--lenient", b, lenient_url)):
                        lat = run(client, base + path, raw, headers, args.seconds)
                        results.setdefault((protocol, mode), []).extend(lat)
    finally:
        for proc in (strict, lenient):
            proc.terminate()
            proc.wait()
    print(f"load average before the run ended: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    print(f"{'protocol':<10} {'mode':<11} {'requests':>8} {'req/s':>8} {'median ms':>10} {'p99 ms':>8}")
    for (protocol, mode), lat in results.items():
        total = sum(lat)
        p99 = statistics.quantiles(lat, n=100)[98]
        print(f"{protocol:<10} {mode:<11} {len(lat):>8} {len(lat) / total:>8.0f} "
              f"{statistics.median(lat) * 1e3:>10.3f} {p99 * 1e3:>8.3f}")  # fmt: skip
    for protocol in routes:
        on = statistics.median(results[(protocol, "validating")])
        off = statistics.median(results[(protocol, "--lenient")])
        print(f"{protocol}: validation adds {(on - off) * 1e6:+.0f} µs to the median request "
              f"({(on / off - 1) * 100:+.1f}%)")  # fmt: skip
    for protocol, us in in_process():
        print(f"{protocol}: validate.check alone, this request: {us:.1f} µs")


if __name__ == "__main__":
    main()
