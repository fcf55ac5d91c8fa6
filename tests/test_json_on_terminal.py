"""JSON output on a terminal: the control characters a reply holds (C1 such as
U+009B, DEL, bidi overrides) are shown as JSON escapes (\\u009b), so what the
terminal shows is still valid JSON with the same strings; a pipe gets the
exact bytes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, mock_env, run_mint

TEXT = "a\u009b31mb\u202ec\x7fd"


def _json_lines(screen: bytes) -> list[Any]:
    """The JSON values on the screen (a pty ends lines with CR LF; a status line
    on the same terminal may come before one)."""
    found = []
    for line in screen.decode().split("\r\n"):
        if "{" in line:
            found.append(json.loads(line[line.index("{") : line.rindex("}") + 1]))
    return found


@pytest.fixture
def server(make_mock: Any, tmp_path: Path) -> Any:
    script = tmp_path / "rules.json"
    script.write_text(json.dumps([{"text": TEXT}]))
    return make_mock(script=script)


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_chat_json_on_a_terminal_stays_valid_json(
    fmt: str, server: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    child = spawn_pty([*MINT, "chat", "--no-log", "-f", fmt, "hi"], mock_env(env, server))
    screen = child.read_until(None, timeout=20, what="the reply")
    assert child.wait() == 0, screen
    assert b"\\u009b" in screen and b"\\x9b" not in screen and b"\xc2\x9b" not in screen
    values = _json_lines(screen)
    if fmt == "json":
        assert values[0]["text"] == TEXT
    else:
        assert "".join(v["text"] for v in values if v["type"] == "text") == TEXT


def test_batch_lines_on_a_terminal_stay_valid_json(
    server: Any, env: dict[str, str], tmp_path: Path, spawn_pty: Any
) -> None:
    items = tmp_path / "items.jsonl"
    items.write_text('{"prompt": "hi"}\n')
    child = spawn_pty([*MINT, "batch", str(items)], mock_env(env, server))
    screen = child.read_until(None, timeout=20, what="the result line")
    assert child.wait() == 0, screen
    assert [v["text"] for v in _json_lines(screen) if "text" in v] == [TEXT]


def test_a_pipe_gets_the_exact_bytes(server: Any, env: dict[str, str]) -> None:
    r = run_mint(["chat", "--no-log", "-f", "json", "hi"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert TEXT.encode() in r.stdout
