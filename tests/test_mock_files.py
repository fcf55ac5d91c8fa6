"""Files a user hands to ``mint mock``: a ``--script`` and a ``--replay`` recording.

Every field is checked when the file is loaded: a bad one is one error line
naming the file, the rule or line, and the key (script exit 2, recording exit 3),
never a traceback on the mock's stderr at the first request."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, finish, read_until, run_mint

BAD_RULES = [
    ('[{"text":"hi","usage":{"output_tokens":"x"}}]', "usage.output_tokens must be a whole number"),
    ('{"match":{"model":5}}', "match.model must be a string"),
    ('{"match":{"protocol":"gemini"}}', 'match.protocol must be "openai" or "anthropic"'),
    ('{"match":{"modle":"x"}}', "match: unknown key 'modle'"),
    ('{"text":"ab","repeat":100000000000}', "repeat must be a whole number from 0 to 2147483647"),
    ('{"text":"abcd","repeat":10000000}', "text x repeat is 40000000 characters"),
    ('{"repeat":9000000,"steps":[{"text":"ab"}]}', "text x repeat is 18000000 characters"),
    ('{"delay":1e308}', "delay must be a number of seconds from 0 to 3600"),
    ('{"first_byte_delay":-1}', "first_byte_delay must be a number of seconds from 0 to 3600"),
    ('{"piece_chars":0}', "piece_chars must be a whole number from 1"),
    ('{"steps":5}', "steps must be a list of rule objects"),
    ('{"steps":[{"steps":[]}]}', "step 0: a step cannot have steps of its own"),
    ('{"ids":"yes"}', "ids must be a boolean"),
    ('{"tool_calls":[{"name":"f","id":7}]}', "tool_calls[0]: id must be a string"),
    ('{"fault":{"status":429,"retry_after":"inf"}}', "retry_after needs a number"),
]


@pytest.mark.parametrize(("script", "says"), BAD_RULES)
def test_a_bad_script_field_is_one_line_naming_rule_and_key(
    script: str, says: str, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "rules.json"
    path.write_text(script)
    r = run_mint(["mock", "--script", str(path), "--port", "0"], env)
    assert r.returncode == 2 and r.stdout == b"", r.stderr
    err = r.stderr.decode()
    assert err.startswith(f"mint: error: script {path}: rule 0: ") and err.count("\n") == 1, err
    assert says in err


def _recording(path: Path, *, status_line: dict[str, Any], chunk_t: float = 0.001) -> None:
    body = 'data: {"choices":[{"index":0,"delta":{"content":"replayed"}}]}\n\ndata: [DONE]\n\n'
    lines = [
        {"mint_recording": 1, "mint": "0", "created": 0},
        {"attempt": 1, "request": {"method": "POST", "url": "x", "headers": {}, "body": None}},
        {"attempt": 1, "t": 0.0, **status_line},
        {"attempt": 1, "t": chunk_t, "data": body},
        {"attempt": 1, "t": 0.002, "end": "complete"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))


SSE = {"status": 200, "headers": [["content-type", "text/event-stream"]]}
BAD_RECORDINGS = [
    ({"status": 200, "headers": [["x-a", "1\r\nx-injected: 1"]]}, 1e-3, "line 3: header x-a"),
    ({"status": 200, "headers": [["bad name", "1"]]}, 1e-3, "line 3: header name 'bad name'"),
    ({"status": "200", "headers": []}, 1e-3, "line 3: status must be a whole number"),
    ({"status": 200, "headers": {"a": "b"}}, 1e-3, "line 3: headers must be a list"),
    (SSE, 1e308, "line 4: t must be a number of seconds from 0 to 86400"),
]


@pytest.mark.parametrize(("status_line", "t", "says"), BAD_RECORDINGS)
def test_a_bad_recording_field_is_one_line_naming_the_line(
    status_line: dict[str, Any], t: float, says: str, env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "rec.jsonl"
    _recording(path, status_line=status_line, chunk_t=t)
    r = run_mint(["mock", "--replay", str(path), "--pace", "--port", "0"], env)
    assert r.returncode == 3 and r.stdout == b"", r.stderr
    err = r.stderr.decode()
    assert err.startswith(f"mint: error: --replay {path}: ") and err.count("\n") == 1, err
    assert says in err


def test_a_recorded_header_beyond_latin1_is_replayed_as_utf8(
    env: dict[str, str], tmp_path: Path, spawn: Any
) -> None:
    # A gateway may send UTF-8 in a header value (httpx reads it as such): the
    # replay sends those bytes back instead of failing on every request.
    path = tmp_path / "rec.jsonl"
    headers = [["content-type", "text/event-stream"], ["x-a", "日本"]]
    _recording(path, status_line={"status": 200, "headers": headers})
    proc = spawn([*MINT, "mock", "--replay", str(path), "--port", "0"], env)
    line = read_until(proc.stdout.fileno(), lambda got: b"\n" in got, timeout=20, what="URL")
    url = line.decode().split("\n", 1)[0]
    r = run_mint(["chat", "-v", "hi"], {**env, "MINT_BASE_URL": url})
    os.kill(proc.pid, signal.SIGTERM)
    _, mock_err = finish(proc, timeout=10)
    assert r.returncode == 0 and r.stdout == b"replayed\n", r.stderr
    assert b"Traceback" not in mock_err and b"Error" not in mock_err, mock_err
