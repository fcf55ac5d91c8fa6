"""Hostile servers and bad input: the key never shows, foreign control characters
never reach the terminal, memory stays bounded, and bad input is a clear error
with its exit code, never "internal error"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, PEAK, SECRET, jsonl, mock_env, peak_of, run_mint
from sse_server import Canned, SSEServer

OPENAI_START = (
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":"before "}}]}\n\n'
)
ANTHROPIC_START = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"x"}}\n\n'
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"before "}}\n\n'
)


def served(server: SSEServer, env: dict[str, str], *canned: Canned) -> dict[str, str]:
    server.queue(*canned)
    return {**env, "MINT_BASE_URL": server.base_url}


def clean_error(r: subprocess.CompletedProcess[bytes], code: int) -> str:
    err = r.stderr.decode()
    assert r.returncode == code, err
    assert "internal error" not in err and "Traceback" not in err
    assert err.count("mint: error:") == 1
    return err


# -- the API key never appears -------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "what"),
    [
        (SECRET + "\r", "carriage return"),
        (SECRET + "\n", "line feed"),
        (SECRET[:5] + "\0" + SECRET[5:], "NUL"),
        (SECRET + "\x1b", "control character (0x1b)"),
        (SECRET + "é", "non-ASCII character"),
    ],
)
def test_a_bad_key_is_exit_3_naming_its_source_never_the_key(
    env: dict[str, str], tmp_path: Path, key: str, what: str
) -> None:
    shown = SECRET[3:12]  # any part of the key would be a leak
    if "\0" not in key:  # the environment cannot hold a NUL
        r = run_mint(["chat", "--no-journal", "hi"], {**env, "MINT_API_KEY": key})
        err = clean_error(r, 3)
        assert "MINT_API_KEY" in err and what in err and shown not in err
        r = run_mint(["chat", "--api-key", key, "hi"], env)
        err = clean_error(r, 3)
        assert "--api-key" in err and what in err and shown not in err
    config = Path(env["XDG_CONFIG_HOME"]) / "mint" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[profiles.p]\napi_key = {json.dumps(key)}\n")
    r = run_mint(["chat", "hi"], {k: v for k, v in env.items() if k != "MINT_API_KEY"})
    err = clean_error(r, 3)
    assert f"{config} [profiles.p]" in err and what in err and shown not in err


def test_a_server_that_echoes_the_key_gets_it_redacted(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    echo = json.dumps({"error": {"message": f"Invalid key {SECRET} provided"}}).encode()
    e = served(sse_server, env, Canned(status=401, body=[echo], headers={"X-Seen": SECRET}))
    for fmt in ("text", "json", "jsonl"):
        r = run_mint(["chat", "-v", "-f", fmt, "hi"], e)
        assert r.returncode == 4
        assert SECRET.encode() not in r.stdout + r.stderr
        assert b"Invalid key [redacted] provided" in r.stderr
        if fmt == "json":
            assert "Invalid key [redacted] provided" in json.loads(r.stdout)["error"]["message"]
    in_stream = b'data: {"error":{"message":"bad key %s","type":"invalid_request_error"}}\n\n'
    e = served(sse_server, env, Canned(body=[OPENAI_START, in_stream % SECRET.encode()]))
    r = run_mint(["chat", "hi"], e)
    assert r.returncode == 4 and SECRET.encode() not in r.stdout + r.stderr


# -- hostile bytes never reach the terminal ----------------------------------------------

HOSTILE = "\x1b]52;c;aGVsbG8=\x07\x1b[2J\rFAKE: all good\x9b31m\u202e"


def test_server_text_on_stderr_shows_control_characters_escaped(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    body = json.dumps({"error": {"message": HOSTILE}}).encode()
    e = {**served(sse_server, env, Canned(status=500, body=[body])), "MINT_RETRY_BASE": "0.01"}
    err = clean_error(run_mint(["chat", "hi"], e), 5)  # the retries' warnings quote it too
    for raw in ("\x1b", "\x07", "\r", "\x9b", "\u202e"):
        assert raw not in err
    assert "\\x1b]52;c;aGVsbG8=\\x07\\x1b[2J\\x0dFAKE" in err and "\\u202e" in err
    # reasoning shown on stderr: escaped too, newlines kept
    chunk = {"choices": [{"index": 0, "delta": {"reasoning_content": "think\n" + HOSTILE}}]}
    done = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    body = b"data: " + json.dumps(chunk).encode() + b"\n\n" + done
    r = run_mint(["chat", "--reasoning", "hi"], served(sse_server, env, Canned(body=[body])))
    assert r.returncode == 0
    assert "think\n\\x1b]52" in r.stderr.decode() and "\x1b]52" not in r.stderr.decode()


def test_model_text_is_escaped_on_a_terminal_and_exact_in_a_pipe(
    sse_server: SSEServer, env: dict[str, str], spawn_pty: Any
) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "ok " + HOSTILE + "\n\tend"}}]}
    done = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    body = [b"data: " + json.dumps(chunk).encode() + b"\n\n" + done]
    e = {**served(sse_server, env, Canned(body=body)), "NO_COLOR": "1"}
    r = run_mint(["chat", "hi"], e)
    assert r.returncode == 0 and r.stdout.decode() == "ok " + HOSTILE + "\n\tend\n"  # a pipe: exact
    child = spawn_pty([*MINT, "chat", "--no-stdin", "hi"], e)
    seen = child.read_until(None, timeout=20, what="the reply on the terminal")
    assert child.wait() == 0
    assert b"\x1b]52" not in seen and b"\x9b" not in seen.replace(b"\\x9b", b"")
    assert b"ok \\x1b]52;c;aGVsbG8=\\x07\\x1b[2J\\x0dFAKE" in seen
    child = spawn_pty([*MINT, "chat", "--no-stdin", "--no-escape", "hi"], e)
    seen = child.read_until(None, timeout=20, what="the raw reply")
    assert child.wait() == 0 and b"\x1b]52;c;aGVsbG8=\x07" in seen


# -- memory stays bounded ------------------------------------------------------------------


def test_an_endless_line_is_cut_at_the_limit(sse_server: SSEServer, env: dict[str, str]) -> None:
    piece = b"x" * (1 << 20)
    body = [b"data: " + piece] + [piece] * 60  # 61 MiB with no line end
    e = served(sse_server, env, Canned(body=body))
    r = subprocess.run(
        [sys.executable, "-c", PEAK, *MINT, "chat", "--no-journal", "hi"],
        env=e, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    err, peak = peak_of(r.stderr)
    assert r.returncode == 8
    assert "16 MiB" in err and "internal error" not in err
    # Peak memory: well under the 61 MiB sent (16 MiB held, plus Python and httpx).
    assert peak < 90 * 1024, peak


def test_a_huge_json_or_error_body_is_bounded(sse_server: SSEServer, env: dict[str, str]) -> None:
    big = b'{"x": "' + b"y" * (17 << 20) + b'"}'
    json_type = {"Content-Type": "application/json"}
    r = run_mint(["chat", "hi"], served(sse_server, env, Canned(body=[big], headers=json_type)))
    assert "16 MiB" in clean_error(r, 8)
    r = run_mint(
        ["chat", "--max-retries", "0", "hi"],
        served(sse_server, env, Canned(status=500, body=[big])),
    )
    clean_error(r, 5)


# -- events of the wrong shape --------------------------------------------------------------

BAD_OPENAI = [
    b'{"choices":[{"index":0,"delta":5}]}',
    b'{"choices":[{"index":0,"delta":{}}],"usage":{"prompt_tokens":"1","completion_tokens":"2"}}',
    b'{"choices":"x"}',
    b'{"choices":[null]}',
    b'{"choices":[{"index":0,"delta":{"content":{}}}]}',
]
BAD_ANTHROPIC = [
    b'{"type":"message_start","message":"x"}',
    b'{"type":"content_block_delta","index":0,"delta":"x"}',
    b'{"type":"message_delta","delta":{"stop_reason":5}}',
]


@pytest.mark.parametrize(
    ("protocol", "start", "bad"),
    [("openai", OPENAI_START, b) for b in BAD_OPENAI]
    + [("anthropic", ANTHROPIC_START, b) for b in BAD_ANTHROPIC],
)
def test_a_wrong_shaped_event_is_exit_8_after_the_text_before_it(
    sse_server: SSEServer, env: dict[str, str], protocol: str, start: bytes, bad: bytes
) -> None:
    e = served(sse_server, env, Canned(body=[start, b"data: " + bad + b"\n\n"]))
    r = run_mint(["chat", "--protocol", protocol, "--max-retries", "0", "hi"], e)
    assert "malformed" in clean_error(r, 8)
    assert r.stdout == b"before "


# -- configuration, numbers, argv, base URL, -o ------------------------------------------------


def _config(env: dict[str, str], text: str | bytes) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "mint" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('profiles = "abc"', "profiles must be a table"),
        ("[profiles]\nb = 5\n", "[profiles.b]: a profile must be a table"),
        (b'model = "\xff"\n', "not UTF-8"),
        ("[profiles.unused]\nmodle = 1\n", "[profiles.unused]: unknown setting 'modle'"),
        ("[profiles.unused]\nidle_timeout = 0\n", "idle_timeout must be a finite number above 0"),
        ("max_tokens = 0\n", "max_tokens must be an integer of at least 1"),
        ("retry_max = -1\n", "retry_max must be a finite number at least 0"),
        ("timeout = nan\n", "timeout must be a finite number above 0"),
        ("connect_timeout = inf\n", "connect_timeout must be a finite number above 0"),
        ('base_url = "ftp://x"\n', "ftp://"),
    ],
)
def test_a_bad_config_file_is_exit_3_naming_the_file_and_the_key(
    env: dict[str, str], text: str | bytes, expected: str
) -> None:
    path = _config(env, text)
    err = clean_error(run_mint(["chat", "hi"], env), 3)
    assert str(path) in err and expected in err


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--idle-timeout", "nan"),
        ("--idle-timeout", "0"),
        ("--timeout", "inf"),
        ("--connect-timeout", "1e309"),
        ("--retry-max", "-1"),
        ("--retry-base", "nan"),
        ("--max-retries", "-1"),
        ("--max-tokens", "0"),
        ("--temperature", "-0.5"),
    ],
)
def test_numbers_are_checked_alike_from_flags_and_the_environment(
    env: dict[str, str], flag: str, value: str
) -> None:
    err = clean_error(run_mint(["chat", flag, value, "hi"], env), 2)
    assert flag in err and repr(value) in err
    variable = "MINT_" + flag[2:].upper().replace("-", "_")
    err = clean_error(run_mint(["chat", "hi"], {**env, variable: value}), 3)
    assert variable in err


def test_argv_that_is_not_utf8_is_a_usage_error(env: dict[str, str]) -> None:
    for args in ([b"\xff hi"], [b"-m", b"\xff"], [b"-o", b"\xff=1", b"hi"]):
        r = subprocess.run(
            [*(a.encode() for a in MINT), b"chat", *args],
            env=env, capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert "not valid UTF-8" in clean_error(r, 2)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[::1", "not a valid URL"),
        ("http://x\x1b[2J/v1", "control characters"),
        ("ftp://x", "ftp://"),
        ("not a url", "not a URL"),
        ("http:///v1", "no host"),
    ],
)
def test_a_bad_base_url_is_exit_2_from_a_flag_and_3_from_the_environment(
    env: dict[str, str], url: str, expected: str
) -> None:
    err = clean_error(run_mint(["chat", "--base-url", url, "hi"], env), 2)
    assert "--base-url" in err and expected in err and "\x1b" not in err
    err = clean_error(run_mint(["chat", "hi"], {**env, "MINT_BASE_URL": url}), 3)
    assert "MINT_BASE_URL" in err


def test_a_query_string_in_the_base_url_stays_after_the_path(
    make_mock: Any, env: dict[str, str]
) -> None:
    server = make_mock()
    r = run_mint(["chat", "hi"], {**env, "MINT_BASE_URL": server.base_url + "?tenant=7"})
    assert r.returncode == 0, r.stderr
    assert server.requests[-1]["path"] == "/v1/chat/completions?tenant=7"


@pytest.mark.parametrize(
    ("protocol", "option", "flag"),
    [
        ("openai", "stream=false", "always streams"),
        ("openai", "model=x", "-m/--model"),
        ("openai", "messages=[]", "--messages"),
        ("openai", "tools=[]", "--tool"),
        ("anthropic", "system=hi", "-s/--system"),
    ],
)
def test_o_cannot_replace_what_mint_writes(
    env: dict[str, str], protocol: str, option: str, flag: str
) -> None:
    err = clean_error(run_mint(["chat", "--protocol", protocol, "-o", option, "hi"], env), 2)
    assert flag in err


# -- journals and -v ---------------------------------------------------------------------------


def _journals(env: dict[str, str]) -> Path:
    return Path(env["XDG_STATE_HOME"]) / "mint" / "journals"


def test_a_run_that_fails_before_anything_arrived_leaves_no_journal(
    make_mock: Any, env: dict[str, str]
) -> None:
    server = make_mock(fault="status=500")
    r = run_mint(["chat", "--max-retries", "0", "hi"], mock_env(env, server))
    clean_error(r, 5)
    assert not list(_journals(env).glob("*.jsonl"))


def test_journals_refuse_symlinks(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    _journals(env).parent.mkdir(parents=True)
    _journals(env).symlink_to(elsewhere)
    server = make_mock()
    err = clean_error(run_mint(["chat", "hi"], mock_env(env, server)), 3)
    assert "symbolic link" in err
    assert (elsewhere.stat().st_mode & 0o777) == 0o755  # its target's mode was not changed
    # a journal file replaced by a symlink is not appended through
    _journals(env).unlink()
    broken = make_mock(fault="drop=2")
    r = run_mint(["chat", "--max-retries", "0", "写一首诗"], mock_env(env, broken))
    assert r.returncode == 7
    (journal,) = _journals(env).glob("*.jsonl")
    target = tmp_path / "target.jsonl"
    target.write_bytes(journal.read_bytes())
    journal.unlink()
    journal.symlink_to(target)
    before = target.read_bytes()
    r = run_mint(["chat", "--resume"], mock_env(env, server))
    assert r.returncode in (2, 3) and "internal error" not in r.stderr.decode()
    assert target.read_bytes() == before


def test_v_shows_the_headers_actually_sent(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    r = run_mint(["chat", "-v", "hi"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode().lower()
    assert "> accept: text/event-stream" in err and "> accept-encoding: identity" in err
    assert "> authorization: [redacted]" in err and "*/*" not in err
    sent = server.requests[-1]["headers"]
    assert sent["accept"] == "text/event-stream" and sent["accept-encoding"] == "identity"


def test_jsonl_error_and_journal_carry_no_key(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault=f"error=2,message=bad key {SECRET},error_type=overloaded_error")
    r = run_mint(["chat", "-f", "jsonl", "--max-retries", "0", "写一首诗"], mock_env(env, server))
    assert r.returncode == 5
    assert SECRET not in r.stdout.decode() + r.stderr.decode()
    assert "[redacted]" in jsonl(r.stdout)[-1]["message"]
    for journal in _journals(env).glob("*.jsonl"):
        assert SECRET not in journal.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_state_directory_of_another_user_is_refused(make_mock: Any, env: dict[str, str]) -> None:
    mine = Path(env["XDG_STATE_HOME"]) / "mint"
    mine.mkdir(parents=True, mode=0o755)
    os.chown(mine, 65534, 65534)
    err = clean_error(run_mint(["chat", "hi"], mock_env(env, make_mock())), 3)
    assert "belongs to another user" in err
    assert (mine.stat().st_mode & 0o777) == 0o755


@pytest.mark.parametrize(
    "part",
    [
        {"type": "text"},
        "just text",
        {"type": "image_url"},
        {"type": "image_url", "image_url": {}},
        {},
    ],
)
def test_malformed_message_parts_are_usage_errors(
    env: dict[str, str], tmp_path: Path, part: object
) -> None:
    messages = tmp_path / "m.json"
    messages.write_text(json.dumps([{"role": "user", "content": [part]}]))
    for protocol in ("openai", "anthropic"):
        r = run_mint(["chat", "--protocol", protocol, "--messages", str(messages)], env)
        assert "content part" in clean_error(r, 2) or "needs" in r.stderr.decode()


def test_a_nul_byte_in_a_path_from_a_file_is_a_clear_error(
    env: dict[str, str], tmp_path: Path
) -> None:
    messages = tmp_path / "m.json"
    part = {"type": "attachment", "attachment": {"path": "/tmp/a.png\u0000x", "sha256": "0" * 64}}
    messages.write_text(json.dumps([{"role": "user", "content": [part]}]))
    r = run_mint(["chat", "--mock", "--messages", str(messages)], env)
    assert "no file has a NUL byte in its name" in clean_error(r, 2)
    config = tmp_path / "config.toml"
    for line in ('ca_cert = "/tmp/a\\u0000b"', 'mcp = ["a\\u0000b"]'):
        config.write_text(f'base_url = "https://127.0.0.1:9/v1"\n{line}\n')
        r = run_mint(["chat", "--no-log", "hi"], {**env, "MINT_CONFIG": str(config)})
        assert r.returncode in (2, 3), r.stderr
        clean_error(r, r.returncode)


def test_small_mistakes_get_one_clear_line(
    sse_server: SSEServer, env: dict[str, str], tmp_path: Path
) -> None:
    cases: list[tuple[list[str], dict[str, str], int, str]] = [
        (["chat", "--mock", "-m", "", "hi"], {}, 2, "--model: model must not be empty"),
        (["chat", "--mock", "hi"], {"MINT_MODEL": " "}, 3, "MINT_MODEL: model must not be empty"),
        (["chat", "--mock", "-a", "", "hi"], {}, 2, "-a: the path is empty"),
        (["chat", "--mock", "hi"], {"MINT_CONFIG": str(tmp_path / "nope.toml")}, 3,
         "MINT_CONFIG names"),
        (["completion"], {}, 2, "Choose from: bash, zsh, fish"),
    ]  # fmt: skip
    for args, extra, code, message in cases:
        err = clean_error(run_mint(args, {**env, **extra}), code)
        assert message in err and "\\x0a" not in err, (args, err)
    listing = {"data": [{"id": "a\nb"}, {"id": "ok"}, {"id": "x\u202ey"}, {"id": " "}]}
    canned = Canned(body=[json.dumps(listing).encode()], headers={"Content-Type": "application/json"})
    r = run_mint(["models"], served(sse_server, env, canned))
    assert r.returncode == 0 and r.stdout == b"ok\n", r.stdout


def test_a_reply_in_huge_events_is_held_with_flat_memory(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    """The reply's text goes to its spool file by characters held, not only every
    1024 events: 96 events of 1 MiB used to be held whole (96 MiB more)."""
    text = "y" * ((1 << 20) - 1) + " "
    event = b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": text}}]}).encode()
    stop = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    e = served(sse_server, env, Canned(body=[event + b"\n\n"] * 96 + [stop]))
    r = subprocess.run(
        [sys.executable, "-c", PEAK, *MINT, "chat", "--no-log", "--no-journal", "--render",
         "never", "hi"],
        env=e, stdin=subprocess.DEVNULL, capture_output=True,
    )  # fmt: skip
    err, peak = peak_of(r.stderr)
    assert r.returncode == 0 and err == "", err
    assert len(r.stdout) == (96 << 20) + 1 and r.stdout.count(b" ") == 96  # and a newline
    assert peak < 60 * 1024, peak  # 35 MiB here (held whole: 133 MiB)
