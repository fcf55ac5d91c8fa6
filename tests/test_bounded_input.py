"""Issue 24, classes 6 and 8: every read of a user-named file or stream has a
cap (stat says 0 bytes for /dev/zero and pipes), what a server sends is bounded
too, and numbers, messages and schemas a user can write are clean errors."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
from pathlib import Path

import pytest
from conftest import MINT, never_internal, run_mint
from sse_server import Canned, SSEServer
from test_hardening import clean_error, served
from test_hostile_streams import DONE, chunk

ZERO = "/dev/zero"


def test_device_files_named_by_the_user_are_read_with_a_cap(
    sse_server: SSEServer, env: dict[str, str], tmp_path: Path
) -> None:
    e = served(sse_server, env, Canned(body=[chunk({"content": "x"}, "stop") + DONE]))
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    history = tmp_path / "history.json"
    history.write_text(json.dumps([{"role": "assistant", "content": None, "tool_calls": [call]}]))
    attached = tmp_path / "attached.json"
    reference = {"path": ZERO, "media_type": "image/png", "size": 1, "sha256": "0" * 64}
    part = {"type": "attachment", "attachment": reference}
    attached.write_text(json.dumps([{"role": "user", "content": [part]}]))
    cases = [
        (["-a", ZERO, "hi"], "-a /dev/zero: over the limit"),
        (["--messages", ZERO, "hi"], "--messages /dev/zero: larger than 32 MiB"),
        (["--messages", str(attached), "hi"], "the attachment /dev/zero is over the limit"),
        (["--messages", str(history), "--tool-result", f"c1=@{ZERO}"], "larger than 32 MiB"),
        (["--schema", ZERO, "hi"], "--schema /dev/zero: larger than 32 MiB"),
        (["--tools", ZERO, "hi"], "--tools /dev/zero: larger than 32 MiB"),
    ]
    for args, expected in cases:
        err = clean_error(run_mint(["chat", "--no-journal", *args], e), 2)
        assert expected in err, (args, err)
    err = clean_error(run_mint(["chat", "hi"], {**e, "MINT_CONFIG": ZERO}), 3)
    assert "config /dev/zero is larger than 1 MiB" in err
    assert sse_server.requests == []  # nothing was sent
    # mint mock holds a recording in memory to serve it again and again
    err = clean_error(run_mint(["mock", "--replay", ZERO], e), 3)
    assert "--replay /dev/zero: larger than 256 MiB" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["chat", "--no-journal"], "stdin is larger than 32 MiB"),
        (["chat", "--no-journal", "--messages", "-", "hi"], "--messages stdin: larger than"),
        (["batch"], "input line 1 is larger than 32 MiB"),
    ],
)
def test_endless_stdin_is_read_with_a_cap(
    env: dict[str, str], args: list[str], expected: str
) -> None:
    with open(ZERO, "rb") as endless:
        r = subprocess.run([*MINT, *args], env=env, stdin=endless, capture_output=True, timeout=60)
    never_internal(r.stderr)
    assert expected in clean_error(r, 2)


def gzip_bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros, gzipped a MiB at a time: never held whole here (a
    big test process would raise the peak memory that later children inherit)."""
    out = io.BytesIO()
    zeros = bytes(1024 * 1024)
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1) as fh:
        for _ in range(mib):
            fh.write(zeros)
    return out.getvalue()


def test_compressed_replies_are_bounded_and_bad_ones_are_protocol_errors(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    gz = {"Content-Type": "text/event-stream", "Content-Encoding": "gzip"}
    good = gzip.compress(chunk({"content": "zipped"}, "stop") + DONE)
    e = served(sse_server, env, Canned(body=[good[:20], good[20:]], headers=gz))
    r = run_mint(["chat", "--no-journal", "hi"], e)
    assert r.returncode == 0 and r.stdout == b"zipped\n", r.stderr
    assert sse_server.requests[-1]["headers"]["Accept-Encoding"] == "identity"
    # 200 MiB of zeros in about 200 KiB: one endless line, stopped at the SSE limit.
    bomb = gzip_bomb(200)
    e = served(sse_server, env, Canned(body=[bomb], headers=gz))
    r = run_mint(["chat", "--no-journal", "hi"], e)
    assert "longer than 16 MiB" in clean_error(r, 8)
    json_gz = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    e = served(sse_server, env, Canned(body=[bomb], headers=json_gz))
    assert "larger than 16 MiB" in clean_error(run_mint(["chat", "--no-journal", "hi"], e), 8)
    e = served(sse_server, env, Canned(status=401, body=[b"x"], headers={"Content-Encoding": "br"}))
    assert "HTTP 401" in clean_error(run_mint(["chat", "--no-journal", "hi"], e), 4)
    for coding, body in (("gzip", b"not gzip at all"), ("br", b"x"), ("deflate", b"\x00\x01")):
        headers = {"Content-Type": "text/event-stream", "Content-Encoding": coding}
        e = served(sse_server, env, Canned(body=[body], headers=headers))
        err = clean_error(run_mint(["chat", "--no-journal", "--max-retries", "0", "hi"], e), 8)
        assert coding in err


def test_endless_data_lines_and_endless_event_names_are_bounded(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    lines = b"data:\n" * 200_000
    e = served(
        sse_server, env, Canned(body=[lines[i : i + 65536] for i in range(0, len(lines), 65536)])
    )
    err = clean_error(run_mint(["chat", "--no-journal", "hi"], e), 8)
    assert "more than 100,000 data lines" in err
    names = b"".join(b"event: e%d\ndata: {}\n\n" % i for i in range(100_000))
    body = names + chunk({"content": "Hi"}, "stop") + DONE
    e = served(
        sse_server, env, Canned(body=[body[i : i + 65536] for i in range(0, len(body), 65536)])
    )
    r = run_mint(["chat", "--no-journal", "hi"], e)
    assert r.returncode == 0 and r.stdout == b"Hi\n", r.stderr


def test_tool_call_arguments_have_a_total_cap(sse_server: SSEServer, env: dict[str, str]) -> None:
    piece = "x" * 60_000
    one = chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    start = chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f"}}]})
    body = [start] + [one] * 300  # 18 MB of arguments in 60 kB events
    e = served(sse_server, env, Canned(body=body))
    err = clean_error(run_mint(["chat", "--no-journal", "hi"], e), 8)
    assert "tool-call arguments of this reply are longer than" in err


# -- class 8: numbers, messages and schemas a user writes --------------------------------


@pytest.mark.parametrize(
    "option",
    [
        "--timeout",
        "--connect-timeout",
        "--idle-timeout",
        "--stdin-timeout",
        "--retry-max",
        "--retry-base",
    ],
)
def test_numbers_past_the_clock_are_usage_errors(env: dict[str, str], option: str) -> None:
    err = clean_error(run_mint(["chat", option, "1e308", "hi"], env), 2)
    assert "at most 1e+09" in err
    name = "MINT_" + option[2:].upper().replace("-", "_")
    assert "at most" in clean_error(run_mint(["chat", "hi"], {**env, name: "1e308"}), 3)


def test_integers_past_64_bits_are_usage_errors(env: dict[str, str]) -> None:
    for value in (str(2**64), str(2**63), "9" * 40):
        err = clean_error(run_mint(["chat", "--max-tokens", value, "hi"], env), 2)
        assert "must be an integer from 1 to 2147483647" in err


def test_messages_with_a_tool_calls_that_is_not_a_list(env: dict[str, str], tmp_path: Path) -> None:
    for value in (5, "abc", {"id": 1}, True):
        path = tmp_path / "m.json"
        path.write_text(json.dumps([{"role": "assistant", "content": "x", "tool_calls": value}]))
        err = clean_error(run_mint(["chat", "--messages", str(path), "hi"], env), 2)
        assert "tool_calls must be a list" in err


def test_a_schema_that_loops_or_points_away_is_refused_before_sending(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    e = served(sse_server, env, Canned(body=[chunk({"content": '{"a": 1}'}, "stop") + DONE]))
    for schema, expected in (
        ({"type": "object", "$ref": "#"}, "refers to itself without end"),
        ({"type": "object", "$ref": "https://example.com/s.json"}, "never fetches a schema"),
        ({"type": "object", "properties": {"a": {"$ref": "file:///etc/passwd"}}}, "never fetches"),
    ):
        err = clean_error(run_mint(["chat", "--schema", json.dumps(schema), "hi"], e), 2)
        assert expected in err
    assert sse_server.requests == []
    # A loop only a reply reaches: found when checking it (exit 10), no crash.
    loop = {"type": "object", "properties": {"a": {"$ref": "#/properties/a"}}}
    err = clean_error(run_mint(["chat", "--no-journal", "--schema", json.dumps(loop), "hi"], e), 10)
    assert "refers to itself without end" in err
