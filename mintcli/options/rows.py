"""The machinery of the option table: a row (:class:`Opt`), the helpers that
declare one (:func:`setting`, :func:`flag`, :func:`arg`), and the
:class:`Settings` base class whose subclasses in ``settings.py`` are the table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from mintcli.options import kinds
from mintcli.options.kinds import Kind

# Help sections, in the order --help shows them.
INPUT = "Input"
CONVERSATIONS = "Conversations"
REQUEST = "Request"
TOOLS = "Tools"
OUTPUT = "Output"
BATCH = "Batch"
REMOTE = "Remote batch"
RETRIES = "Retries and timeouts"
JOURNAL = "Journal"
CONNECTION = "Connection"
SERVER = "Server"
FAULTS = "Faults"
OTHER = "Other"
SECTIONS = (
    INPUT, CONVERSATIONS, REQUEST, TOOLS, OUTPUT, BATCH, REMOTE, RETRIES, JOURNAL,
    CONNECTION, SERVER, FAULTS, OTHER,
)  # fmt: skip


@dataclass
class Opt:
    """One row of the table: a setting, how it appears on the command line, in
    the environment and in the config file. ``flags`` is empty for a
    config-only setting. ``name`` is the attribute it is declared as."""

    flags: tuple[str, ...]
    help: str
    kind: Kind
    section: str
    default: Any = None
    env: bool = True  # MINT_<NAME> may set it
    config: bool = True  # the config file may set it
    # ... only through [TABLE.NAME] tables, each with command = "..." (not as a key)
    config_table: str | None = None
    metavar: str | None = None
    off_flag: str | None = None  # for a boolean: the flag that turns it off
    optional_value: bool = False  # the flag may be given without a value (--resume [ID])
    complete: str | None = None  # shell completion of the value: file, model, profile, journal
    hidden: bool = False
    name: str = ""


def setting(
    default: Any, *flags: str, help: str, kind: Kind = kinds.TEXT, section: str, **more: Any
) -> Any:
    """A row of the option table, declared as a class attribute of a settings class."""
    return Opt(flags, help, kind, section, default, **more)


def flag(*flags: str, help: str, section: str, **more: Any) -> Any:
    """An on/off switch that exists only on the command line."""
    more.setdefault("env", False)
    return setting(False, *flags, help=help, kind=kinds.FLAG, section=section, config=False, **more)


def arg(default: Any, *flags: str, help: str, section: str, **more: Any) -> Any:
    """A command-line option that is not a setting (no MINT_* variable, no config key)."""
    return setting(default, *flags, help=help, section=section, env=False, config=False, **more)


# What click hands over for a flag with an optional value given alone (--resume):
# a NUL, which no argument can hold, so that --resume '' is told apart from it.
NO_VALUE = "\0"


def env_name(name: str) -> str:
    return "MINT_" + name.upper()


S = TypeVar("S", bound="Settings")


class Settings:
    """Frozen values of one command's options, one attribute per row.

    A small hand-made record rather than a dataclass: generating dataclass
    methods for these wide, inherited classes cost about 12 ms at every start
    (mint --help went from 56 to 69 ms)."""

    rows: ClassVar[dict[str, Opt]] = {}
    # Where each value came from: "--base-url", "MINT_BASE_URL", "FILE", "FILE [profiles.P]".
    sources: dict[str, str]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        rows = dict(cls.rows)  # inherited rows first, in their order
        for name, value in vars(cls).items():
            if isinstance(value, Opt):
                value.name = name
                rows[name] = value
        cls.rows = rows

    def __init__(self, **values: Any) -> None:
        put = object.__setattr__
        for name, opt in self.rows.items():
            put(self, name, values.pop(name) if name in values else opt.default)
        put(self, "sources", values.pop("sources", {}))
        if values:
            raise TypeError(f"{type(self).__name__} has no setting {next(iter(values))!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"settings are frozen: use replace() to change {name!r}")

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.rows)
        return f"{type(self).__name__}({shown})"

    def replace(self: S, **changes: Any) -> S:
        values = {name: getattr(self, name) for name in self.rows}
        return type(self)(**{**values, "sources": self.sources, **changes})

    def source(self, name: str) -> str:
        """Where a setting came from, for messages: a flag, a variable, a file."""
        return self.sources.get(name, "the default")

    def source_of(self, name: str, value: str) -> str:
        """Where one value of a repeatable setting came from: for a tool the
        config file declares, its table (``FILE: [tools.NAME] command``)."""
        return self.sources.get(f"{name} {value}") or self.source(name)

    def given(self, name: str) -> bool:
        """Whether the user typed this option on the command line."""
        return self.sources.get(name, "").startswith("-")


def table(cls: type[Settings]) -> list[Opt]:
    """The rows of a settings class, in declaration order."""
    return list(cls.rows.values())
