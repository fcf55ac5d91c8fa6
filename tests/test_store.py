"""The log database (mintcli/store): the import of conversation files written by
the file store of earlier mint versions, search, stats, concurrent writers,
SIGKILL during a save, damaged, symlinked, newer and full database files."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, finish, mock_env, run_mint

from mintcli.store import db, schema, write

FIXTURES = Path(__file__).parent / "data" / "conversations-v1"
OLD_IDS = sorted(p.stem for p in FIXTURES.glob("*.json"))
LONG = "20261206-021344-847f78"  # a 200 KB reply with escapes, written in 50-character pieces


def mint_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "mint"


def old_files(env: dict[str, str]) -> Path:
    """The fixtures (written by the file store) where that store kept them."""
    folder = mint_dir(env) / "conversations"
    folder.mkdir(parents=True)
    for path in FIXTURES.glob("*.json"):
        shutil.copy(path, folder / path.name)
    return folder


def query(env: dict[str, str], sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(mint_dir(env) / "logs.db")) as conn:
        return conn.execute(sql, args).fetchall()


def chat(
    server: Any, env: dict[str, str], *args: str, **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    return run_mint(["chat", "--retry-base", "0.01", *args], mock_env(env, server), **kw)


def test_old_files_are_imported_and_read_back_byte_for_byte(
    make_mock: Any, env: dict[str, str]
) -> None:
    folder = old_files(env)
    r = run_mint(["log", "list"], env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (FIXTURES / "expected" / "list.txt").read_bytes()
    assert "imported 5 saved conversations" in r.stderr.decode()
    # the files are moved aside whole, only after the import
    assert not folder.exists()
    backup = mint_dir(env) / "conversations.imported"
    assert sorted(p.stem for p in backup.iterdir()) == OLD_IDS
    assert all((backup / p.name).read_bytes() == p.read_bytes() for p in FIXTURES.glob("*.json"))
    r = run_mint(["log", "list", "--format", "json"], env)
    assert r.stdout == (FIXTURES / "expected" / "list.json").read_bytes() and r.stderr == b""
    for ident in OLD_IDS:
        for fmt in ("text", "json"):
            r = run_mint(["log", "show", ident, "--format", fmt], env)
            expected = FIXTURES / "expected" / f"{ident}.{'txt' if fmt == 'text' else 'json'}"
            assert r.stdout == expected.read_bytes(), (ident, fmt)
    # the long reply is kept in blocks, whole words in each
    (blocks,) = query(env, "SELECT count(*) FROM texts JOIN messages m ON m.id = message_id"
                      " WHERE m.conversation_id = ? AND m.role = 'assistant'", LONG)  # fmt: skip
    assert blocks[0] == 3
    texts = query(env, "SELECT text FROM texts JOIN messages m ON m.id = message_id"
                  " WHERE m.conversation_id = ? AND m.role = 'assistant' ORDER BY part", LONG)  # fmt: skip
    assert all(len(t) <= 1 << 16 and t[-1].isspace() for (t,) in texts[:-1])
    # an imported conversation goes on
    server = make_mock()
    r = chat(server, env, "--conversation", OLD_IDS[0][:-3], "-f", "json", "more")
    assert r.returncode == 0, r.stderr
    messages = json.loads(r.stdout)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3 + ["user", "assistant"]


def test_a_failed_import_leaves_the_files_and_says_why(env: dict[str, str]) -> None:
    folder = old_files(env)
    (folder / "20261201-000000-badbad.json").write_text("{not json")
    r = run_mint(["log", "list"], env)
    assert r.returncode == 0, r.stderr
    notes = r.stderr.decode()
    assert "20261201-000000-badbad is damaged (not JSON)" in notes and "not imported" in notes
    assert (mint_dir(env) / "conversations.imported" / "20261201-000000-badbad.json").exists()
    # an old mint wrote on in a conversation the database already holds, and made a new one
    (folder).mkdir()
    changed = json.loads((FIXTURES / f"{OLD_IDS[0]}.json").read_text())
    changed["messages"][0]["content"] = "edited"
    (folder / f"{OLD_IDS[0]}.json").write_text(json.dumps(changed))
    shutil.copy(FIXTURES / f"{OLD_IDS[1]}.json", folder / "20261202-000000-cafe01.json")
    before = sorted(folder.glob("*.json"))
    r = run_mint(["log", "list"], env)
    assert r.returncode == 3
    assert r.stderr.decode().startswith(
        f"mint: error: cannot import the saved conversations of {folder} into the log database: "
    )
    assert f"holds conversation {OLD_IDS[0]}, which the database also holds" in r.stderr.decode()
    assert "the files are left where they are" in r.stderr.decode()
    assert sorted(folder.glob("*.json")) == before
    assert query(env, "SELECT id FROM conversations WHERE id = '20261202-000000-cafe01'") == []
    # moved away, the rest imports
    (folder / f"{OLD_IDS[0]}.json").unlink()
    assert run_mint(["log", "show", "20261202-000000-cafe01"], env).returncode == 0


def test_search(env: dict[str, str]) -> None:
    old_files(env)
    r = run_mint(["log", "search", "rsync"], env)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    # one hit per message (the long reply matches in every block), newest first
    assert [line.split("\t")[0] for line in lines] == [LONG, OLD_IDS[0], OLD_IDS[0]]
    _, when, model, role, snippet = lines[0].split("\t")
    assert (model, role) == ("openai/gpt-4o", "assistant") and len(when) == 16
    assert snippet.startswith("[rsync] moves files \\x1b[31m red") and "\x1b" not in snippet
    assert len(snippet) < 200
    assert lines[2].split("\t")[3:] == ["user", "first question about [rsync]"]
    rows = [
        json.loads(x)
        for x in run_mint(["log", "search", "rsync", "-f", "jsonl"], env).stdout.splitlines()
    ]
    assert [x["conversation"] for x in rows] == [LONG, OLD_IDS[0], OLD_IDS[0]]
    assert "\x1b[31m" in rows[0]["snippet"] and isinstance(rows[0]["time"], float)
    r = run_mint(["log", "search", "--format", "json", "-n", "1", "北京"], env)
    assert [x["role"] for x in json.loads(r.stdout)] == ["assistant"]
    system = run_mint(["log", "search", "brief", "-f", "json"], env).stdout
    assert [x["role"] for x in json.loads(system)] == ["system"]
    tool = run_mint(["log", "search", "晴", "-f", "json"], env).stdout
    assert [x["role"] for x in json.loads(tool)] == ["tool"]
    assert run_mint(["log", "search", "rsync", "-m", "nope"], env).stdout == b""
    assert run_mint(["log", "search", "rsync", "--since", "2099-01-01"], env).stdout == b""
    until = run_mint(["log", "search", "rsync", "--until", "2026-12-06"], env).stdout
    assert len(until.splitlines()) == 3
    assert len(run_mint(["log", "search", "rsy*", "first"], env).stdout.splitlines()) == 2
    assert run_mint(["log", "search", 'c++ "q" AND'], env).returncode == 0  # not FTS syntax
    r = run_mint(["log", "search", "x", "--since", "soon"], env)
    assert r.returncode == 2 and "must be a date" in r.stderr.decode()
    # a single removal leaves the others found
    assert run_mint(["log", "rm", LONG], env).returncode == 0
    lines = run_mint(["log", "search", "rsync"], env).stdout.splitlines()
    assert [line.split(b"\t")[0].decode() for line in lines] == [OLD_IDS[0]] * 2
    # without FTS5 the search scans, and says so
    query(env, "SELECT 1")
    with contextlib.closing(sqlite3.connect(mint_dir(env) / "logs.db")) as conn:
        conn.executescript(
            "DROP TRIGGER texts_fts_insert; DROP TRIGGER texts_fts_delete; DROP TABLE texts_fts;"
        )
    r = run_mint(["log", "search", "RSYNC", "ques"], env)
    assert "no FTS5" in r.stderr.decode()
    assert [line.split("\t")[3] for line in r.stdout.decode().splitlines()] == [
        "assistant",
        "user",
    ]


def test_stats(env: dict[str, str]) -> None:
    old_files(env)
    totals: dict[str, list[int]] = {}
    for path in FIXTURES.glob("*.json"):
        for x in json.loads(path.read_text())["exchanges"]:
            row = totals.setdefault(x["model"], [0, 0, 0])
            row[0] += 1
            row[1] += x["usage"]["input_tokens"]
            row[2] += x["usage"]["output_tokens"]
    r = run_mint(["log", "stats", "--by", "model", "--format", "json"], env)
    assert r.returncode == 0, r.stderr
    got = {
        x["model"]: [x["requests"], x["input_tokens"], x["output_tokens"]]
        for x in json.loads(r.stdout)
    }
    assert got == totals
    day = json.loads(run_mint(["log", "stats", "-f", "json"], env).stdout)
    assert {x["day"] for x in day} == {"2026-12-06"} and len(day) == len(totals)
    week = json.loads(run_mint(["log", "stats", "--by", "week", "-f", "json"], env).stdout)
    assert {x["week"] for x in week} == {"2026-11-30"}  # the Monday
    text = run_mint(["log", "stats"], env).stdout.decode().splitlines()
    assert text[0].split() == ["DAY", "MODEL", "REQUESTS", "INPUT", "OUTPUT"]
    assert text[2].split() == ["2026-12-06", "openai/gpt-4o", *map(str, totals["openai/gpt-4o"])]
    assert run_mint(["log", "stats", "--since", "2099-01-01"], env).stdout.count(b"\n") == 1
    # removing everything empties the index too
    assert run_mint(["log", "rm", "--all"], env).returncode == 0
    assert query(env, "SELECT count(*) FROM texts_fts_docsize") == [(0,)]
    assert run_mint(["log", "search", "rsync"], env).stdout == b""


def test_turns_tool_calls_and_a_replaced_system_prompt(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "s.json"
    calls = [{"id": "c1", "name": "get_weather", "arguments": {"location": "Oslo"}}]
    script.write_text(json.dumps([{"match": {"prompt": "weather"}, "tool_calls": calls}]))
    server = make_mock(script=script)
    tool = ["--tool", '{"name": "get_weather"}']
    assert chat(server, env, "--system", "one", *tool, "weather?").returncode == 0
    assert chat(server, env, "-c", "--tool-result", "c1=sunny", "thanks").returncode == 0
    assert chat(server, env, "-c", "--system", "two", "bye").returncode == 0
    shown = json.loads(run_mint(["log", "show", "-f", "json"], env).stdout)
    assert [m["role"] for m in shown] == ["system", "user", "assistant", "tool", "user",
                                          "assistant", "user", "assistant"]  # fmt: skip
    assert shown[0]["content"] == "two" and shown[3]["content"] == "sunny"
    assert query(env, "SELECT call_id, name, arguments FROM tool_calls") == [
        ("c1", "get_weather", '{"location":"Oslo"}')
    ]
    assert query(env, "SELECT call_id FROM tool_results") == [("c1",)]
    # rows of unchanged messages stay with the exchange that added them
    rows = query(env, "SELECT m.role, e.position FROM messages m JOIN exchanges e"
                      " ON e.id = m.exchange_id ORDER BY m.position")  # fmt: skip
    assert [p for _, p in rows] == [2, 0, 0, 1, 1, 1, 2, 2]
    x = query(env, "SELECT host, duration, input_tokens > 0, finish_reason FROM exchanges")
    assert x[0][0] == "127.0.0.1" and x[0][1] >= 0 and x[0][2] == 1
    assert [f for *_, f in x] == ["tool_calls", "stop", "stop"]


def test_twenty_writers_and_a_reader(make_mock: Any, env: dict[str, str], spawn: Any) -> None:
    server = make_mock()  # the first of them creates the database
    writers = [
        spawn([*MINT, "chat", "--no-journal", f"question {n}"], mock_env(env, server))
        for n in range(20)
    ]
    reader = spawn(
        ["sh", "-c", "for i in 1 2 3 4; do mint log search question -n 5 || exit 9; done"],
        env,
    )
    for n, proc in enumerate(writers):
        out, err = finish(proc, timeout=60)
        assert proc.returncode == 0 and out == f"Mock reply to: question {n}\n".encode(), err
    _, err = finish(reader, timeout=60)
    assert reader.returncode == 0, err
    assert b"error" not in err
    rows = query(env, "SELECT count(*), count(DISTINCT conversation_id) FROM exchanges")
    assert rows == [(20, 20)]
    assert query(env, "PRAGMA integrity_check") == [("ok",)]
    r = run_mint(["log", "search", "question", "-n", "100"], env)
    assert len(r.stdout.splitlines()) == 40


KILLED_SAVE = """
import os, sys, time
from mintcli.storage.conversations import Pending
pending = Pending.start(None, [{"role": "user", "content": "doomed"}])
def pieces():
    for n in range(100000):
        if n == 50000:
            open(sys.argv[1], "w").close()  # half written: kill me now
            time.sleep(60)
        yield "word%d " % n
pending.save({"role": "assistant", "content": None}, {"model": "m"}, pieces())
"""


def test_sigkill_during_a_save_leaves_the_database_consistent(
    make_mock: Any, env: dict[str, str], tmp_path: Path, spawn: Any
) -> None:
    server = make_mock()
    assert chat(server, env, "kept").returncode == 0
    marker = tmp_path / "half"
    proc = spawn([sys.executable, "-c", KILLED_SAVE, str(marker)], env)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert query(env, "PRAGMA integrity_check") == [("ok",)]
    assert query(env, "SELECT count(*) FROM exchanges") == [(1,)]
    assert query(env, "SELECT count(*) FROM texts_fts WHERE texts_fts MATCH 'word1'") == [(0,)]
    r = run_mint(["log", "show"], env)
    assert r.stdout == b"user:\nkept\n\nassistant:\nMock reply to: kept\n"
    assert chat(server, env, "-c", "still works").returncode == 0


def test_unusable_database_files(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    """The reply is printed, then saving fails with a clear error."""
    server = make_mock()
    mint_dir(env).mkdir(parents=True)
    path = mint_dir(env) / "logs.db"
    path.write_bytes(b"this is not a database" * 100)
    r = chat(server, env, "hi")
    assert r.stdout == b"Mock reply to: hi\n" and r.returncode == 3
    assert (
        f"save the conversation in {path}: the file is damaged (not a SQLite" in r.stderr.decode()
    )
    assert run_mint(["log", "list"], env).returncode == 3
    path.unlink()
    (tmp_path / "real.db").write_bytes(b"")
    path.symlink_to(tmp_path / "real.db")
    r = chat(server, env, "hi")
    assert r.stdout == b"Mock reply to: hi\n" and r.returncode == 3
    assert "is a symbolic link or not a file; mint will not use it" in r.stderr.decode()
    path.unlink()
    assert chat(server, env, "hi").returncode == 0
    query(env, "PRAGMA user_version = 99")
    r = run_mint(["log", "list"], env)
    assert r.returncode == 3
    assert f"newer mint (log schema version 99; this mint reads up to {schema.CURRENT})" in (
        r.stderr.decode()
    )
    query(env, f"PRAGMA user_version = {schema.CURRENT}")
    # a full disk (here: a file size limit) while saving a long reply
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "long words " * 500, "repeat": 10}]))
    long = make_mock(script=script)
    limit = 32_000  # a reply of 55,000 characters goes to the WAL first

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = run_mint(["chat", "--no-journal", "long"], mock_env(env, long), preexec_fn=small_disk)
    assert r.stdout == ("long words " * 5000 + "\n").encode()
    assert r.returncode == 11
    assert f"cannot save the conversation in {path}: a read or write of the file failed" in (
        r.stderr.decode()
    )
    assert query(env, "PRAGMA integrity_check") == [("ok",)]
    assert len(run_mint(["log", "list"], env).stdout.splitlines()) == 1


def test_a_read_only_database(make_mock: Any, env: dict[str, str]) -> None:
    """Made immutable (root may write any file mode allows, not an immutable one)."""
    server = make_mock()
    assert chat(server, env, "first").returncode == 0
    path = mint_dir(env) / "logs.db"
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        r = chat(server, env, "second")
        assert r.stdout == b"Mock reply to: second\n" and r.returncode == 11
        assert f"cannot save the conversation in {path}: the database is read-only" in (
            r.stderr.decode()
        )
        assert run_mint(["log", "show"], env).stdout.endswith(b"Mock reply to: first\n")
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_newer_mint_upgrades_an_older_database(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    conn = db.open_db(create=True)
    assert conn is not None
    conn.close()
    monkeypatch.setattr(
        db, "MIGRATIONS", [*schema.MIGRATIONS, "ALTER TABLE exchanges ADD COLUMN cost REAL"]
    )
    monkeypatch.setattr(db, "CURRENT", schema.CURRENT + 1)
    conn = db.open_db(create=False)
    assert conn is not None
    with contextlib.closing(conn):
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.CURRENT + 1,)
        assert "cost" in [r[1] for r in conn.execute("PRAGMA table_info(exchanges)")]


def test_a_long_reply_is_written_with_flat_memory(tmp_path: Path) -> None:
    """The text goes to the database a block at a time: the peak of memory is
    the same for 0.5 MB and 2 MB of text, and below the smaller one."""
    conn = db.connect(tmp_path / "t.db")
    for statement in db._statements("".join(schema.MIGRATIONS)):
        conn.execute(statement)

    def peak(pieces: int) -> int:
        tracemalloc.start()
        try:
            with db.transaction(conn):
                conn.execute("INSERT INTO conversations VALUES (?, 0, 0)", (str(pieces),))
                text = (f"piece{n:05d} "[-10:] for n in range(pieces))
                write.insert_message(conn, str(pieces), 0, None, {"role": "assistant"}, text)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(50_000), peak(200_000)
    assert small < 500_000 and large < small * 1.2, (small, large)
    (size,) = conn.execute("SELECT sum(length(text)) FROM texts").fetchone()
    assert size == 2_500_000


def test_blocks_keep_the_text_and_cut_after_whitespace() -> None:
    import random

    rng = random.Random(3)
    texts = ["".join(rng.choices(a, k=2 * write.BLOCK)) for a in ("ab ", "abc", "北京\né x")]
    for _ in range(40):  # small enough not to grow the test process (children inherit it)
        pieces = []
        for _ in range(rng.randint(0, 8)):
            size = rng.choice([0, 1, 7, 500, write.BLOCK // 3, write.BLOCK + 5])
            start = rng.randint(0, write.BLOCK - 5)
            pieces.append(rng.choice(texts)[start : start + size])
        out = list(write.blocks(pieces))
        assert "".join(out) == "".join(pieces)
        assert all(0 < len(b) <= write.BLOCK for b in out)
        for block in out[:-1]:  # cut after a space or line end where the block holds one
            if any(c in block[write.BLOCK // 2 :] for c in " \n"):
                assert block[-1] in " \n"


def test_index_text_of_a_long_text_is_done_in_slices_that_join_exactly() -> None:
    """Each Han or kana character set apart by MARK, as one pass over the text
    would: the slices a long text is cut into change nothing."""
    import random

    from mintcli.store import cjk

    def one_pass(text: str) -> str:
        out = []
        prev = False
        for ch in text:
            here = bool(cjk._RUN.fullmatch(ch))
            if here or prev:
                out.append(cjk.MARK)
            out.append(ch)
            prev = here
        return "".join(out) + (cjk.MARK if prev else "")

    rng = random.Random(7)
    near = [0, 1, cjk.SLICE - 1, cjk.SLICE, cjk.SLICE + 1, 2 * cjk.SLICE, 3 * cjk.SLICE + 7]
    for _ in range(60):
        alphabet = rng.choice(["北京 ab", "明月光", "é北\n京🌸x", "ab\x1fカナ", "ab"])
        text = "".join(rng.choices(alphabet, k=rng.choice(near)))
        text = "北" * rng.choice(near[:3]) + text + "京" * rng.choice(near[:3])
        assert cjk.index_text(text) == one_pass(text), (alphabet, len(text))
    russian = "Привет, как дела? " * 1000  # nothing to set apart: not copied at all
    assert cjk.index_text(russian) is russian and cjk.indexed(russian) is None


def test_a_long_chinese_reply_is_indexed_with_flat_memory(tmp_path: Path) -> None:
    """Dense Chinese (a run every few characters) saved in 16 KiB pieces, as the
    spool gives them: the peak holds about a block and its indexed form, not the
    two strings per run re.sub keeps until it joins them (2.6 MB before)."""
    conn = db.connect(tmp_path / "t.db")
    for statement in db._statements("".join(schema.MIGRATIONS)):
        conn.execute(statement)
    piece = ("北京 ab" * 4000)[: 1 << 14]
    tracemalloc.start()
    try:
        with db.transaction(conn):
            conn.execute("INSERT INTO conversations VALUES ('c', 0, 0)")
            text = (piece for _ in range(8))
            write.insert_message(conn, "c", 0, None, {"role": "assistant"}, text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1_500_000, peak
    rows = conn.execute("SELECT text, indexed FROM texts ORDER BY part").fetchall()
    assert "".join(t for t, _ in rows) == piece * 8
    # indexed is None where a block holds no Han or kana (the last, "a", here)
    assert all((i or t) == t.replace("北京", "\x1f北\x1f京\x1f") for t, i in rows)


def test_arguments_not_utf8_and_dates_at_the_ends_of_the_calendar(env: dict[str, str]) -> None:
    old_files(env)
    assert run_mint(["log", "list"], env).returncode == 0
    foreign = os.fsdecode(b"\xff")  # argv bytes that are not UTF-8
    for args in (["show", foreign], ["rm", foreign], ["search", "rsync", foreign]):
        r = run_mint(["log", *args], env)
        assert r.returncode == 2 and r.stdout == b"", args
        assert r.stderr.decode().endswith(": the value is not valid UTF-8\n"), r.stderr
        assert r.stderr.count(b"\n") == 1 and r.stderr.startswith(b"mint: error: ")
    assert len(run_mint(["log", "list"], env).stdout.splitlines()) == len(OLD_IDS)  # none removed
    # the last day there is: its end is a moment after it, not an overflow
    until = run_mint(["log", "search", "rsync", "--until", "9999-12-31"], env)
    assert until.returncode == 0 and len(until.stdout.splitlines()) == 3
    stats = run_mint(["log", "stats", "--until", "9999-12-31", "-f", "json"], env)
    assert stats.returncode == 0 and json.loads(stats.stdout)
    for flag, value in (("--since", "0001-01-01"), ("--until", "9" * 400 + "w")):
        r = run_mint(["log", "stats", flag, value], env)
        assert r.returncode == 2 and r.stderr.startswith(f"mint: error: {flag}: ".encode())
        assert r.stderr.count(b"\n") == 1


@pytest.mark.parametrize("kind", ["symlink", "directory"])
def test_a_lock_file_that_is_not_a_file(
    make_mock: Any, env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    """The lock next to logs.db guards creating the database: exit 3 naming it."""
    mint_dir(env).mkdir(parents=True)
    lock = mint_dir(env) / ".logs.db.lock"
    if kind == "symlink":
        lock.symlink_to(tmp_path / "elsewhere")
    else:
        lock.mkdir()
    r = chat(make_mock(), env, "hi")
    assert r.stdout == b"Mock reply to: hi\n" and r.returncode == 3
    error, note = r.stderr.decode().splitlines()
    assert error == f"mint: error: {lock} is a symbolic link or not a file; mint will not use it"
    # the reply came whole: its journal stays until it can be saved
    assert note.startswith("mint: the reply is kept; save it with: mint chat --resume ")
    r = run_mint(["log", "list"], env)
    assert r.returncode == 3 and str(lock) in r.stderr.decode()
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "42"])
def test_a_message_body_that_is_not_a_json_object(
    make_mock: Any, env: dict[str, str], tmp_path: Path, body: str
) -> None:
    """A hand-edited log is a damaged database: exit 3, for reading and continuing."""
    server = make_mock(log=tmp_path / "requests.jsonl")
    assert chat(server, env, "first").returncode == 0
    query(env, "SELECT 1")
    with contextlib.closing(sqlite3.connect(mint_dir(env) / "logs.db")) as conn:
        conn.execute("UPDATE messages SET body = ? WHERE position = 0", (body,))
        conn.commit()
    for args in (["log", "show"], ["log", "show", "-f", "json"]):
        r = run_mint(args, env)
        assert r.returncode == 3 and r.stdout == b""
        assert "the database is damaged (row " in r.stderr.decode() and r.stderr.count(b"\n") == 1
    r = chat(server, env, "-c", "second")
    assert r.returncode == 3 and "the database is damaged" in r.stderr.decode()
    assert len((tmp_path / "requests.jsonl").read_bytes().splitlines()) == 1  # never sent
