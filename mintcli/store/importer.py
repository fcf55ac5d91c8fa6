"""The one-time import of the conversation files of earlier mint versions.

All waiting files go into the database in one transaction; before it commits,
each conversation is read back and compared with its file (the same messages,
the same number of exchanges). Only after the commit are the files moved to
``conversations.imported/`` beside the database; if anything fails, nothing is
imported, every file stays where it was, and the error says why. A file that is
not a conversation (not JSON, an unknown format) is not imported and is moved
aside with the others, so that it is kept but not tried again; the caller is
told about it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from mintcli.errors import ConfigError, UsageError
from mintcli.storage.paths import private_dir
from mintcli.store import read, write
from mintcli.store.db import transaction
from mintcli.store.files import conversations_dir, load, waiting_files
from mintcli.store.model import Conversation
from mintcli.store.schema import MARK_COPIES

BACKUP = "conversations.imported"


def import_files(conn: sqlite3.Connection) -> list[str]:
    """Import the waiting files, if any; returns notes for the user."""
    if not waiting_files():
        return []
    directory = conversations_dir()
    try:
        with _folder_lock(directory) as there:  # an older mint may be writing a file now
            paths = waiting_files() if there else []
            if not paths:
                return []  # another mint imported them meanwhile
            imported, damaged = _import(conn, paths)
            notes = _move_aside(directory, imported + [p for p, _ in damaged])
    except ConfigError as exc:
        raise ConfigError(
            f"cannot import the saved conversations of {directory} into the log database: "
            f"{exc.message}; the files are left where they are"
        ) from None
    except sqlite3.Error as exc:
        raise ConfigError(
            f"cannot import the saved conversations of {directory} into the log database: "
            f"{exc}; the files are left where they are"
        ) from None
    if imported:
        notes.insert(0, f"imported {len(imported)} saved conversations into the log database "
                        f"(the files are kept in {directory.with_name(BACKUP)})")  # fmt: skip
    notes += [f"{why}; not imported, kept in {directory.with_name(BACKUP)}" for _, why in damaged]
    return notes


def _import(
    conn: sqlite3.Connection, paths: list[Path]
) -> tuple[list[Path], list[tuple[Path, str]]]:
    imported: list[Path] = []
    damaged: list[tuple[Path, str]] = []
    with transaction(conn):
        for path in paths:
            try:
                conversation = load(path)
            except UsageError as exc:
                if "cannot read" in exc.message:
                    raise ConfigError(exc.message) from None
                damaged.append((path, exc.message))
                continue
            existing = read.load(conn, conversation.id)
            if existing is None:
                write.insert_conversation(conn, conversation)
            elif not _same(existing, conversation):
                raise ConfigError(
                    f"{path} holds conversation {conversation.id}, which the database also "
                    "holds, with other messages (move one of them away)"
                )
            imported.append(path)
        conn.execute(MARK_COPIES)  # the file store copied a fork's earlier exchanges too
        for path in imported:  # read again: the whole history is never held at once
            conversation = load(path)
            back = read.load(conn, conversation.id)
            if back is None or not _same(back, conversation):
                raise ConfigError(f"conversation {conversation.id} did not read back the same")
    return imported, damaged


def _same(stored: Conversation, original: Conversation) -> bool:
    return (
        stored.messages == original.messages
        and len(stored.exchanges) == len(original.exchanges)
    )  # fmt: skip


def _move_aside(directory: Path, paths: list[Path]) -> list[str]:
    """The files into the backup folder (already in the database: a failure
    here loses nothing, and the next run finds them again and moves them)."""
    backup = private_dir(directory.with_name(BACKUP))
    notes = []
    for path in paths:
        target = backup / path.name
        while target.exists():
            target = target.with_name(f"{target.stem}.{os.urandom(2).hex()}.json")
        try:
            os.replace(path, target)
        except FileNotFoundError:
            pass  # another mint moved it
        except OSError as exc:
            notes.append(f"cannot move {path} to {backup}: {exc.strerror}")
    with contextlib.suppress(OSError):
        (directory / ".lock").unlink()
        directory.rmdir()  # left only if something else is in it
    return notes


@contextlib.contextmanager
def _folder_lock(directory: Path) -> Iterator[bool]:
    """The file store's own lock; False when the folder is gone (not made again)."""
    if not os.path.lexists(directory):
        yield False
        return
    private_dir(directory)  # refuses a symlink or another user's folder
    try:
        # O_NONBLOCK: a FIFO there fails at once (ENXIO) instead of waiting for a reader
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
        fd = os.open(directory / ".lock", flags, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot lock {directory}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield directory.is_dir()
    finally:
        os.close(fd)
