"""The click layer: commands wired to the option table, and the one error boundary.

Options are not declared here: each command names its settings class
(``settings.py``) and gets one click option per row. Work happens in the modules
the commands call, imported lazily so that ``mint --help`` stays fast and never
imports httpx.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import Field
from typing import Any

import click
from click.core import ParameterSource

from mintcli import __version__, kinds
from mintcli.errors import ExitCode
from mintcli.settings import (
    OTHER,
    SECTIONS,
    BatchSettings,
    ChatSettings,
    ListSettings,
    MockSettings,
    ModelsSettings,
    Opt,
    RemoveSettings,
    env_name,
    table,
)

SHELLS = ("bash", "zsh", "fish")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class TableOption(click.Option):
    """A click option made from a row of the option table (kept as ``.opt``)."""

    def __init__(self, name: str, f: Field[Any], opt: Opt) -> None:
        decls = list(opt.flags)
        if opt.off_flag:
            decls = [*opt.flags[:-1], f"{opt.flags[-1]}/{opt.off_flag}"]
        extra: dict[str, Any] = {}
        if isinstance(opt.kind, kinds.Boolean):
            extra = {"is_flag": True, "default": f.default}
        elif isinstance(opt.kind, kinds.Many):
            extra = {"multiple": True}
        elif opt.optional_value:
            extra = {"is_flag": False, "flag_value": ""}
        metavar = opt.metavar
        if isinstance(opt.kind, kinds.Choice):
            metavar = "[" + "|".join(opt.kind.choices) + "]"
        super().__init__(
            [*decls, name], help=_help(name, f, opt), hidden=opt.hidden, metavar=metavar, **extra
        )
        self.opt = opt


def _help(name: str, f: Field[Any], opt: Opt) -> str:
    notes = []
    if opt.env:
        notes.append(f"env: {env_name(name)}")
    if f.default not in (None, False, ()) or (opt.off_flag and f.default is False):
        notes.append(f"default: {opt.kind.show(f.default)}")
    return opt.help + (f"  [{'; '.join(notes)}]" if notes else "")


class MintCommand(click.Command):
    """--help lists the options in sections (Input, Request, ...)."""

    settings: type[Any] | None = None  # the settings class its options come from

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            if not isinstance(param, click.Option):
                continue
            record = param.get_help_record(ctx)
            if record is not None:
                opt = getattr(param, "opt", None)
                sections.setdefault(opt.section if opt else OTHER, []).append(record)
        named = len(sections) > 1
        for section in SECTIONS:
            if section in sections:
                with formatter.section(section if named else "Options"):
                    formatter.write_dl(sections[section])


class MintGroup(click.Group):
    command_class = MintCommand

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and not args[0].startswith("-") and self.get_command(ctx, args[0]) is None:
            words = " ".join(args)
            hint = f' To send a prompt: mint chat "{words}"' if self.name == "mint" else ""
            ctx.fail(f"No such command {args[0]!r}.{hint}")
        return super().resolve_command(ctx, args)


MintGroup.group_class = MintGroup


def command(
    parent: click.Group,
    name: str,
    settings: type[Any] | None,
    *arguments: click.Argument,
    epilog: str | None = None,
    hidden: bool = False,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``fn(settings, term, **arguments)`` as command ``name``, with one
    option per row of ``settings``."""

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        rows = table(settings) if settings is not None else []
        options = [TableOption(f.name, f, opt) for f, opt in rows if opt.flags]

        def callback(**values: Any) -> None:
            from mintcli.config import resolve

            ctx = click.get_current_context()
            given = {
                o.name: values[o.name]
                for o in options
                if o.name and ctx.get_parameter_source(o.name) is ParameterSource.COMMANDLINE
            }
            args = {a.name: values[a.name] for a in arguments if a.name}
            resolved = resolve(settings, given) if settings is not None else None
            fn(resolved, ctx.find_root().obj, **args)

        cmd = MintCommand(
            name,
            callback=callback,
            params=[*arguments, *options],
            help=fn.__doc__,
            epilog=epilog,
            hidden=hidden,
            context_settings=CONTEXT,
        )
        cmd.settings = settings
        parent.add_command(cmd)
        return fn

    return decorate


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
    ChatSettings,
    click.Argument(["prompt"], nargs=-1),
    epilog="""\b
Examples:
  mint chat "写一首诗"
  git diff | mint chat "review this" -m anthropic/claude-sonnet-4-5 --protocol anthropic
  mint chat --format jsonl "hi" | jq -c 'select(.type=="text")'
  mint chat --tool weather.json "北京的天气怎么样?"
  mint chat --resume            # continue the last unfinished reply
  mint chat --mock --format json "hello" | jq .usage""",
)
def chat(settings: ChatSettings, term: Any, prompt: tuple[str, ...]) -> None:
    """Send PROMPT and stream the reply to stdout.

    PROMPT words are joined with spaces. If stdin is not a terminal it is read
    too: the arguments are the instruction, stdin the material (joined by a
    blank line). A '-' word stands for stdin at that place.
    """
    from mintcli.chat import run_chat

    run_chat(settings, prompt, term)


@command(
    cli,
    "batch",
    BatchSettings,
    click.Argument(["source"], metavar="[INPUT|-]", required=False),
    epilog=f"""\b
Examples:
  mint batch prompts.jsonl > results.jsonl
  mint batch --lines --template 'Translate to French: {{}}' strings.txt -O fr.jsonl
  mint batch -j 32 --resume -O results.jsonl prompts.jsonl    # rerun to finish
  mint batch --shard 2/4 -O part-2.jsonl prompts.jsonl        # job 2 of 4
  jq -r 'select(.error) | .error.message' results.jsonl

Exit status: 0 when every item succeeded; {int(ExitCode.ITEMS_FAILED)}:
{ExitCode.ITEMS_FAILED.meaning}; otherwise the code of what stopped the whole batch
(see 'man mint').""",
)
def batch(settings: BatchSettings, term: Any, source: str | None) -> None:
    """Run many prompts: JSON lines in (INPUT, or stdin), one JSON result line
    per item out.

    Each input line is an object with "prompt" or "messages" and optionally
    "id", "model", "system", "tools", "tool_choice", "max_tokens",
    "temperature", "protocol" and other request body fields; options on the
    command line apply to every item that does not set its own. Items run
    CONCURRENCY at a time over kept-alive connections, with the retries and
    continuation of 'mint chat'; results come in input order (--unordered: as
    they finish).
    """
    from mintcli.batch.command import run_batch

    run_batch(settings, source, term)


@command(
    cli,
    "models",
    ModelsSettings,
    epilog="""\b
Examples:
  mint models
  mint models --format json | jq -r '.[].id'
  mint models --protocol anthropic""",
)
def models(settings: ModelsSettings, term: Any) -> None:
    """List the models the gateway offers ({base}/models)."""
    from mintcli.commands import run_models

    run_models(settings, term)


@command(
    cli,
    "mock",
    MockSettings,
    epilog="""\b
Examples:
  mint mock --port 8787 &
  export MINT_BASE_URL=http://127.0.0.1:8787/v1 MINT_API_KEY=test
  mint mock --fault status=429,retry_after=1,times=1 --log requests.jsonl""",
)
def mock(settings: MockSettings, term: Any) -> None:
    """Run a local mock of the gateway (OpenAI and Anthropic wire formats).

    The first line on stdout is its base URL. It runs until SIGINT or SIGTERM.
    """
    from mintcli.commands import run_mock

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
    from mintcli.commands import run_completion

    run_completion(shell, term)


@cli.group(cls=MintGroup, context_settings=CONTEXT)
def journal() -> None:
    """Unfinished replies kept for 'mint chat --resume' (kept 7 days)."""


@command(journal, "list", ListSettings)
def journal_list(settings: ListSettings, term: Any) -> None:
    """List unfinished replies, newest first."""
    from mintcli.commands import run_journal_list

    run_journal_list(settings.format, term)


@command(journal, "show", None, click.Argument(["ident"], metavar="ID"))
def journal_show(settings: None, term: Any, ident: str) -> None:
    """Print the text received so far for reply ID."""
    from mintcli.commands import run_journal_show

    run_journal_show(ident, term)


@command(journal, "rm", RemoveSettings, click.Argument(["ident"], metavar="ID", required=False))
def journal_rm(settings: RemoveSettings, term: Any, ident: str | None) -> None:
    """Remove an unfinished reply (or --all)."""
    from mintcli.commands import run_journal_rm

    run_journal_rm(ident, settings.all, term)


@command(cli, "_complete", None, click.Argument(["what"]), hidden=True)
def complete_values(settings: None, term: Any, what: str) -> None:
    """Values for shell completion: models, profiles, journals (hidden)."""
    from mintcli.commands import run_complete

    run_complete(what, term)


def _debug_requested(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get(env_name("debug"), "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    """The one error boundary: every outcome of a command becomes one stderr
    line (at most) and an exit code here, and nowhere else."""
    from mintcli.errors import MintError, UsageError
    from mintcli.terminal import Terminal, silence_stdout

    args = sys.argv[1:] if argv is None else argv
    term = Terminal.from_process()
    try:
        # make_context + invoke is click's own main() without its error handling,
        # which would turn a broken pipe into exit 1 before we could see it.
        with cli.make_context("mint", list(args), obj=term) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.format_message(), err=True)
        return int(ExitCode.USAGE)
    except click.UsageError as exc:
        if exc.ctx is not None:
            click.echo(exc.ctx.get_usage(), err=True)
        term.error(exc.format_message())
        return int(ExitCode.USAGE)
    except click.ClickException as exc:
        term.error(exc.format_message())
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
        term.error(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)"
        )
        return int(ExitCode.INTERNAL)
    return 0
