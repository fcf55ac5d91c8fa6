"""The move of a log database from schema version 1 to 2, and the cost of the
Chinese/Japanese index on the save path.

    python benchmarks/log_migrate.py                 # 10,000 messages
    python benchmarks/log_migrate.py --messages 100000

Figures:

* the migration (in-process ``open_db`` on a database of version 1, whose
  copied exchanges are marked and whose index is made anew): wall and CPU
  seconds, for messages of about 100 words, one in three of them Chinese, an
  exchange per two messages, one conversation in ten forked (copied);
* ``mint log search`` for a Chinese word and for an English one afterwards;
* ``index_text`` (what the index's triggers call for each block written) on
  a 64 KiB block of English and of Chinese text, per block.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from run import child_env  # noqa: E402

MINT = [sys.executable, "-m", "mintcli"]
ENGLISH = [f"w{n}" for n in range(3000)] + ["rsync", "backup"] * 20
CHINESE = "床前明月光疑是地上霜举头望低思故乡春眠不觉晓处闻啼鸟夜来风雨声花落知多少"


def build_v1(path: Path, messages: int) -> None:
    """A database as mint with schema version 1 wrote it."""
    from mintcli.store import schema

    rng = random.Random(7)
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.executescript(schema.V1 + schema.FTS_V1)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        for n in range(messages):
            conv = f"c{n // 20:07d}"
            if n % 20 == 0:
                conn.execute("INSERT INTO conversations VALUES (?, 0, 0)", (conv,))
            if n % 2 == 0:  # an exchange per two messages
                conn.execute(
                    "INSERT INTO exchanges (conversation_id, position, time, model,"
                    " input_tokens, output_tokens, duration) VALUES (?, ?, ?, 'm', ?, ?, 1.5)",
                    (conv, n % 20 // 2, 1e9 + n * 0.731, rng.randint(10, 900), 50),
                )
            if n % 200 == 199:  # one conversation in ten forked: its exchanges copied
                fork = conv + "f"
                conn.execute("INSERT INTO conversations VALUES (?, 0, 0)", (fork,))
                conn.execute(
                    "INSERT INTO exchanges (conversation_id, position, time, model, input_tokens,"
                    " output_tokens, duration) SELECT ?, position, time, model, input_tokens,"
                    " output_tokens, duration FROM exchanges WHERE conversation_id = ?",
                    (fork, conv),
                )
            if n % 3 == 0:
                text = "".join(rng.choices(CHINESE, k=150))
            else:
                text = " ".join(rng.choices(ENGLISH, k=100))
            row = conn.execute(
                "INSERT INTO messages (conversation_id, position, role, body, text_content,"
                " digest) VALUES (?, ?, 'user', '{}', 1, x'')",
                (conv, n % 20),
            )
            conn.execute(
                "INSERT INTO texts (message_id, part, text) VALUES (?, 0, ?)", (row.lastrowid, text)
            )
        conn.execute("COMMIT")
        conn.execute("PRAGMA user_version = 1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = child_env(home)
        os.environ.update(env)
        from mintcli.store import cjk, db

        path = db.db_path()
        path.parent.mkdir(parents=True, mode=0o700)
        build_v1(path, args.messages)
        os.chmod(path, 0o600)
        size = path.stat().st_size
        wall, cpu = time.perf_counter(), time.process_time()
        conn = db.open_db(create=False)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert conn is not None and conn.execute("PRAGMA user_version").fetchone() == (2,)
        copies, rows = conn.execute(
            "SELECT count(copy_of), count(*) FROM exchanges"
        ).fetchone()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        print(f"migration of {args.messages:,} messages and {rows:,} exchanges ({copies:,} "
              f"copies found): {wall:.2f} s wall, {cpu:.2f} s CPU; the file "
              f"{size / 1e6:.1f} -> {path.stat().st_size / 1e6:.1f} MB")  # fmt: skip
        for word in ("明月", "rsync"):
            start = time.perf_counter()
            out = subprocess.run(
                [*MINT, "log", "search", "-n", "1000", word], env=env, capture_output=True,
                check=True,
            ).stdout  # fmt: skip
            took, hits = time.perf_counter() - start, out.count(b"\n")
            print(f"mint log search {word}: {took:.2f} s wall, {hits} hits")
    english = " ".join(random.Random(1).choices(ENGLISH, k=12_000))[: 1 << 16]
    chinese = "".join(random.Random(1).choices(CHINESE, k=1 << 16))
    for name, block in (("English", english), ("Chinese", chinese)):
        per = min(timeit.repeat(lambda b=block: cjk.index_text(b), number=20, repeat=5)) / 20
        print(f"index_text on a 64 KiB block of {name}: {per * 1e3:.2f} ms")
    print(f"load: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
