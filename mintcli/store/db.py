"""Opening the log database, and SQLite's failures as mint's errors.

Every connection: ``busy_timeout`` (a writer waits for another's transaction
instead of failing), foreign keys on, ``secure_delete`` (``mint log rm``
overwrites what it removes). The first opening creates the file 0600 and
sets WAL mode (kept in the file); schema changes run under a lock file, so
that twenty mint processes starting on a new database create it once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

from mintcli.errors import ConfigError, MintError, WriteFailed
from mintcli.storage.paths import data_dir, private_dir
from mintcli.store.cjk import indexed_value
from mintcli.store.schema import CURRENT, FTS, FTS_DROP, FTS_SINCE, MIGRATIONS

BUSY_TIMEOUT = 60.0  # seconds a writer waits for the others (each holds the lock briefly)


def db_path() -> Path:
    return data_dir() / "logs.db"


def failure(exc: sqlite3.Error, path: Path, doing: str) -> MintError:
    """What went wrong with the database, in words, as a mint error."""
    name = getattr(exc, "sqlite_errorname", "")
    if name.startswith("SQLITE_NOTADB") or name.startswith("SQLITE_CORRUPT"):
        why = "the file is damaged (not a SQLite database, or corrupt)"
        hint = f"; move it away (mint then starts a new one): mv {path} {path}.damaged"
        return ConfigError(f"cannot {doing} in {path}: {why}{hint}")
    # A write that found no room, a failing disk or a read-only file: exit 11, as
    # for any local write mint makes; the rest is a file mint cannot use (exit 3).
    if name.startswith("SQLITE_FULL"):
        return WriteFailed(f"cannot {doing} in {path}: the disk is full")
    if name.startswith("SQLITE_IOERR"):
        why = "a read or write of the file failed (disk I/O error: a full or failing disk?)"
        return WriteFailed(f"cannot {doing} in {path}: {why}")
    if name.startswith("SQLITE_READONLY") or name.startswith("SQLITE_PERM"):
        return WriteFailed(f"cannot {doing} in {path}: the database is read-only")
    if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED"):
        why = f"another process kept it locked for more than {BUSY_TIMEOUT:.0f} s"
        return ConfigError(f"cannot {doing} in {path}: {why}")
    return ConfigError(f"cannot {doing} in {path}: {exc}")


def _check_file(path: Path, create: bool) -> bool:
    """Whether the file is there (creating it 0600 if asked); never a symlink."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if not create:
            return False
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        except FileExistsError:
            return _check_file(path, create)  # another mint made it first
        except OSError as exc:
            raise ConfigError(f"cannot create {path}: {exc.strerror}") from None
        return True
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} is a symbolic link or not a file; mint will not use it")
    if info.st_uid != os.getuid():
        raise ConfigError(f"{path} belongs to another user; mint will not use it")
    return True


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    return conn


def open_db(create: bool, doing: str = "open the log database") -> sqlite3.Connection | None:
    """The database, migrated to this mint's schema (None: there is none and
    ``create`` is false). Raises a clear error for a symlink, a damaged file or
    a file written by a newer mint."""
    path = data_dir() / "logs.db"
    private_dir(path.parent)
    if not _check_file(path, create):
        return None
    for suffix in ("-journal", "-wal", "-shm"):  # SQLite opens these itself: a FIFO hangs it
        _check_file(path.with_name(path.name + suffix), create=False)
    conn = None
    try:
        conn = connect(path)
        if conn.execute("PRAGMA user_version").fetchone()[0] != CURRENT:
            _migrate(conn, path)
        return conn
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise failure(exc, path, doing) from None
    except BaseException:
        if conn is not None:
            conn.close()
        raise


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    with _creation_lock(path):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > CURRENT:
            raise ConfigError(
                f"{path} was written by a newer mint (log schema version {version}; this mint "
                f"reads up to {CURRENT}): upgrade mint to use it"
            )
        if version == CURRENT:
            return
        if version == 0:
            conn.execute("PRAGMA journal_mode = WAL")
        with transaction(conn):
            for script in MIGRATIONS[version:]:
                for statement in _statements(script):
                    conn.execute(statement)
            if version < FTS_SINCE:
                if version > 0:  # the texts already there, as the new index sees them
                    _fill_indexed(conn)
                _create_fts(conn, fill=version > 0)
            conn.execute(f"PRAGMA user_version = {CURRENT}")


def _fill_indexed(conn: sqlite3.Connection) -> None:
    """``texts.indexed`` for the blocks with Han or kana in them (only a block
    with a character beyond ASCII is looked at)."""
    conn.create_function("mint_indexed", 1, indexed_value, deterministic=True)
    conn.execute(
        "UPDATE texts SET indexed = mint_indexed(text)"
        " WHERE text GLOB '*[^' || char(1) || '-' || char(127) || ']*'"
    )


def _statements(script: str) -> list[str]:
    """A script's statements (execute() runs one at a time, inside our transaction;
    executescript() would commit first). Triggers hold ';' inside BEGIN...END."""
    out: list[str] = []
    current = ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            out.append(current.strip())
            current = ""
    if current.strip():
        out.append(current.strip())  # the last one may lack its ';'
    return out


def _create_fts(conn: sqlite3.Connection, fill: bool) -> None:
    """The index, made anew (``fill``: indexing the texts already there)."""
    for statement in _statements(FTS_DROP):
        conn.execute(statement)
    conn.execute("SAVEPOINT fts")
    try:
        for statement in _statements(FTS):
            conn.execute(statement)
    except sqlite3.OperationalError as exc:
        conn.execute("ROLLBACK TO fts")
        conn.execute("RELEASE fts")
        if "fts5" in str(exc):
            return  # no FTS5 here: search scans
        raise
    conn.execute("RELEASE fts")
    if fill:
        conn.execute("INSERT INTO texts_fts (texts_fts) VALUES ('rebuild')")


def has_fts(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'texts_fts'").fetchone()
    return row is not None


@contextlib.contextmanager
def _creation_lock(path: Path) -> Iterator[None]:
    lock = path.with_name(".logs.db.lock")
    try:
        # O_NONBLOCK: a FIFO there fails at once (ENXIO) instead of waiting for a reader
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o600)
    except OSError as exc:  # a symlink (ELOOP), a directory (EISDIR), no permission...
        if os.path.islink(lock) or (os.path.lexists(lock) and not os.path.isfile(lock)):
            raise ConfigError(f"{lock} is a symbolic link or not a file; mint will not use it"
                              ) from None  # fmt: skip
        raise ConfigError(f"cannot open {lock}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE (the write lock now, so a read-modify-write is never
    overtaken), COMMIT at the end, ROLLBACK on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def peek() -> sqlite3.Connection | None:
    """The database opened for reading only, changing nothing on disk (shell
    completion): no folder or file made, no migration, and no ``-wal``/``-shm``
    files left behind. None where there is none or it cannot be read.

    A read-only connection to a WAL database makes those two files and cannot
    remove them; so unless a writer has them open already, the file is opened
    as immutable (a writer starting meanwhile may make the read fail: None)."""
    path = db_path()
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
        return None
    live = all(os.path.exists(f"{path}{end}") for end in ("-wal", "-shm"))
    uri = path.resolve().as_uri() + ("?mode=ro" if live else "?immutable=1")
    try:
        return sqlite3.connect(uri, uri=True, timeout=1.0)
    except sqlite3.Error:
        return None


@contextlib.contextmanager
def opened(create: bool, doing: str) -> Iterator[sqlite3.Connection | None]:
    """The database for one command's work, closed after; SQLite errors during
    the work become a clear mint error naming ``doing``."""
    conn = open_db(create, doing)
    if conn is not None and create:
        # A writer's page cache of 256 KiB rather than SQLite's 2 MiB: saving a long
        # reply then peaks about 2 MB lower (a 1,000,000-piece reply: 36.5 -> 34.6 MB,
        # level from 100,000 pieces on, when FTS5 flushes its pending terms).
        conn.execute("PRAGMA cache_size = -256")
    try:
        yield conn
    except sqlite3.Error as exc:
        raise failure(exc, db_path(), doing) from None
    finally:
        if conn is not None:
            conn.close()
