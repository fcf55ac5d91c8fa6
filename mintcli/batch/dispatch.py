"""``mint batch``'s words: a subcommand for remote batches, or the input of a
local or remote batch. Kept apart from command.py, which the remote backend
imports, so that the two do not import each other."""

from __future__ import annotations

import os

from mintcli.base.terminal import Terminal
from mintcli.errors import UsageError
from mintcli.options.settings import BatchSettings


def dispatch(settings: BatchSettings, words: tuple[str, ...], term: Terminal) -> None:
    """``mint batch``'s words: ``status|fetch|cancel ID...`` (remote batches, unless a
    file has that name), or at most one INPUT, run locally or (--remote) remotely."""
    if words and words[0] in ("status", "fetch", "cancel") and not os.path.exists(words[0]):
        from mintcli.remote.commands import run_command

        run_command(settings, words[0], list(words[1:]), term)
        return
    if len(words) > 1:
        raise UsageError(f"one INPUT at most (got {len(words)}: {' '.join(words[:3])}...)")
    if settings.remote:  # the providers' batch services: a package of its own
        from mintcli.remote.run import run_remote

        run_remote(settings, words[0] if words else None, term)
        return
    from mintcli.batch.command import run_batch

    run_batch(settings, words[0] if words else None, term)
