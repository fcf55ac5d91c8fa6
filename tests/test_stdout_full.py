"""stdout itself fills up part of the way through a piece: the journal keeps the
bytes that did not get out, and ``--resume`` prints exactly those first, so the
file ends byte-identical to an uninterrupted run's output.

The file is made to fill up with RLIMIT_FSIZE (no mount needed): it starts
close to the limit, so a write that crosses it goes out part of the way and
the next one fails with EFBIG, as on a disk that has just filled. The journal,
a small file, stays far below the limit."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, mock_env, never_internal
from sse_server import Canned, SSEServer

from mintcli.errors import ExitCode

LIMIT = 1 << 20
TEXT = "".join(f"第{i}行,床前明月光 line {i}\n" for i in range(120))


def limited(size: int) -> Callable[[], None]:
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit: EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return preexec


def mint(
    args: list[str], env: dict[str, str], out: Path, **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    with out.open("ab") as stdout:
        r = subprocess.run(
            [*MINT, *args], env=env, stdout=stdout, stderr=subprocess.PIPE, timeout=30, **kw
        )
    never_internal(r.stderr)
    return r


def journal_records(env: dict[str, str]) -> list[dict[str, Any]]:
    [path] = (Path(env["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl")
    return [json.loads(line) for line in path.read_bytes().split(b"\n")[1:] if line]


@pytest.fixture
def served(env: dict[str, str], make_mock: Any, tmp_path: Path) -> dict[str, str]:
    """The environment of a mint that a mock gateway answers with TEXT, in pieces of 7."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"text": TEXT}]))
    return mock_env(env, make_mock(script=script, piece_chars=7))


def filled(args: list[str], env: dict[str, str], out: Path, room: int = 1001) -> bytes:
    """Run mint into ``out``, which has ``room`` bytes left before the limit (1001:
    inside a piece, and inside a character, the text being mostly 3-byte CJK) and
    fills up part of the way through the reply; what the file held before."""
    earlier = b"earlier output\n".ljust(LIMIT - room, b".")
    out.write_bytes(earlier)
    r = mint(args, env, out, preexec_fn=limited(LIMIT))
    assert r.returncode == ExitCode.WRITE_FAILED, r.stderr
    assert b"cannot write to stdout: File too large" in r.stderr and b"--resume" in r.stderr
    assert out.stat().st_size == LIMIT  # the last write got part of the way
    return earlier


def test_resume_after_stdout_filled_mid_piece_prints_exactly_the_missing_bytes(
    served: dict[str, str], tmp_path: Path
) -> None:
    args = ["chat", "--no-log", "go"]
    whole = tmp_path / "uninterrupted"
    assert mint(args, served, whole).returncode == 0
    assert whole.read_bytes() == TEXT.encode()  # it ends with a line end already

    out = tmp_path / "out"
    earlier = filled(args, served, out)
    # the journal knows what that write left out
    [missed] = [rec["o"] for rec in journal_records(served) if rec.get("o")]
    assert whole.read_bytes()[1001:].startswith(missed.encode("latin-1"))

    again = mint(["chat", "--resume"], served, out)  # room again: appended to the same file
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == earlier + whole.read_bytes()


@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_the_missing_bytes_wait_while_stdout_is_still_full(
    served: dict[str, str], tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "out"
    earlier = filled(["chat", "--no-log", "--format", fmt, "go"], served, out)
    # a --resume while the file is still full prints nothing and owes the same bytes
    still = mint(["chat", "--resume"], served, out, preexec_fn=limited(LIMIT))
    assert still.returncode == ExitCode.WRITE_FAILED, still.stderr
    assert out.stat().st_size == LIMIT
    assert mint(["chat", "--resume"], served, out).returncode == 0
    written = out.read_bytes()[len(earlier) :]
    if fmt == "text":
        assert written == TEXT.encode()
    else:  # every line whole, the text once
        events = [json.loads(line) for line in written.splitlines()]
        assert "".join(e["text"] for e in events if e["type"] == "text") == TEXT


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_write_cut_at_the_end_of_a_finished_reply_is_completed_as_it_was(
    env: dict[str, str], sse_server: SSEServer, tmp_path: Path, fmt: str
) -> None:
    # One read brings the whole reply and its end: the journal knows the reply
    # finished, but the last bytes of its output (and, in text, the line end mint
    # adds after a reply) never reached the file.
    text = TEXT + "the end"
    piece = {"choices": [{"index": 0, "delta": {"content": text}}]}
    end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    stream = b"".join(b"data: %s\n\n" % json.dumps(e).encode() for e in (piece, end))
    sse_server.queue(Canned(body=[stream + b"data: [DONE]\n\n"]))
    env = {**env, "MINT_BASE_URL": sse_server.base_url}
    args = ["chat", "--no-log", "--format", fmt, "go"]
    whole = tmp_path / "uninterrupted"
    assert mint(args, env, whole).returncode == 0
    expected = whole.read_bytes()
    assert expected.endswith(b"the end\n" if fmt == "text" else b"}\n")
    out = tmp_path / "out"
    earlier = filled(args, env, out, room=500)
    assert mint(["chat", "--resume"], env, out).returncode == 0
    assert out.read_bytes() == earlier + expected
