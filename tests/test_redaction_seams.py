"""Issue 24, class 5: the key never shows, whatever the chunk and delta
boundaries, and no stored URL keeps a password."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from conftest import SECRET, run_mint
from sse_server import Canned, SSEServer
from test_hardening import clean_error, served
from test_hostile_streams import DONE, chunk

LEAKS = [SECRET[i : i + 6] for i in range(3, len(SECRET) - 6)]  # any part of it


def stored(path: Path) -> str:
    """A recording's text with its base64 chunks decoded."""
    out = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        out.append(line)
        if "b64" in record:
            out.append(base64.b64decode(record["b64"]).decode("utf-8", "replace"))
    return "\n".join(out)


def test_a_key_split_over_two_reads_never_lands_in_a_recording(
    sse_server: SSEServer, env: dict[str, str], tmp_path: Path
) -> None:
    whole = chunk({"content": f"echo {SECRET} é done"}, "stop") + DONE
    at = whole.index(SECRET.encode()) + 10
    utf8 = whole.index("é".encode()) + 1  # inside the two bytes of é
    cuts = {
        "in the key": [whole[:at], whole[at:]],
        "in the key and in a character": [whole[:at], whole[at:utf8], whole[utf8:]],
        "key whole, then a cut character": [whole[:utf8], whole[utf8:]],
        "a byte at a time": [whole[i : i + 1] for i in range(len(whole))],
    }
    for name, pieces in cuts.items():
        record = tmp_path / "rec.jsonl"
        e = served(sse_server, env, Canned(body=pieces, pause=0.02 if len(pieces) < 9 else 0))
        r = run_mint(["chat", "--no-journal", "--record", str(record), "hi"], e)
        assert r.returncode == 0, r.stderr
        assert r.stdout == f"echo {SECRET} é done\n".encode()  # stdout is data, untouched
        text = stored(record)
        assert not any(leak in text for leak in LEAKS), (name, text)
        assert "[redacted]" in text, name


def test_a_key_split_over_two_reasoning_deltas_never_shows_on_stderr(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    half = len(SECRET) // 2
    body = (
        chunk({"role": "assistant", "reasoning_content": f"the key is {SECRET[:half]}"})
        + chunk({"reasoning_content": SECRET[half:-1]})
        + chunk({"reasoning_content": f"{SECRET[-1]} ok"})
        + chunk({"content": "Hi"}, "stop")
        + DONE
    )
    for pieces in ([body], [body[:90], body[90:]]):
        e = served(sse_server, env, Canned(body=pieces, pause=0.02))
        r = run_mint(["chat", "--no-journal", "--reasoning", "hi"], e)
        assert r.returncode == 0 and r.stdout == b"Hi\n", r.stderr
        err = r.stderr.decode()
        assert not any(leak in err for leak in LEAKS), err
        assert "the key is [redacted] ok" in err


def test_a_password_in_the_base_url_is_never_stored_or_shown(
    sse_server: SSEServer, env: dict[str, str], tmp_path: Path
) -> None:
    password = "hunter2"  # shorter than a key: redacted because it is a password
    url = sse_server.base_url.replace("http://", f"http://alice:{password}@")
    broken = Canned(body=[chunk({"role": "assistant", "content": "Hel"})], abort=True)
    e = {**served(sse_server, env, broken), "MINT_BASE_URL": url}
    record = tmp_path / "rec.jsonl"
    r = run_mint(["chat", "-v", "--max-retries", "0", "--record", str(record), "hi"], e)
    assert r.returncode == 7, r.stderr
    assert password not in r.stderr.decode()
    assert "alice:***@127.0.0.1" in r.stderr.decode()
    assert password not in record.read_text()
    journals = list((Path(env["XDG_STATE_HOME"]) / "mint" / "journals").iterdir())
    assert len(journals) == 1
    assert password not in journals[0].read_text()
    journal_id = journals[0].name.split(".")[0]
    # --resume finds the password where it was configured, never in the journal ...
    sse_server.queue(Canned(body=[chunk({"content": "lo"}, "stop") + DONE]))
    r = run_mint(["chat", "--resume", journal_id], e)
    assert r.returncode == 0 and r.stdout == b"lo\n", r.stderr  # the rest of "Hello"
    auth = sse_server.requests[-1]["headers"]["Authorization"]
    assert base64.b64decode(auth.removeprefix("Basic ")) == f"alice:{password}".encode()
    # ... or asks for it, never sends "[redacted]" as one.
    sse_server.queue(broken)
    r = run_mint(["chat", "-v", "--max-retries", "0", "--record", str(record), "hi"], e)
    journals = list((Path(env["XDG_STATE_HOME"]) / "mint" / "journals").iterdir())
    journal_id = journals[0].name.split(".")[0]
    r = run_mint(["chat", "--resume", journal_id], {**e, "MINT_BASE_URL": sse_server.base_url})
    assert "whose password mint does not store" in clean_error(r, 2)


def test_a_key_cut_short_in_an_error_message_never_shows(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    text = {"Content-Type": "text/plain"}
    for before in (290, 295, 299):  # the 300-character cut falls inside the key
        body = ("x" * before + SECRET + " more").encode()
        e = served(sse_server, env, Canned(status=401, body=[body], headers=text))
        r = run_mint(["chat", "--no-journal", "-f", "json", "hi"], e)
        err = clean_error(r, 4)
        out = r.stdout.decode()
        assert not any(leak in err or leak in out for leak in LEAKS), (before, err)
        if before < 300 - 4:  # a cut leaving 4 characters or more of the key hides them
            assert "x[redacted]… (check the API key" in err, err


def test_a_key_echoed_in_the_reply_is_not_stored_in_the_log(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    half = len(SECRET) // 2
    call = {"index": 0, "id": "c1", "type": "function",
            "function": {"name": "f", "arguments": json.dumps({"k": SECRET})}}  # fmt: skip
    body = (
        chunk({"role": "assistant", "content": f"echo {SECRET[:half]}"})
        + chunk({"content": f"{SECRET[half:]} done"})
        + chunk({"tool_calls": [call]}, "tool_calls")
        + DONE
    )
    r = run_mint(["chat", "--no-journal", "hi"], served(sse_server, env, Canned(body=[body])))
    assert r.returncode == 0, r.stderr
    assert SECRET.encode() in r.stdout  # stdout is data, untouched
    db = Path(env["XDG_DATA_HOME"]) / "mint" / "logs.db"
    stored = b"".join(p.read_bytes() for p in db.parent.glob("logs.db*"))
    assert not any(leak.encode() in stored for leak in LEAKS)
    shown = run_mint(["log", "show", "--format", "json"], env).stdout.decode()
    assert "echo [redacted] done" in shown and SECRET not in shown


TYPED = "sk-typed-on-the-line-5678"


def test_an_option_check_never_quotes_the_key(env: dict[str, str], tmp_path: Path) -> None:
    other = "sk-from-the-config-file-1234"
    config = tmp_path / "config.toml"
    config.write_text(f'api_key = "{other}"\n')
    cases = [
        (["chat", "--base-url", SECRET, "hi"], {}),
        (["chat", "--max-tokens", SECRET, "hi"], {}),
        (["chat", "--protocol", SECRET, "hi"], {}),
        (["chat", "--api-key", TYPED, "--max-tokens", TYPED, "hi"], {}),
        (["models"], {"MINT_BASE_URL": SECRET}),
        (["batch", "x.jsonl"], {"MINT_CONCURRENCY": SECRET}),
        (["log", "show", SECRET], {}),
        (["journal", "show", SECRET], {}),
        (["chat", "--max-tokens", other, "hi"], {"MINT_CONFIG": str(config)}),
    ]
    for args, extra in cases:
        r = run_mint(args, {**env, **extra})
        err = r.stderr.decode()
        assert r.returncode in (2, 3) and "mint: error:" in err, (args, err)
        for key in (SECRET, other, TYPED):
            assert key not in err, (args, err)


def test_dry_run_and_models_never_show_the_key(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    r = run_mint(["chat", "--mock", "--dry-run", "-o", f"user={SECRET}", "hi"], env)
    assert r.returncode == 0 and SECRET.encode() not in r.stdout and b"[redacted]" in r.stdout
    listing = {"data": [{"id": "m1"}, {"id": SECRET}]}
    canned = Canned(body=[json.dumps(listing).encode()], headers={"Content-Type": "application/json"})
    for fmt in ("text", "json"):
        r = run_mint(["models", "--format", fmt], served(sse_server, env, canned))
        assert r.returncode == 0 and SECRET.encode() not in r.stdout, r.stdout
    cache = Path(env["XDG_CACHE_HOME"]) / "mint" / "models"
    assert SECRET not in cache.read_text()
