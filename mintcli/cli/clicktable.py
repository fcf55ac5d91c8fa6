"""Click commands built from the option table (options/settings.py): one click option
per row, --help in sections, and the ``command()`` helper that registers a
function as a command with its settings resolved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from click.core import ParameterSource

from mintcli.options import kinds
from mintcli.options.rows import NO_VALUE
from mintcli.options.settings import OTHER, SECTIONS, Opt, env_name, table

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class TableOption(click.Option):
    """A click option made from a row of the option table (kept as ``.opt``)."""

    def __init__(self, opt: Opt) -> None:
        decls = list(opt.flags)
        if opt.off_flag:
            decls = [*opt.flags[:-1], f"{opt.flags[-1]}/{opt.off_flag}"]
        extra: dict[str, Any] = {}
        if isinstance(opt.kind, kinds.Boolean):
            extra = {"is_flag": True, "default": opt.default}
        elif isinstance(opt.kind, kinds.Many):
            extra = {"multiple": True}
        elif opt.optional_value:
            extra = {"is_flag": False, "flag_value": NO_VALUE}
        metavar = opt.metavar
        if isinstance(opt.kind, kinds.Choice):
            metavar = "[" + "|".join(opt.kind.choices) + "]"
        super().__init__(
            [*decls, opt.name], help=_help(opt), hidden=opt.hidden, metavar=metavar, **extra
        )
        self.opt = opt


def _help(opt: Opt) -> str:
    notes = []
    if opt.env:
        notes.append(f"env: {env_name(opt.name)}")
    if opt.default not in (None, False, ()) or (opt.off_flag and opt.default is False):
        notes.append(f"default: {opt.kind.show(opt.default)}")
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
            hint = f' To send a prompt: mint chat "{words}"' if ctx.parent is None else ""
            ctx.fail(f"No such command {args[0]!r}.{hint}")
        return super().resolve_command(ctx, args)


MintGroup.group_class = MintGroup


class IdArgument(click.Argument):
    """The ID of a journal or a conversation; shell completion offers the IDs
    that ``mint _complete KINDs`` lists."""

    def __init__(self, complete: str, required: bool = True) -> None:
        super().__init__(["ident"], metavar="ID", required=required)
        self.complete = complete

    def check(self, value: Any) -> None:
        """An ID given must name something: '' is a usage error (it would have
        meant "the latest" to one command and "none" to another)."""
        if not isinstance(value, str):
            return  # not given
        try:
            kinds.NAME.from_text(value)
        except ValueError as exc:
            from mintcli.errors import UsageError

            raise UsageError(f"{self.complete} ID {exc} (got {value!r})") from None


class InputArgument(click.Argument):
    """Words naming an input file, or beginning with one of ``words`` (a verb
    whose IDs follow, as ``mint batch status ID``): shell completion offers the
    words and file names, and nothing more once one of the words is typed."""

    def __init__(self, metavar: str, words: tuple[str, ...]) -> None:
        super().__init__(["words"], metavar=metavar, nargs=-1)
        self.complete = "file"
        self.words = words


def adopt(settings: Any, term: Any) -> None:
    """What the terminal takes from a command's settings, before the command
    runs: the API key and a base-URL password join the secrets redacted from
    everything mint writes, and ``--no-escape`` turns off escaping the reply."""
    key = getattr(settings, "api_key", None)
    if key:
        term.secrets.add(key)
    base_url = getattr(settings, "base_url", None)
    if base_url and "@" in base_url:
        from contextlib import suppress
        from urllib.parse import urlsplit

        with suppress(ValueError):  # not a URL: the request fails later, saying so
            term.secrets.add(urlsplit(base_url).password)
    if getattr(settings, "escape", True) is False:
        term.escape_stdout = False
    if getattr(settings, "format", None) in ("json", "jsonl"):
        term.stdout_json = True


def _texts(value: Any) -> tuple[str, ...]:
    """An argument's text (one, or several with nargs=-1): argv bytes that are
    not UTF-8 must stop here, before a message or SQLite tries to encode them."""
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, tuple) else ()


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
        options = [TableOption(opt) for opt in rows if opt.flags]

        def callback(**values: Any) -> None:
            from mintcli.options.config import resolve

            ctx = click.get_current_context()
            given = {
                o.name: values[o.name]
                for o in options
                if o.name and ctx.get_parameter_source(o.name) is ParameterSource.COMMANDLINE
            }
            args = {a.name: values[a.name] for a in arguments if a.name}
            for a in arguments:
                given_text = values.get(a.name or "")
                if any(kinds.not_utf8(v) for v in _texts(given_text)):
                    from mintcli.errors import UsageError

                    raise UsageError(f"{a.human_readable_name}: the value is not valid UTF-8")
                if isinstance(a, IdArgument):
                    a.check(given_text)
            resolved = resolve(settings, given) if settings is not None else None
            term = ctx.find_root().obj
            if resolved is not None:
                adopt(resolved, term)
            fn(resolved, term, **args)

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
