"""The click layer: option declarations and wiring only. Work happens in the
modules these commands call, imported lazily so that ``mint --help`` and
``mint --version`` stay fast and never import httpx."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from mintcli import __version__

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
PROTOCOLS = click.Choice(["openai", "anthropic"])
FORMATS = click.Choice(["text", "raw", "jsonl", "json"])
POSITIVE = click.FloatRange(min=0, min_open=True)


def _terminal() -> Any:
    """The process's one Terminal, made by :func:`main` (see terminal.py)."""
    return click.get_current_context().find_root().obj


def connection_options(f: F) -> F:
    """Options shared by every command that talks to the gateway."""
    for decorator in reversed(
        [
            click.option(
                "--protocol",
                type=PROTOCOLS,
                help="Wire protocol.  [env: MINT_PROTOCOL; default: openai]",
            ),
            click.option(
                "--base-url",
                metavar="URL",
                help="Gateway base URL.  [env: MINT_BASE_URL; default: https://api.mint-cloud.ai/v1]",
            ),
            click.option("--api-key", metavar="KEY", help="API key.  [env: MINT_API_KEY]"),
            click.option(
                "--profile",
                metavar="NAME",
                help="Use [profiles.NAME] from the config file.  [env: MINT_PROFILE]",
            ),
            click.option(
                "--mock",
                is_flag=True,
                help="Talk to a built-in mock gateway on a free loopback port (offline, no key).",
            ),
            click.option(
                "-v",
                "--verbose",
                is_flag=True,
                help="Show request and response headers on stderr (key redacted).",
            ),
            click.option("--debug", is_flag=True, help="Show a traceback on internal errors."),
        ]
    ):
        f = decorator(f)
    return f


@click.group(
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


@cli.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  mint chat "写一首诗"
  git diff | mint chat "review this" -m anthropic/claude-sonnet-4-5 --protocol anthropic
  mint chat --format jsonl "hi" | jq -c 'select(.type=="text")'
  mint chat --tool weather.json "北京的天气怎么样?"
  mint chat --resume            # continue the last unfinished reply
  mint chat --mock --format json "hello" | jq .usage""",
)
@click.argument("prompt", nargs=-1)
@click.option(
    "-m", "--model", metavar="MODEL", help="Model name.  [env: MINT_MODEL; default: openai/gpt-4o]"
)
@click.option("-s", "--system", metavar="TEXT", help="System prompt.")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    metavar="N",
    help="Maximum output tokens (anthropic default: 4096).",
)
@click.option(
    "--temperature", type=click.FloatRange(min=0), metavar="T", help="Sampling temperature."
)
@click.option(
    "-o",
    "--option",
    "option",
    multiple=True,
    metavar="KEY=VALUE",
    help="Add a request body field; VALUE is parsed as JSON when it is valid JSON. Repeatable.",
)
@click.option("--messages", metavar="FILE|-", help="JSON array of earlier messages (OpenAI shape).")
@click.option(
    "-f", "--format", type=FORMATS, help="Output format.  [env: MINT_FORMAT; default: text]"
)
@click.option(
    "--reasoning", is_flag=True, help="Show reasoning/thinking text on stderr (text format)."
)
@click.option("--no-stdin", is_flag=True, help="Never read stdin.")
@click.option(
    "--stdin-timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="With a prompt in argv, how long to wait for stdin to send anything.  [default: 1]",
)
@click.option(
    "--tool",
    multiple=True,
    metavar="FILE|JSON",
    help="A tool definition (OpenAI, bare or Anthropic shape). Repeatable.",
)
@click.option("--tools", multiple=True, metavar="FILE", help="A JSON array of tool definitions.")
@click.option(
    "--tool-choice",
    metavar="auto|none|required|NAME",
    help="Whether and which tool the model must call.",
)
@click.option(
    "--max-retries",
    type=click.IntRange(min=0),
    metavar="N",
    help="Retries after a failure (0 disables).  [default: 5]",
)
@click.option(
    "--retry-base",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="First backoff delay.  [default: 1]",
)
@click.option(
    "--retry-max",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Longest single backoff delay.  [default: 60]",
)
@click.option(
    "--connect-timeout", type=POSITIVE, metavar="SECONDS", help="Connection timeout.  [default: 10]"
)
@click.option(
    "--idle-timeout",
    type=POSITIVE,
    metavar="SECONDS",
    help="Longest silence mid-stream before retrying.  [default: 60]",
)
@click.option(
    "--timeout", type=POSITIVE, metavar="SECONDS", help="Limit for the whole run, retries included."
)
@click.option(
    "--resume",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[ID]",
    help="Continue an unfinished reply (the latest, or ID); prints only the rest.",
)
@click.option("--no-journal", is_flag=True, help="Do not journal the reply for --resume.")
@click.option("--stats", is_flag=True, help="Print timing and token statistics after the reply.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the request that would be sent (key redacted); send nothing.",
)
@connection_options
def chat(**opts: Any) -> int:
    """Send PROMPT and stream the reply to stdout.

    PROMPT words are joined with spaces. If stdin is not a terminal it is read
    too: the arguments are the instruction, stdin the material (joined by a
    blank line). A '-' word stands for stdin at that place.
    """
    from mintcli.chat import run_chat

    run_chat(opts, _terminal())
    return 0


@cli.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  mint models
  mint models --format json | jq -r '.[].id'
  mint models --protocol anthropic""",
)
@click.option(
    "-f",
    "--format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@connection_options
def models(**opts: Any) -> int:
    """List the models the gateway offers ({base}/models)."""
    from mintcli.commands import run_models

    return run_models(opts, _terminal())


@cli.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  mint mock --port 8787 &
  export MINT_BASE_URL=http://127.0.0.1:8787/v1 MINT_API_KEY=test
  mint mock --fault status=429,retry_after=1,times=1 --log requests.jsonl""",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    default=0,
    show_default=True,
    help="Port (0 picks a free one).",
)
@click.option(
    "--script",
    type=click.Path(dir_okay=False),
    help="JSON/JSONL rules: canned replies, tool calls, faults.",
)
@click.option(
    "--log", type=click.Path(dir_okay=False), help="Append one JSON line per request received."
)
@click.option(
    "--piece-chars",
    type=click.IntRange(min=1),
    metavar="N",
    default=4,
    show_default=True,
    help="Characters per streamed piece.",
)
@click.option(
    "--delay",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    default=0.0,
    show_default=True,
    help="Seconds between pieces.",
)
@click.option(
    "--first-byte-delay",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    default=0.0,
    show_default=True,
    help="Seconds before a response starts.",
)
@click.option(
    "--fault",
    metavar="SPEC",
    help="Inject a fault in every response, e.g. drop=5 or status=503,times=2.",
)
@click.option("--debug", is_flag=True, hidden=True)
def mock(**opts: Any) -> int:
    """Run a local mock of the gateway (OpenAI and Anthropic wire formats).

    The first line on stdout is its base URL. It runs until SIGINT or SIGTERM.
    """
    from mintcli.commands import run_mock

    return run_mock(opts)


@cli.command(context_settings=CONTEXT)
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> int:
    """Print the shell completion script for SHELL.

    \b
    Examples:
      mint completion bash > ~/.local/share/bash-completion/completions/mint
      mint completion zsh > ~/.zfunc/_mint
      mint completion fish > ~/.config/fish/completions/mint.fish
    """
    from mintcli.docgen import completion_script

    click.echo(completion_script(shell), nl=False)
    return 0


@cli.group(context_settings=CONTEXT)
def journal() -> None:
    """Unfinished replies kept for 'mint chat --resume' (kept 7 days)."""


@journal.command("list", context_settings=CONTEXT)
@click.option(
    "-f",
    "--format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def journal_list(format: str) -> int:
    """List unfinished replies, newest first."""
    from mintcli.commands import run_journal_list

    return run_journal_list(format, _terminal())


@journal.command("show", context_settings=CONTEXT)
@click.argument("ident", metavar="ID")
def journal_show(ident: str) -> int:
    """Print the text received so far for reply ID."""
    from mintcli.commands import run_journal_show

    return run_journal_show(ident, _terminal())


@journal.command("rm", context_settings=CONTEXT)
@click.argument("ident", metavar="ID", required=False)
@click.option("--all", "all_", is_flag=True, help="Remove every unfinished reply.")
def journal_rm(ident: str | None, all_: bool) -> int:
    """Remove an unfinished reply (or --all)."""
    from mintcli.commands import run_journal_rm

    return run_journal_rm(ident, all_, _terminal())


@cli.command("_models", hidden=True)
def complete_models() -> int:
    """Model names from the config file, for shell completion."""
    from mintcli.config import configured_models

    for name in configured_models():
        click.echo(name)
    return 0


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("MINT_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    """The one error boundary: every outcome of a command becomes one stderr
    line (at most) and an exit code here, and nowhere else."""
    from mintcli.errors import ExitCode, MintError, UsageError
    from mintcli.terminal import Terminal, silence_stdout

    args = sys.argv[1:] if argv is None else argv
    term = Terminal.from_process()
    try:
        # make_context + invoke is click's own main() without its error handling,
        # which would turn a broken pipe into exit 1 before we could see it.
        with cli.make_context("mint", list(args), obj=term) as ctx:
            result = cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)
        return int(ExitCode.USAGE)
    except click.UsageError as exc:
        if exc.ctx is not None:
            click.echo(exc.ctx.get_usage(), err=True)
        click.echo(f"mint: error: {exc.format_message()}", err=True)
        return int(ExitCode.USAGE)
    except click.ClickException as exc:
        click.echo(f"mint: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except MintError as exc:
        if isinstance(exc, UsageError) and exc.usage:
            click.echo(exc.usage, err=True)
        term.error(exc.message)
        for note in exc.notes:
            term.note(note)
        return int(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        term.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as other filters do.
        silence_stdout()
        return int(ExitCode.BROKEN_PIPE)
    except Exception as exc:
        if _debug_requested(args):
            raise
        click.echo(
            f"mint: error: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for a traceback)",
            err=True,
        )
        return int(ExitCode.INTERNAL)
    return result if isinstance(result, int) else 0
