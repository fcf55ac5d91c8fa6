"""What mint's tool loop costs per step, against running the tool bare.

    python benchmarks/toolloop.py [--steps 20] [--repeat 5]

A `mint mock` (scripted: a chain of STEPS calls to one tool, then text) and a
trivial tool (`/bin/cat`: it echoes its arguments). For each repeat it times,
as whole processes, `mint chat --tool-cmd` with a chain of 1 step and of STEPS
steps; the difference divided by STEPS - 1 is the cost of one step (the next
request and its stream through the mock on loopback, spawning the tool,
writing its stdin, reading its stdout, journaling the result). The baseline
is a bare `subprocess.run` of the same tool with the same stdin, in this
process. It also times importing mint's MCP client against the official SDK's.
Prints medians; nothing is written.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINT = [sys.executable, "-m", "mintcli"]


def start_mock(script: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [*MINT, "mock", "--script", str(script), "--piece-chars", "64"],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().decode().strip()
    return proc, url


def time_chain(prompt: str, steps: int, env: dict[str, str]) -> float:
    argv = [*MINT, "chat", "--no-log", "-q", "--max-steps", str(steps + 1),
            "--tool-cmd", "echo=/bin/cat", prompt]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def time_bare(repeat: int) -> float:
    stdin = json.dumps({"text": "hello"}).encode()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(["/bin/cat"], input=stdin, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def time_import(code: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", f"import time; t=time.perf_counter(); {code}; "
         "print(time.perf_counter()-t)"],
        capture_output=True,
        check=True,
    )
    return float(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        call = {"name": "echo", "arguments": {"text": "hello"}}
        rules = [
            {"match": {"prompt": "^one"}, "steps": [{"tool_calls": [call]}]},
            {"match": {"prompt": "^many"}, "steps": [{"tool_calls": [call]}] * args.steps},
        ]
        script = Path(tmp) / "script.json"
        script.write_text(json.dumps(rules))
        env = {
            **os.environ,
            "MINT_API_KEY": "bench",
            "XDG_STATE_HOME": tmp,
            "XDG_CONFIG_HOME": tmp,
            "XDG_DATA_HOME": tmp,
        }
        mock, url = start_mock(script, env)
        env["MINT_BASE_URL"] = url
        try:
            one, many = [], []
            for _ in range(args.repeat):  # interleaved, so drift hits both alike
                one.append(time_chain("one", 1, env))
                many.append(time_chain("many", args.steps, env))
        finally:
            mock.terminate()
            mock.wait()
    per_step = (statistics.median(many) - statistics.median(one)) / (args.steps - 1)
    bare = time_bare(args.repeat * 10)
    print(f"chain of 1 step:          {statistics.median(one) * 1000:8.1f} ms (whole process)")
    print(f"chain of {args.steps} steps:        {statistics.median(many) * 1000:8.1f} ms")
    print(f"one more step:            {per_step * 1000:8.1f} ms "
          "(request + stream + tool + journal)")  # fmt: skip
    print(f"bare subprocess.run:      {bare * 1000:8.1f} ms (the same tool, same stdin)")
    print(f"mint's cost per step:     {(per_step - bare) * 1000:8.1f} ms beyond the bare run")
    loop = time_import("import mintcli.toolloop")
    ours = time_import("import mintcli.toolloop.mcp")
    sdk = time_import("import mcp.client.stdio, mcp")
    print(f"import mintcli.toolloop:  {loop * 1000:8.1f} ms (the whole loop)")
    print(f"import its MCP client:    {ours * 1000:8.1f} ms")
    print(f"import the mcp SDK client:{sdk * 1000:8.1f} ms")
    print(f"load: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
