"""The commands over what mint keeps: ``mint journal`` (unfinished replies, for
``--resume``) and ``mint log`` (the saved conversations). Declared here and
added to the command tree by main.py; their work is in commands.py and
log_commands.py, imported when a command runs."""

from __future__ import annotations

from typing import Any

import click

from mintcli.cli.clicktable import CONTEXT, IdArgument, MintGroup, command
from mintcli.options import settings as opts


@click.group(cls=MintGroup, context_settings=CONTEXT)
def journal() -> None:
    """Unfinished replies kept for 'mint chat --resume' (kept 7 days)."""


@command(journal, "list", opts.ListSettings)
def journal_list(settings: opts.ListSettings, term: Any) -> None:
    """List unfinished replies, newest first."""
    from mintcli.cli.commands import run_journal_list

    run_journal_list(settings.format, term)


@command(journal, "show", None, IdArgument("journal"))
def journal_show(settings: None, term: Any, ident: str) -> None:
    """Print the text received so far for reply ID."""
    from mintcli.cli.commands import run_journal_show

    run_journal_show(ident, term)


@command(journal, "rm", opts.RemoveSettings, IdArgument("journal", required=False))
def journal_rm(settings: opts.RemoveSettings, term: Any, ident: str | None) -> None:
    """Remove an unfinished reply (or --all)."""
    from mintcli.cli.commands import run_journal_rm

    run_journal_rm(ident, settings.all, term)


@click.group(
    "log",
    cls=MintGroup,
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  mint log list
  mint log show                 # the latest conversation
  mint log show ID --format json > conv.json && mint chat --messages conv.json "next"
  mint log rm ID
  mint log search rsync --since 30d
  mint log stats --by week""",
)
def log_group() -> None:
    """Saved conversations, for 'mint chat -c' and '--conversation ID'. Every
    finished exchange is kept in one SQLite database, $XDG_DATA_HOME/mint/logs.db
    (default ~/.local/share/mint/logs.db), until removed; --no-log, MINT_LOG=0 or
    log = false in the config file turns saving off."""


@command(log_group, "list", opts.ListSettings)
def log_list(settings: opts.ListSettings, term: Any) -> None:
    """List saved conversations, the latest first: ID, time, model, first words."""
    from mintcli.cli.log_commands import run_log_list

    run_log_list(settings.format, term)


@command(log_group, "show", opts.ListSettings, IdArgument("conversation", required=False))
def log_show(settings: opts.ListSettings, term: Any, ident: str | None) -> None:
    """Print conversation ID (default: the latest). --format json prints its
    messages as --messages reads them."""
    from mintcli.cli.log_commands import run_log_show

    run_log_show(ident, settings.format, term)


@command(log_group, "rm", opts.LogRemoveSettings, IdArgument("conversation", required=False))
def log_rm(settings: opts.LogRemoveSettings, term: Any, ident: str | None) -> None:
    """Remove a saved conversation (or --all)."""
    from mintcli.cli.log_commands import run_log_rm

    run_log_rm(ident, settings.all, term)


@command(
    log_group, "search", opts.SearchSettings, click.Argument(["query"], nargs=-1, required=True)
)
def log_search(settings: opts.SearchSettings, term: Any, query: tuple[str, ...]) -> None:
    """Find the messages (prompts, replies, system prompts, tool results) that hold
    every word of QUERY, newest first: conversation ID, time, model, role and a
    snippet. 'word*' matches words that start with word."""
    from mintcli.cli.log_commands import run_log_search

    run_log_search(settings, " ".join(query), term)


@command(log_group, "stats", opts.StatsSettings)
def log_stats(settings: opts.StatsSettings, term: Any) -> None:
    """Requests, input and output tokens per model and day (or --by week or model)."""
    from mintcli.cli.log_commands import run_log_stats

    run_log_stats(settings, term)
