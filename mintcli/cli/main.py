"""The commands, and the one error boundary (:func:`main`).

Options are not declared here: each command names its settings class
(``options/settings.py``) and gets one click option per row (``clicktable.py``). Work
happens in the modules the commands call, imported lazily so that ``mint
--help`` stays fast and never imports httpx.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from mintcli import __version__
from mintcli.cli.clicktable import CONTEXT, InputArgument, MintGroup, command
from mintcli.cli.history import journal, log_group
from mintcli.errors import ExitCode, UsageError, exit_status_help
from mintcli.options import settings as opts  # the option table: one settings class per command

if TYPE_CHECKING:
    from mintcli.base.terminal import Terminal

SHELLS = ("bash", "zsh", "fish")


@click.group(
    cls=MintGroup,
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  mint chat "写一首诗"
  git diff | mint chat "review this diff"
  mint chat --format json "2+2?" | jq -r .text
  mint chat --mock "try me offline"
  mint models

Run 'mint COMMAND --help' for a command's options, 'man mint' for the manual.""",
)
@click.version_option(
    __version__, "-V", "--version", prog_name="mint", message="%(prog)s %(version)s"
)
def cli() -> None:
    """mint: stream replies from the Mint Cloud AI gateway (OpenAI and Anthropic
    protocols) as a well-behaved Unix filter."""


@command(
    cli,
    "chat",
    opts.ChatSettings,
    click.Argument(["prompt"], nargs=-1),
    epilog="""\b
Examples:
  mint chat "写一首诗"
  git diff | mint chat "review this" -m anthropic/claude-sonnet-4-5 --protocol anthropic
  mint chat --format jsonl "hi" | jq -c 'select(.type=="text")'
  mint chat --tool weather.json "北京的天气怎么样?"
  mint chat -c "and in Shanghai?"   # continue the latest conversation
  mint chat -a photo.png "what is in this picture?"
  mint chat --schema label.json "classify: $(cat mail.txt)" | jq -r .label
  mint chat --resume            # continue the last unfinished reply
  mint chat -x "a bash one-liner that counts lines" > count.sh   # the code block only
  mint chat --mock --format json "hello" | jq .usage"""
    + exit_status_help(),
)
def chat(settings: opts.ChatSettings, term: Any, prompt: tuple[str, ...]) -> None:
    """Send PROMPT and stream the reply to stdout.

    PROMPT words are joined with spaces. If stdin is not a terminal it is read
    too: the arguments are the instruction, stdin the material (joined by a
    blank line). A '-' word stands for stdin at that place.
    """
    from mintcli.cli.chat import run_chat, wants_session

    if wants_session(settings, prompt, term):
        from mintcli.session.loop import run_session

        run_session(settings, prompt, term, run_chat)
    else:
        run_chat(settings, prompt, term)


@command(
    cli,
    "batch",
    opts.BatchSettings,
    InputArgument("[INPUT|-] | status|fetch|cancel ID...", ("status", "fetch", "cancel")),
    epilog=f"""\b
Examples:
  mint batch prompts.jsonl > results.jsonl
  mint batch --lines --template 'Translate to French: {{}}' strings.txt -O fr.jsonl
  mint batch -j 32 --resume -O results.jsonl prompts.jsonl    # rerun to finish
  mint batch --shard 2/4 -O part-2.jsonl prompts.jsonl        # job 2 of 4
  mint batch --remote -O results.jsonl prompts.jsonl          # the provider's batch service
  mint batch status batch_abc123                              # a remote batch's state
  jq -r 'select(.error) | .error.message' results.jsonl

Exit status: 0 when every item succeeded; {int(ExitCode.ITEMS_FAILED)}:
{ExitCode.ITEMS_FAILED.meaning}; otherwise the code of what stopped the whole batch
(see 'man mint').""",
)
def batch(settings: opts.BatchSettings, term: Any, words: tuple[str, ...]) -> None:
    """Run many prompts: JSON lines in (INPUT, or stdin), one JSON result line
    per item out.

    Each input line is an object with "prompt" or "messages" and optionally
    "id", "model", "system", "tools", "tool_choice", "max_tokens",
    "temperature", "protocol" and other request body fields; options on the
    command line apply to every item that does not set its own. Items run
    CONCURRENCY at a time over kept-alive connections, with the retries and
    continuation of 'mint chat'; results come in input order (--unordered: as
    they finish). With --remote the provider's batch service runs them (about
    half the price, within 24 hours); 'mint batch status|fetch|cancel ID...'
    act on remote batches by id.
    """
    from mintcli.batch.dispatch import dispatch

    dispatch(settings, words, term)


@command(
    cli,
    "models",
    opts.ModelsSettings,
    epilog="""\b
Examples:
  mint models
  mint models --format json | jq -r '.[].id'
  mint models --protocol anthropic""",
)
def models(settings: opts.ModelsSettings, term: Any) -> None:
    """List the models the gateway offers ({base}/models)."""
    from mintcli.cli.commands import run_models

    run_models(settings, term)


@command(
    cli,
    "mock",
    opts.MockSettings,
    epilog="""\b
Examples:
  mint mock --port 8787 &
  export MINT_BASE_URL=http://127.0.0.1:8787/v1 MINT_API_KEY=test
  mint mock --fault status=429,retry_after=1,times=1 --log requests.jsonl""",
)
def mock(settings: opts.MockSettings, term: Any) -> None:
    """Run a local mock of the gateway (OpenAI and Anthropic wire formats).

    The first line on stdout is its base URL. It runs until SIGINT or SIGTERM.
    """
    from mintcli.cli.commands import run_mock

    run_mock(settings)


@command(cli, "completion", None, click.Argument(["shell"], type=click.Choice(SHELLS)))
def completion(settings: None, term: Any, shell: str) -> None:
    """Print the shell completion script for SHELL.

    \b
    Examples:
      mint completion bash > ~/.local/share/bash-completion/completions/mint
      mint completion zsh > ~/.zfunc/_mint
      mint completion fish > ~/.config/fish/completions/mint.fish
    """
    from mintcli.cli.commands import run_completion

    run_completion(shell, term)


cli.add_command(journal)
cli.add_command(log_group)


@command(cli, "_complete", None, click.Argument(["what"]), hidden=True)
def complete_values(settings: None, term: Any, what: str) -> None:
    """Values for shell completion: models, profiles, journals, conversations (hidden)."""
    from mintcli.cli.commands import run_complete

    run_complete(what, term)


def _all_keys(term: Terminal, args: list[str]) -> None:
    """Before an error is printed: every API key this run could be using joins
    the secrets, for errors raised before a command's settings were resolved
    (an option's check quotes the value it got) and by commands that use no
    key at all (``mint log show KEY``). Only on this path: it reads the config.
    It never raises: whatever it meets (the error may be about that very config
    file), the error being handled is still the one printed."""
    try:
        from mintcli.options.config import configured

        term.secrets.add(os.environ.get(opts.env_name("api_key")))
        flags = opts.Common.rows["api_key"].flags  # as the option table spells them
        for at, arg in enumerate(args):
            if arg in flags and at + 1 < len(args):
                term.secrets.add(args[at + 1])
            elif arg.startswith(tuple(f"{flag}=" for flag in flags)):
                term.secrets.add(arg.partition("=")[2])
        for key in configured("api_key"):
            term.secrets.add(key)
    except Exception:  # the keys found so far are kept; the error still shows
        pass


def main(argv: list[str] | None = None) -> int:
    """The one error boundary: every outcome of a command becomes one stderr
    line (at most) and an exit code here, and nowhere else."""
    from mintcli.base.terminal import Terminal, silence_stdout, stop_taking_signals
    from mintcli.errors import WRITE_ERRNOS, Interrupted, MintError

    args = sys.argv[1:] if argv is None else argv
    term = Terminal.from_process()
    try:
        # make_context + invoke is click's own main() without its error handling,
        # which would turn a broken pipe into exit 1 before we could see it.
        with cli.make_context("mint", list(args), obj=term) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        if exc.exit_code == 0 and sys.stdout is None:
            # --help or --version, printed by click into a stdout the shell closed
            term.error("cannot write to stdout: stdout is closed")
            return int(ExitCode.WRITE_FAILED)
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)
        return int(ExitCode.USAGE)
    except click.UsageError as exc:
        if exc.ctx is not None:
            click.echo(exc.ctx.get_usage(), err=True)
        _all_keys(term, args)
        term.error(" ".join(exc.format_message().split()))  # click's may span lines
        return int(ExitCode.USAGE)
    except click.ClickException as exc:
        _all_keys(term, args)
        term.error(exc.format_message())
        return exc.exit_code
    except MintError as exc:
        if isinstance(exc, Interrupted):
            stop_taking_signals()
        if isinstance(exc, UsageError) and exc.usage:
            click.echo(exc.usage, err=True)
        _all_keys(term, args)
        term.error(exc.message)
        for note in exc.notes:
            term.note(note)
        return int(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        stop_taking_signals()
        term.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as other filters do.
        silence_stdout()
        return int(ExitCode.BROKEN_PIPE)
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno in WRITE_ERRNOS:
            # click's own output (--help, --version) on a full or broken stdout
            silence_stdout()
            term.error(f"cannot write to stdout: {exc.strerror}")
            return int(ExitCode.WRITE_FAILED)
        if "--debug" in args or os.environ.get(opts.env_name("debug"), "") not in ("", "0"):
            raise
        _all_keys(term, args)
        term.error(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)"
        )
        return int(ExitCode.INTERNAL)
    return 0
