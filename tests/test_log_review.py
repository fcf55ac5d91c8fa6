"""The log after a review: a fork's copied exchanges counted once by stats, a key
typed or piped into a prompt kept out of the log and the journal, Chinese and
Japanese words found inside a sentence, the move of an old database to schema
version 2, and shell completion that creates nothing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, SECRET, finish, mock_env, read_until, run_mint

from mintcli.store import schema

FAST = ["--retry-base", "0.01"]


def db_file(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "mint" / "logs.db"


def query(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{db_file(env)}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def chat(server: Any, env: dict[str, str], *args: str, **kw: Any) -> dict[str, Any]:
    r = run_mint(["chat", *FAST, "-f", "json", *args], mock_env(env, server), **kw)
    assert r.returncode == 0, r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def stats(env: dict[str, str]) -> list[int]:
    r = run_mint(["log", "stats", "--by", "model", "-f", "json"], env)
    assert r.returncode == 0, r.stderr
    (row,) = json.loads(r.stdout)
    return [row["requests"], row["input_tokens"], row["output_tokens"]]


def tokens(*runs: dict[str, Any]) -> list[int]:
    return [
        len(runs),
        sum(r["usage"]["input_tokens"] for r in runs),
        sum(r["usage"]["output_tokens"] for r in runs),
    ]


def test_stats_count_a_forked_conversations_requests_once(
    make_mock: Any, env: dict[str, str], tmp_path: Path, spawn: Any
) -> None:
    script = tmp_path / "s.json"
    slow = {"text": "s" * 40, "piece_chars": 1, "delay": 0.05}
    script.write_text(json.dumps([{"match": {"prompt": "slow"}, **slow}]))
    server = make_mock(script=script)
    root = chat(server, env, "root")

    def fork(ident: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """A slow and a fast run continuing ``ident`` at once: the slow one forks."""
        before = len(server.requests)
        proc = spawn([*MINT, "chat", *FAST, "-f", "json", "--conversation", ident, "slow"],
                     mock_env(env, server))  # fmt: skip
        # -f json prints at the end: wait for its request to reach the server instead
        deadline = time.monotonic() + 20
        while len(server.requests) == before:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.005)
        fast = chat(server, env, "--conversation", ident, "fast")
        out, err = finish(proc)
        assert proc.returncode == 0 and b"was continued elsewhere" in err, err
        return fast, json.loads(out)

    fast, forked = fork(root["conversation"])
    assert stats(env) == tokens(root, fast, forked)  # 3 requests (was 4: root copied)
    # a fork of the fork: its copies name the rows that made the requests
    fork_id = query(env, "SELECT conversation_id FROM exchanges ORDER BY id DESC LIMIT 1")[0][0]
    fast2, forked2 = fork(fork_id)
    assert stats(env) == tokens(root, fast, forked, fast2, forked2)
    copies = query(env, "SELECT count(*) FROM exchanges WHERE copy_of IS NOT NULL")
    assert copies == [(3,)]  # root in the first fork; root and slow in the second
    assert query(env, "SELECT count(*) FROM exchanges e JOIN exchanges o ON o.id = e.copy_of"
                      " WHERE o.copy_of IS NOT NULL") == [(0,)]  # fmt: skip
    # removing the conversation that made a request leaves it counted by a copy
    assert run_mint(["log", "rm", root["conversation"]], env).returncode == 0
    assert stats(env) == tokens(root, forked, fast2, forked2)
    assert run_mint(["log", "rm", fork_id], env).returncode == 0
    assert stats(env) == tokens(root, forked, forked2)


KEY = SECRET  # the MINT_API_KEY of the test environment


def test_a_key_typed_or_piped_into_a_prompt_is_not_stored(
    make_mock: Any, env: dict[str, str], spawn: Any, tmp_path: Path
) -> None:
    server = make_mock(log=tmp_path / "requests.jsonl")
    chat(server, env, "-s", f"sys {KEY}", f"echo {KEY}")
    piped = run_mint(["chat", *FAST, "x"], mock_env(env, server), input=f"{KEY}\n".encode())
    assert piped.returncode == 0, piped.stderr
    stored = b"".join(p.read_bytes() for p in db_file(env).parent.glob("logs.db*"))
    assert KEY.encode() not in stored and stored.count(b"[redacted]") >= 4
    assert run_mint(["log", "search", "do-not-print"], env).stdout == b""
    shown = run_mint(["log", "show", "-f", "json"], env).stdout.decode()
    assert KEY not in shown and "[redacted]" in shown
    # -c sends what the log holds
    assert chat(server, env, "-c", "again")
    sent = json.loads((tmp_path / "requests.jsonl").read_text().splitlines()[-1])
    assert KEY not in json.dumps(sent) and "[redacted]" in json.dumps(sent)
    # a killed run's journal: no key in its header; --resume sends "[redacted]"
    slow = make_mock(delay=0.1, piece_chars=2, log=tmp_path / "slow.jsonl")
    proc = spawn([*MINT, "chat", *FAST, "--no-log", f"tell {KEY} back"], mock_env(env, slow))
    assert proc.stdout is not None
    read_until(proc.stdout.fileno(), lambda got: len(got) > 0, timeout=20, what="the reply")
    os.kill(proc.pid, signal.SIGKILL)
    finish(proc)
    (journal,) = (Path(env["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl")
    header = journal.read_bytes().split(b"\n")[0]
    assert KEY.encode() not in header and b"tell [redacted] back" in header
    r = run_mint(["chat", *FAST, "--resume"], mock_env(env, slow))
    assert r.returncode == 0, r.stderr
    resent = (tmp_path / "slow.jsonl").read_text().splitlines()[-1]
    assert KEY not in resent and "tell [redacted] back" in resent


def test_chinese_and_japanese_words_are_found_inside_sentences(env: dict[str, str]) -> None:
    def search(*words: str) -> list[dict[str, Any]]:
        r = run_mint(["log", "search", "-f", "json", *words], env)
        assert r.returncode == 0, r.stderr
        found: list[dict[str, Any]] = json.loads(r.stdout)
        return found

    assert run_mint(["chat", "--mock", "写一首诗"], env).returncode == 0
    for word in ["明月", "明月*", "床前明月光", "思故乡", "月"]:
        (hit,) = search(word)
        assert hit["role"] == "assistant", word
    snippet = search("明月")[0]["snippet"]
    assert "[明月]" in snippet and "床前" in snippet and "\x1f" not in snippet
    assert search("明日") == [] and search("月明") == []  # a phrase, in order
    assert search("写一") == [{**search("写一")[0], "role": "user"}]
    prompt = "東京タワーに行きました。用Python写代码 and plain words"
    assert run_mint(["chat", "--mock", prompt], env).returncode == 0
    assert [h["role"] for h in search("タワー")] == ["assistant", "user"]
    assert [h["role"] for h in search("Python", "代码")] == ["assistant", "user"]
    assert "[用Python写代码]" in search('"用Python写代码"')[0]["snippet"].replace("] [", "")
    assert len(search("plain", "word*")) == 2 and search("lain") == []  # English as before
    r = run_mint(["log", "search", "明月"], env)  # the text line shows the stored text
    assert "床前[明月]光" in r.stdout.decode()


def old_database(env: dict[str, str]) -> Path:
    """A log database of schema version 1: conversation B forked from A (its first
    exchange a copy of A's), C and D imported from files without times."""
    path = db_file(env)
    path.parent.mkdir(parents=True, mode=0o700)
    rows = [
        ("A", 0, 1e9 + 0.123456, 10, 1), ("A", 1, 1e9 + 50.5, 20, 2),
        ("B", 0, 1e9 + 0.123456, 10, 1), ("B", 1, 1e9 + 60.25, 30, 3),
        ("C", 0, 0.0, 10, 1), ("D", 0, 0.0, 10, 1),
    ]  # fmt: skip
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.executescript(schema.V1 + schema.FTS_V1)
        for name, position, when, tokens_in, tokens_out in rows:
            ident = f"20261201-000000-{name * 6}".lower()
            conn.execute("INSERT OR IGNORE INTO conversations VALUES (?, 1e9, ?)", (ident, when))
            conn.execute(
                "INSERT INTO exchanges (conversation_id, position, time, model, input_tokens,"
                " output_tokens, duration) VALUES (?, ?, ?, 'm', ?, ?, 1.5)",
                (ident, position, when, tokens_in, tokens_out),
            )
            if position == 0:
                text = {"A": "床前明月光 one", "B": "another"}.get(name, "old")
                conn.execute("INSERT INTO messages (conversation_id, position, exchange_id, role,"
                             " body, text_content, digest) VALUES (?, 0, (SELECT max(id) FROM"
                             " exchanges), 'user', '{}', 1, x'')", (ident,))  # fmt: skip
                conn.execute("INSERT INTO texts (message_id, part, text) VALUES"
                             " ((SELECT max(id) FROM messages), 0, ?)", (text,))  # fmt: skip
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA user_version = 1")
    os.chmod(path, 0o600)
    return path


def test_an_old_database_is_moved_to_version_2(env: dict[str, str]) -> None:
    old_database(env)
    # Tab reads it without upgrading it or leaving a file behind
    before = sorted(os.listdir(db_file(env).parent))
    r = run_mint(["_complete", "conversations"], env)
    assert r.stdout.decode().split() == [f"20261201-000000-{c * 6}" for c in "badc"]
    assert sorted(os.listdir(db_file(env).parent)) == before
    assert query(env, "PRAGMA user_version") == [(1,)]
    # the first command moves it: the index made anew, the copy known as one
    found = json.loads(run_mint(["log", "search", "-f", "json", "明月"], env).stdout)
    assert [h["snippet"] for h in found] == ["床前[明月]光 one"]
    assert query(env, "PRAGMA user_version") == [(schema.CURRENT,)]
    assert query(env, "SELECT conversation_id, position, copy_of FROM exchanges"
                      " WHERE copy_of IS NOT NULL") == [("20261201-000000-bbbbbb", 0, 1)]  # fmt: skip
    assert stats(env) == [5, 80, 8]
    assert run_mint(["log", "search", "another"], env).stdout.count(b"\n") == 1
    assert run_mint(["log", "rm", "20261201-000000-bbbbbb"], env).returncode == 0
    assert run_mint(["log", "search", "another"], env).stdout == b""
    assert query(env, "PRAGMA integrity_check") == [("ok",)]
    with contextlib.closing(sqlite3.connect(db_file(env))) as conn:
        conn.execute("INSERT INTO texts_fts (texts_fts) VALUES ('integrity-check')")


def test_tab_creates_nothing(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    data = Path(env["XDG_DATA_HOME"])
    r = run_mint(["_complete", "conversations"], env)
    assert r.returncode == 0 and r.stdout == b"" and not data.exists()
    # conversation files of an earlier mint: offered, not imported
    files = data / "mint" / "conversations"
    files.mkdir(parents=True)
    (files / "20261201-000000-cccccc.json").write_text("{}")
    r = run_mint(["_complete", "conversations"], env)
    assert r.stdout == b"20261201-000000-cccccc\n"
    assert sorted(os.listdir(data / "mint")) == ["conversations"]
    (files / "20261201-000000-cccccc.json").unlink()
    server = make_mock()
    ident = chat(server, env, "hi")["conversation"]
    before = sorted(os.listdir(data / "mint"))
    assert run_mint(["_complete", "conversations"], env).stdout == f"{ident}\n".encode()
    assert sorted(os.listdir(data / "mint")) == before
    # while a writer has it open (its -wal and -shm there), read through them
    with contextlib.closing(sqlite3.connect(db_file(env), isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO conversations VALUES ('20261201-000000-dddddd', 0, 0)")
        writer.execute("COMMIT")  # in the -wal only
        during = sorted(os.listdir(data / "mint"))
        listed = run_mint(["_complete", "conversations"], env).stdout.split()
        assert listed == [ident.encode(), b"20261201-000000-dddddd"]
        assert sorted(os.listdir(data / "mint")) == during
    # bash's completion runs the same command
    script = (
        f"source {Path(__file__).parent.parent / 'completions' / 'mint.bash'}\n"
        "COMP_WORDS=(mint chat --conversation ''); COMP_CWORD=3; _mint; echo ${COMPREPLY[@]}\n"
    )
    shell = {**env, "XDG_DATA_HOME": str(tmp_path / "none")}
    out = subprocess.run(["bash", "-c", script], env=shell, capture_output=True, timeout=30)
    assert out.stdout == b"\n" and not (tmp_path / "none").exists(), out.stderr
    with pytest.raises(FileNotFoundError):
        os.lstat(tmp_path / "none")


def test_the_import_knows_the_copies_the_file_store_made(env: dict[str, str]) -> None:
    """The file store of earlier mints copied a fork's earlier exchanges too."""
    folder = Path(env["XDG_DATA_HOME"]) / "mint" / "conversations"
    folder.mkdir(parents=True)
    first = {"time": 1.8e9 + 0.25, "model": "m", "protocol": "openai",
             "usage": {"input_tokens": 10, "output_tokens": 1}, "finish_reason": "stop"}  # fmt: skip
    users = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    for name, second in (("a", 20), ("b", 30)):
        later = {**first, "time": 1.8e9 + second, "usage": {"input_tokens": second,
                                                             "output_tokens": 2}}  # fmt: skip
        (folder / f"20261201-000000-{name * 6}.json").write_text(json.dumps({
            "v": 1, "created": 1.8e9, "updated": 1.8e9 + second, "messages": users * 2,
            "exchanges": [first, later]}))  # fmt: skip
    assert stats(env) == [3, 60, 5]  # the first exchange once, not twice
