"""A key the server echoes inside the reply never reaches the --resume journal
(its text, reasoning, tool calls, or the bytes stdout still owes), also when
it is split between reads; --resume puts it back, so the output is the same
as an uninterrupted run's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET, mock_env, run_mint
from hypothesis import given, settings
from hypothesis import strategies as st
from sse_server import Canned, SSEServer
from test_hardening import served
from test_hostile_streams import A_END, A_START, DONE, a_text, anthropic, chunk
from test_stdout_full import filled, journal_records, mint

from mintcli.base.sanitize import Secrets
from mintcli.storage.keyrefs import KeyGuard, resolve

LEAKS = [SECRET[i : i + 6] for i in range(3, len(SECRET) - 5)]  # any part of it
HALF = len(SECRET) // 2


def journal_path(env: dict[str, str]) -> Path:
    [path] = (Path(env["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl")
    return path


def journal_text(env: dict[str, str]) -> str:
    return journal_path(env).read_text()


def assert_no_key(text: str) -> None:
    assert not any(leak in text for leak in LEAKS), text


def test_a_key_split_between_reads_stays_out_of_the_journal_and_resume_prints_it_back(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    # The key arrives in three reads (text), and in two reasoning pieces.
    head = [
        chunk({"role": "assistant", "reasoning_content": f"the key {SECRET[:5]}"}),
        chunk({"reasoning_content": f"{SECRET[5:]}."}),
        chunk({"content": f"echo {SECRET[:HALF]}"}),
        chunk({"content": SECRET[HALF:-4]}),
        chunk({"content": f"{SECRET[-4:]} and then sk-te"}),  # ends like the key starts
    ]
    tail = chunk({"content": "xt, the end"}, "stop") + DONE
    args = ["chat", "--no-log", "--max-retries", "0", "hi"]
    e = served(sse_server, env, Canned(body=[*head, tail], pause=0.02))
    whole = run_mint(args, e)
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout == f"echo {SECRET} and then sk-text, the end\n".encode()  # data, as sent

    cut = run_mint(args, served(sse_server, env, Canned(body=head, pause=0.02, abort=True)))
    assert cut.returncode == 7 and b"--resume" in cut.stderr, cut.stderr
    kept = journal_text(env)
    assert_no_key(kept)
    assert "sk-te" not in kept  # a start of the key at a read's end is not written either
    # The same key continues it: the reply reads as if nothing had failed.
    sse_server.queue(Canned(body=[tail]))
    again = run_mint(["chat", "--resume"], e)
    assert again.returncode == 0, again.stderr
    assert cut.stdout + again.stdout == whole.stdout
    # what the server was sent to continue from is what it had sent
    sent = json.dumps(sse_server.requests[-1]["body"])
    assert f"echo {SECRET} and then sk-te" in sent


def test_a_key_cut_where_a_run_stopped_stays_out_when_its_resume_goes_on_with_it(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    args = ["chat", "--no-log", "--max-retries", "0"]
    first = [chunk({"role": "assistant", "content": f"echo {SECRET[:12]}"})]
    cut = run_mint([*args, "hi"], served(sse_server, env, Canned(body=first, abort=True)))
    assert cut.returncode == 7, cut.stderr
    # the resumed run gets the key's middle, and stops too
    e = served(sse_server, env, Canned(body=[chunk({"content": SECRET[12:20]})], abort=True))
    again = run_mint([*args, "--resume"], e)
    assert again.returncode == 7, again.stderr
    assert_no_key(journal_text(env))
    shown = run_mint(["journal", "show", journal_path(env).stem], env)  # it has no key to put back
    assert shown.stdout == b"echo [redacted]", shown.stderr
    e = served(
        sse_server, env, Canned(body=[chunk({"content": f"{SECRET[20:]} end"}, "stop") + DONE])
    )
    last = run_mint([*args, "--resume"], e)
    assert last.returncode == 0, last.stderr
    assert cut.stdout + again.stdout + last.stdout == f"echo {SECRET} end\n".encode()


def test_resume_in_json_holds_the_key_as_an_uninterrupted_run_does(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    head = [
        chunk({"role": "assistant", "content": f"a{SECRET[:9]}"}),
        chunk({"content": SECRET[9:]}),
    ]
    tail = chunk({"content": " b"}, "stop") + DONE
    args = ["chat", "--no-log", "--max-retries", "0", "--format", "json", "hi"]
    whole = run_mint(args, served(sse_server, env, Canned(body=[*head, tail], pause=0.02)))
    assert whole.returncode == 0, whole.stderr
    cut = run_mint(args, served(sse_server, env, Canned(body=head, pause=0.02, abort=True)))
    assert cut.returncode == 7, cut.stderr
    assert_no_key(journal_text(env))
    e = served(sse_server, env, Canned(body=[tail]))
    again = run_mint(["chat", "--resume"], e)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["text"] == json.loads(whole.stdout)["text"] == f"a{SECRET} b"
    # Resumed with another key, the earlier one cannot be put back: [redacted] stands for it.
    run_mint(args, served(sse_server, env, Canned(body=head, pause=0.02, abort=True)))
    other = {**served(sse_server, env, Canned(body=[tail])), "MINT_API_KEY": "sk-another-key-1234"}
    again = run_mint(["chat", "--resume"], other)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["text"] == "a[redacted] b"
    assert b"the reply held a key this run does not have" in again.stderr


def test_a_tool_call_holding_the_key_is_journaled_without_it(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    use = {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    args_json = json.dumps({"k": SECRET})
    body = (
        A_START
        + a_text("calling")
        + anthropic("content_block_stop", index=0)
        + anthropic("content_block_start", index=1, content_block=use)
        + anthropic(
            "content_block_delta",
            index=1,
            delta={"type": "input_json_delta", "partial_json": args_json},
        )
        + anthropic("content_block_stop", index=1)
    )
    e = {**served(sse_server, env, Canned(body=[body], abort=True)), "MINT_PROTOCOL": "anthropic"}
    cut = run_mint(["chat", "--no-log", "--max-retries", "0", "hi"], e)
    assert cut.returncode == 7, cut.stderr
    assert_no_key(journal_text(env))
    sse_server.queue(Canned(body=[A_START + A_END]))
    again = run_mint(["chat", "--resume", "--format", "json"], e)
    assert again.returncode == 0, again.stderr
    [call] = json.loads(again.stdout)["tool_calls"]
    assert call["arguments"] == {"k": SECRET}


@pytest.fixture
def key_text(env: dict[str, str], make_mock: Any, tmp_path: Path) -> dict[str, str]:
    """A mock gateway whose reply holds the key where stdout fills up (byte 1001)."""
    script = tmp_path / "script.json"
    text = "x" * 990 + f" {SECRET} " + "".join(f"line {i}\n" for i in range(50))
    script.write_text(json.dumps([{"text": text}]))
    return mock_env(env, make_mock(script=script, piece_chars=7))


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_bytes_stdout_owes_keep_no_key_and_resume_writes_them_as_they_were(
    key_text: dict[str, str], tmp_path: Path, fmt: str
) -> None:
    args = ["chat", "--no-log", "--format", fmt, "go"]
    whole = tmp_path / "uninterrupted"
    assert mint(args, key_text, whole).returncode == 0
    room = whole.read_bytes().index(SECRET.encode()) + 10  # stdout fills up inside the key
    out = tmp_path / "out"
    earlier = filled(args, key_text, out, room)
    assert out.read_bytes().endswith(SECRET[:10].encode())
    assert_no_key(journal_text(key_text))
    assert any("o" in rec for rec in journal_records(key_text))
    assert mint(["chat", "--resume"], key_text, out).returncode == 0
    assert out.read_bytes() == earlier + whole.read_bytes()


# -- the guard itself, over every way of cutting a stream ------------------------------


def guarded(pieces: list[str], *keys: str) -> tuple[list[Any], str]:
    secrets = Secrets()
    for key in keys or [SECRET]:
        secrets.add(key)
    guard = KeyGuard(secrets)
    parts = [guard.record({"t": p}).get("t", "") for p in pieces]
    return parts, "".join(resolve(p, guard.lookup()) for p in parts)


def test_the_guard_keeps_every_cut_of_the_key_out_and_puts_it_back_whole() -> None:
    text = f"a {SECRET} b s sk sk-t {SECRET}{SECRET} end sk-"
    cuts: list[list[str]] = [[text[i : i + 1] for i in range(len(text))]]
    cuts += [
        [text[:i], text[i:j], text[j:]] for i in range(len(text)) for j in range(i, len(text), 5)
    ]
    for pieces in cuts:
        parts, back = guarded(pieces)
        assert back == text, pieces
        assert_no_key(json.dumps(parts))


def test_two_secrets_each_come_back_as_they_were() -> None:
    other = "pw-the-url-password-42"
    text = f"{other[:9]}{SECRET}{other} {SECRET[:7]}"
    for i in range(len(text)):
        parts, back = guarded([text[:i], text[i:]], SECRET, other)
        assert back == text
        shown = json.dumps(parts)
        assert_no_key(shown)
        # only its first nine characters stand alone in the text, which is not the password
        assert not any(other[i : i + 6] in shown for i in range(4, len(other) - 5)), shown


def test_the_guard_leaves_text_without_the_key_as_it_is() -> None:
    pieces = ["plain text", " ends with s", "k", " and more"]
    parts, back = guarded(pieces)
    assert parts == pieces and back == "".join(pieces)


def test_owed_bytes_cut_inside_the_key_keep_neither_end_of_it() -> None:
    secrets = Secrets()
    secrets.add(SECRET)
    guard = KeyGuard(secrets)
    owed = SECRET[8:] + " middle " + SECRET + " end " + SECRET[:12]
    rec = guard.record({"x": 11, "m": "cannot write", "o": owed})
    assert_no_key(json.dumps(rec))
    assert resolve(rec["o"], guard.lookup()) == owed
    # Another key: [redacted] where a key started (the earlier run printed the first one's start)
    assert resolve(rec["o"], {}) == " middle [redacted] end [redacted]"


WORDS = ["x", "y z", "\n", "é", "s", SECRET, *(SECRET[:k] for k in range(1, 6)), SECRET[-4:]]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), max_size=12),
    st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_any_text_cut_anywhere_comes_back_whole_and_never_journals_the_key(
    words: list[str], cuts: list[int]
) -> None:
    text = "".join(words)
    at = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[i:j] for i, j in zip([0, *at], [*at, len(text)], strict=True)]
    parts, back = guarded(pieces)
    assert back == text
    assert_no_key(json.dumps(parts))  # the words hold no 6 characters of the key but in it
