"""``--format json`` writes its one object without holding the reply twice: the
text and reasoning go out a piece at a time where they stand in the object, so a
long reply keeps the flat memory the other formats have; and a write that stops
part of the way still owes, for ``--resume``, every byte of the object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import MINT, PEAK, never_internal, peak_of
from sse_server import Canned, SSEServer
from test_stdout_full import limited

from mintcli.errors import ExitCode

STOP = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'


def delta(field: str, text: str) -> bytes:
    event = {"choices": [{"index": 0, "delta": {field: text}}]}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def test_a_long_reply_as_one_json_object_keeps_memory_flat(
    sse_server: SSEServer, env: dict[str, str], tmp_path: Path
) -> None:
    text = "y" * ((1 << 20) - 2) + "\u00e9"  # 1 MiB events: 32 of text, 16 of reasoning
    thought = "r" * ((1 << 20) - 2) + "\n"
    body = [delta("reasoning_content", thought)] * 16 + [delta("content", text)] * 32 + [STOP]
    sse_server.queue(Canned(body=body))
    out = tmp_path / "reply.json"
    with out.open("wb") as stdout:
        r = subprocess.run(
            [sys.executable, "-c", PEAK, *MINT, "chat", "--no-log", "--no-journal",
             "--format", "json", "hi"],
            env={**env, "MINT_BASE_URL": sse_server.base_url},
            stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
        )  # fmt: skip
    err, peak = peak_of(r.stderr)
    assert r.returncode == 0 and err == "", err
    obj = json.loads(out.read_bytes())
    assert obj["text"] == text * 32 and obj["reasoning"] == thought * 16
    assert obj["messages"][-1] == {"role": "assistant", "content": text * 32}
    assert obj["finish_reason"] == "stop" and "mint-" not in out.read_text()[:200]
    # Put together, the text and its JSON were held at once: 290 MiB here.
    assert peak < 70 * 1024, peak


def test_a_json_object_cut_by_a_full_stdout_is_completed_by_resume(
    sse_server: SSEServer, env: dict[str, str], tmp_path: Path
) -> None:
    # Four MiB of JSON: the object goes out in blocks, and the file fills up in
    # the first; the journal owes the rest of that block and all the later ones.
    text = "".join(f'\u7b2c{i}\u884c \x01 "line" {i}\n' for i in range(60_000))
    sse_server.queue(Canned(body=[delta("content", text), STOP]))
    sse_server.queue(Canned(body=[delta("content", text), STOP]))
    env = {**env, "MINT_BASE_URL": sse_server.base_url}
    args = [*MINT, "chat", "--no-log", "--format", "json", "go"]
    whole = tmp_path / "uninterrupted"
    with whole.open("wb") as stdout:
        assert subprocess.run(args, env=env, stdout=stdout, timeout=60).returncode == 0
    expected = whole.read_bytes()
    assert json.loads(expected)["text"] == text and len(expected) > 3 << 20

    limit = 16 << 20  # the journal (the reply and what stdout owes) stays below it
    out = tmp_path / "out"
    earlier = b"earlier\n".ljust(limit - 300_000, b".")
    out.write_bytes(earlier)
    with out.open("ab") as stdout:
        r = subprocess.run(
            args, env=env, stdout=stdout, stderr=subprocess.PIPE, timeout=60,
            preexec_fn=limited(limit),
        )  # fmt: skip
    never_internal(r.stderr)
    assert r.returncode == ExitCode.WRITE_FAILED, r.stderr
    assert out.stat().st_size == limit
    with out.open("ab") as stdout:
        again = subprocess.run(
            [*MINT, "chat", "--resume"], env=env, stdout=stdout, stderr=subprocess.PIPE,
            timeout=60,
        )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == earlier + expected
