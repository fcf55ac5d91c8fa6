"""README's tool loop, models, --stats, --verbose, --dry-run, terminal manners."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, SECRET, jsonl, mock_env, readme_block, run_mint
from sse_server import Canned, SSEServer
from test_hardening import served

from mintcli.mock.script import POEM


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_readme_tool_loop_runs_against_mock(
    make_mock: Any, env: dict[str, str], tmp_path: Path, protocol: str
) -> None:
    server = make_mock()
    env = {**mock_env(env, server), "MINT_PROTOCOL": protocol}  # PATH finds this venv's mint
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("tool-loop")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode() == (
        'Tool result received: {"location": "北京", "sky": "晴", "celsius": 25}\n'
    )
    posts = [q["body"] for q in server.requests if q["method"] == "POST"]
    assert len(posts) == 2
    if protocol == "openai":
        assert posts[1]["messages"][-1]["role"] == "tool"
        assert posts[1]["tools"][0]["function"]["name"] == "get_weather"
    else:
        assert posts[1]["messages"][-1]["content"][0]["type"] == "tool_result"
        assert posts[1]["tools"][0]["input_schema"]["required"] == ["location"]


def test_readme_tool_call_example(env: dict[str, str], tmp_path: Path) -> None:
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("tool-call")],
        cwd=tmp_path, env=env, capture_output=True, timeout=30,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    # The mock gives each call a unique id (call_ + 24 hex digits, the same for the
    # same conversation): what the README shows after "prints" is what mint prints.
    line = b'{"id":"call_7929b86a736589164367751d","name":"get_weather","arguments":{"location":"\xe5\x8c\x97\xe4\xba\xac"}}'
    assert r.stdout == line + b"\n"
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_bytes()
    assert b"prints\n\n```\n" + line + b"\n```" in readme


def test_readme_record_replay_example(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    gateway = make_mock(fault="drop=2,times=1")  # the "real gateway" breaks once
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("record-replay")],
        cwd=tmp_path, env={**mock_env(env, gateway), "MINT_RETRY_BASE": "0.01"},
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == b"same\n"
    assert json.loads((tmp_path / "replayed.json").read_text())["attempts"] == 2


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_models(make_mock: Any, env: dict[str, str], protocol: str) -> None:
    server = make_mock()
    r = run_mint(["models", "--protocol", protocol], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines()[0] == "openai/gpt-4o"
    r = run_mint(["models", "--protocol", protocol, "--format", "json"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    models = json.loads(r.stdout)
    assert [m["id"] for m in models][:2] == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    key_header = "authorization" if protocol == "openai" else "x-api-key"
    assert server.requests[-1]["headers"][key_header] == "[redacted]"
    r = run_mint(["models", "--mock"], {k: v for k, v in env.items() if k != "MINT_API_KEY"})
    assert r.returncode == 0 and "mock/echo" in r.stdout.decode()


def test_the_models_cache_is_private_and_holds_only_names(
    sse_server: SSEServer, env: dict[str, str], tmp_path: Path
) -> None:
    listing = {"data": [{"id": "a/one"}, {"id": 5}, {"id": None}, {"x": 1}, {"id": "b two"}]}
    canned = Canned(body=[json.dumps(listing).encode()], headers={"Content-Type": "application/json"})
    cache = Path(env["XDG_CACHE_HOME"]) / "mint"
    cache.mkdir(parents=True, mode=0o700)
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (cache / "models").symlink_to(victim)  # planted: the cache must not write through it
    r = run_mint(["models"], served(sse_server, env, canned))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"a/one\nb two\n"
    assert victim.read_text() == "keep me\n"
    info = (cache / "models").lstat()
    assert stat.S_ISREG(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o600
    assert (cache / "models").read_text() == "a/one\nb two\n"
    assert sorted(p.name for p in cache.iterdir()) == ["models"]


def test_stats_in_every_format(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="drop=2,times=1")
    r = run_mint(["chat", "--stats", "--retry-base", "0.01", "写一首诗"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == POEM
    line = [x for x in r.stderr.decode().splitlines() if x.startswith("mint: stats:")]
    assert len(line) == 1 and "2 attempt(s)" in line[0] and "first token" in line[0]
    r = run_mint(["chat", "--stats", "--format", "jsonl", "写一首诗"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    stats = jsonl(r.stdout)[-1]
    assert stats["type"] == "stats"
    assert stats["pieces"] == len(range(0, len(POEM), 4))
    assert stats["output_tokens"] == stats["pieces"]
    assert 0 < stats["time_to_first_byte"] <= stats["time_to_first_token"] <= stats["total_time"]
    assert stats["tokens_per_second"] > 0 and stats["attempts"] == 1
    r = run_mint(["chat", "--stats", "--format", "json", "写一首诗"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert set(json.loads(r.stdout)["stats"]) >= {"time_to_first_byte", "pieces", "attempts"}


def test_verbose_shows_headers_without_the_key(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    r = run_mint(["chat", "-v", "--protocol", "anthropic", "写一首诗"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == POEM
    err = r.stderr.decode()
    assert f"> POST {server.base_url}/messages" in err
    assert "> x-api-key: [redacted]" in err and "> anthropic-version: 2023-06-01" in err
    assert "< HTTP/1.1 200 OK" in err and "< content-type: text/event-stream" in err.lower()
    assert SECRET not in err and SECRET not in r.stdout.decode()


def test_dry_run_sends_nothing(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    r = run_mint(
        ["chat", "--dry-run", "--protocol", "anthropic", "-s", "sys", "hi"], mock_env(env, server)
    )
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["url"] == server.base_url + "/messages"
    assert shown["headers"]["x-api-key"] == "[redacted]"
    assert shown["body"]["system"] == "sys" and shown["body"]["max_tokens"] == 4096
    assert server.requests == []


def test_profile_from_config_file(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    cfg = Path(env["XDG_CONFIG_HOME"]) / "mint" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        f'base_url = "{server.base_url}"\n[profiles.claude]\nprotocol = "anthropic"\n'
        'model = "anthropic/claude-sonnet-4-5"\nmax_tokens = 77\n'
    )
    env = {k: v for k, v in env.items() if k != "MINT_BASE_URL"}
    r = run_mint(["chat", "--profile", "claude", "hi"], env)
    assert r.returncode == 0, r.stderr
    body = server.requests[-1]["body"]
    assert server.requests[-1]["path"] == "/v1/messages"
    assert (body["model"], body["max_tokens"]) == ("anthropic/claude-sonnet-4-5", 77)
    assert r.stdout.decode().startswith("Mock reply")
    r = run_mint(
        ["chat", "--profile", "claude", "-m", "flag/model", "hi"],
        {**env, "MINT_MODEL": "env/model"},
    )
    assert r.returncode == 0, r.stderr
    assert server.requests[-1]["body"]["model"] == "flag/model"
    r = run_mint(["chat", "--profile", "claude", "hi"], {**env, "MINT_MODEL": "env/model"})
    assert r.returncode == 0, r.stderr
    assert server.requests[-1]["body"]["model"] == "env/model"
    cfg.write_text("[profiles.x\n")
    r = run_mint(["chat", "hi"], env)
    assert r.returncode == 3 and str(cfg) in r.stderr.decode()
    assert r.stdout == b""


def test_no_color_and_no_status_when_not_a_terminal(env: dict[str, str], refused_url: str) -> None:
    # An error and a retry warning are printed: plain, with no status line, since
    # stderr is a pipe (NO_COLOR is not set; TERM is not set, so not "dumb" either).
    r = run_mint(
        ["chat", "--max-retries", "1", "--retry-base", "0.01", "--retry-connrefused", "hi"],
        {**env, "MINT_BASE_URL": refused_url},
    )
    assert r.returncode == 7 and r.stdout == b""
    err = r.stderr.decode()
    assert err.startswith("mint: warning: ") and "\nmint: error: cannot connect" in err, err
    assert b"\x1b[" not in r.stderr and b"\r" not in r.stderr


def test_status_on_a_terminal_is_erased_before_text(
    make_mock: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    server = make_mock(first_byte_delay=0.3)
    child = spawn_pty(
        [*MINT, "chat", "--no-stdin", "写一首诗"], {**mock_env(env, server), "TERM": "xterm"}
    )
    seen = child.read_until(None, timeout=20, what="the end of mint's output")
    assert child.wait() == 0, seen
    text = seen.decode()
    assert "waiting for openai/gpt-4o" in text
    assert "\r\x1b[K" + "《静夜思》" in text  # erased, then the answer
    assert "\x1b[2m" in text  # dimmed: colour is on for a terminal without NO_COLOR
