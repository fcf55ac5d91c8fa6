"""The conversation files of mint before the database (format v1): one
``$XDG_DATA_HOME/mint/conversations/ID.json`` per conversation::

    {"v": 1, "id", "created", "updated",
     "messages": [...], "exchanges": [{"time", "model", "protocol", "usage", "finish_reason"}]}

Only read now, by the import (importer.py)."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from mintcli.base.capped import open_unwaited
from mintcli.errors import UsageError
from mintcli.storage.paths import data_dir
from mintcli.store.model import Conversation

VERSION = 1


def conversations_dir() -> Path:
    return data_dir() / "conversations"


def load(path: Path) -> Conversation:
    try:
        with open_unwaited(path, os.O_NOFOLLOW) as fh:  # a FIFO reads as empty: damaged
            obj = orjson.loads(fh.read())
    except OSError as exc:
        raise UsageError(f"cannot read conversation {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise UsageError(f"conversation {path.stem} is damaged (not JSON): {path}") from None
    if not isinstance(obj, dict) or obj.get("v") != VERSION:
        raise UsageError(f"conversation {path.stem} has an unknown format: {path}")
    messages, exchanges = obj.get("messages"), obj.get("exchanges")
    if not isinstance(messages, list) or not isinstance(exchanges, list):
        raise UsageError(f"conversation {path.stem} is damaged: {path}")
    if not all(isinstance(m, dict) for m in messages + exchanges):
        raise UsageError(f"conversation {path.stem} is damaged: {path}")
    return Conversation(
        path.stem, obj.get("created", 0.0), obj.get("updated", 0.0), messages, exchanges
    )


def waiting_files() -> list[Path]:
    """The conversation files not imported yet (none: the folder is gone)."""
    directory = conversations_dir()
    try:
        with os.scandir(directory) as entries:
            names = [e.name for e in entries if e.name.endswith(".json")]
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        names = []  # unreadable: the import will say so when it opens the folder
    return [directory / n for n in sorted(names) if not n.startswith(".")]
