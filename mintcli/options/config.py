"""Resolving settings: flags > ``MINT_*`` environment > config file (the chosen
profile, then the top level) > defaults.

The config file is TOML at ``$XDG_CONFIG_HOME/mint/config.toml`` (default
``~/.config/mint/config.toml``; ``MINT_CONFIG`` points elsewhere). Its keys are the
settings' names (see ``settings.py``); ``[profiles.NAME]`` tables hold the same keys
and are chosen with ``--profile NAME`` or ``MINT_PROFILE``. The whole file is
checked when it is read, every profile included, so a mistake shows up at once
and not on the day that profile is used.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mintcli.base.capped import CONFIG_BYTES, open_unwaited, over, read_at_most
from mintcli.errors import ConfigError, MintError, UsageError
from mintcli.options.kinds import TOOL_NAME, not_utf8
from mintcli.options.rows import NO_VALUE
from mintcli.options.settings import Opt, Settings, config_rows, env_name, table

S = TypeVar("S", bound=Settings)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    explicit = env.get("MINT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "mint" / "config.toml"


@dataclass
class Config:
    """A checked config file: values already converted by their kinds (and, for
    the values of tool tables, where each was declared: see :func:`_tool_tables`)."""

    path: Path
    top: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)


def _read_toml(path: Path) -> dict[str, Any] | None:
    try:
        fh = open_unwaited(path)  # every command reads it, Tab completion too: never wait
    except FileNotFoundError:
        return None  # no config file: nothing to parse (and no TOML parser to import)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        with fh:
            data = read_at_most(fh, CONFIG_BYTES)
        if data is None:
            raise ConfigError(f"config {path} is {over(CONFIG_BYTES)}")
        return dict(tomllib.loads(data.decode("utf-8")))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested tables and arrays by recursion
        raise ConfigError(f"config {path} is not valid TOML: it nests too deeply") from None


def _check_table(table_: Mapping[str, Any], where: str, rows: dict[str, Opt]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table_.items():
        opt = rows.get(key)
        if opt is None:
            raise ConfigError(f"{where}: unknown setting {key!r}")
        if opt.config_table:
            raise ConfigError(
                f"{where}: {key} is not a config key; declare each as a "
                f'[{opt.config_table}.NAME] table with command = "..."'
            )
        try:
            out[key] = opt.kind.from_toml(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {_what(key, opt)} {exc}") from None
    return out


def _what(name: str, opt: Opt) -> str:
    return "the API key" if opt.kind.secret else name


def _tool_tables(table_: dict[str, Any], where: str, rows: dict[str, Opt]) -> dict[str, Any]:
    """The ``[TABLE.NAME] command = ...`` tables of the settings that have them
    (popped from ``table_``): ``[tools.NAME]`` as ``--tool-cmd NAME=COMMAND``,
    ``[mcp.NAME]`` as ``--mcp COMMAND``. Each value's own place in the file goes
    with it, under ``"SETTING VALUE"``, for messages about a command that cannot
    run (see :func:`resolve`)."""
    out: dict[str, Any] = {}
    for opt in rows.values():
        key, setting_name = opt.config_table, opt.name
        if key is None or key not in table_:
            continue
        named = setting_name == "tool_cmd"  # its values are NAME=COMMAND; --mcp's COMMAND
        tables = table_.pop(key)
        bad = f'{where}: {key} must be [{key}.NAME] tables, each with command = "..."'
        if not isinstance(tables, dict):
            raise ConfigError(bad)
        values = []
        for name, body in tables.items():
            command = body.get("command") if isinstance(body, dict) else None
            if not isinstance(command, str) or set(body) != {"command"}:
                raise ConfigError(f"{bad} (see [{key}.{name}])")
            label = f"{where}: [{key}.{name}] command"
            if named and not TOOL_NAME.match(name):
                raise ConfigError(f"{where}: [{key}.{name}]: a tool name is 1-64 letters, "
                                  "digits, '_' or '-'")  # fmt: skip
            if not command.strip():
                raise ConfigError(f"{label} is empty")
            import shlex  # only for a file that declares tools

            try:
                shlex.split(command)
            except ValueError as exc:  # unterminated quotes: the command cannot be split
                raise ConfigError(f"{label}: {exc}") from None
            value = f"{name}={command}" if named else command
            values.append(value)
            out[f"{setting_name} {value}"] = label
        out[setting_name] = tuple(values)
    return out


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    path = config_path(environ)
    data = _read_toml(path)
    config = Config(path)
    if data is None:
        if (os.environ if environ is None else environ).get("MINT_CONFIG"):
            # named on purpose: a typo must not quietly mean "no config"
            raise ConfigError(f"MINT_CONFIG names {path}, which does not exist")
        return config
    rows = config_rows()
    profiles = data.pop("profiles", {})
    tools = _tool_tables(data, str(path), rows)
    config.top = {**_check_table(data, str(path), rows), **tools}
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: profiles must be a table of [profiles.NAME] tables")
    for name, body in profiles.items():
        where = f"{path} [profiles.{name}]"
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: a profile must be a table of settings")
        tools = _tool_tables(body, where, rows)
        config.profiles[name] = {**_check_table(body, where, rows), **tools}
    return config


def _from_command_line(name: str, opt: Opt, raw: Any) -> Any:
    flag = opt.flags[-1]
    values = raw if isinstance(raw, tuple) else (raw,)
    if any(isinstance(v, str) and not_utf8(v) for v in values):
        raise UsageError(f"{flag}: the value is not valid UTF-8")
    if opt.optional_value and raw == NO_VALUE:
        return ""  # the flag alone: --resume, the latest
    if not isinstance(raw, str) or not opt.kind.takes_value:
        return raw  # a switch or a repeatable flag
    try:
        return opt.kind.from_text(raw)
    except ValueError as exc:
        error = ConfigError if opt.kind.secret else UsageError
        shown = "" if opt.kind.secret else f" (got {raw!r})"
        raise error(f"{flag}: {_what(name, opt)} {exc}{shown}") from None


def from_flag(cls: type[Settings], name: str, raw: str) -> Any:
    """``raw`` checked as if given with the flag of setting ``name`` (a session's
    /model and /system): the value, or :class:`UsageError` saying what is wrong."""
    return _from_command_line(name, cls.rows[name], raw)


def _from_env(name: str, opt: Opt, var: str, raw: str) -> Any:
    if not_utf8(raw):
        raise ConfigError(f"{var}: the value is not valid UTF-8")
    try:
        return opt.kind.from_text(raw)
    except ValueError as exc:
        shown = "" if opt.kind.secret else f" (got {raw!r})"
        raise ConfigError(f"{var}: {_what(name, opt)} {exc}{shown}") from None


def resolve(
    cls: type[S],
    given: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
) -> S:
    """Settings of class ``cls`` from the options given on the command line
    (``given``: only those the user typed) and, for the rest, the environment,
    the config file and the defaults."""
    env = os.environ if environ is None else environ
    rows = table(cls)
    names = {opt.name for opt in rows}
    uses_config = any(opt.config for opt in rows)
    config = load_config(env) if uses_config else Config(Path())
    layers: list[tuple[str, dict[str, Any]]] = []
    if "profile" in names:
        profile = given.get("profile") or env.get(env_name("profile")) or None
        if profile:
            if profile not in config.profiles:
                known = ", ".join(sorted(config.profiles)) or "none defined"
                raise ConfigError(f"no profile {profile!r} in {config.path} ({known})")
            layers.append((f"{config.path} [profiles.{profile}]", config.profiles[profile]))
    layers.append((str(config.path), config.top))

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    no_tools = bool(given.get("no_tools"))  # --no-tools: the file's tool tables are left out
    for opt in rows:
        name = opt.name
        if name in given:
            if no_tools and opt.config_table and given[name]:
                raise UsageError(f"--no-tools cannot be combined with {opt.flags[-1]}")
            values[name] = _from_command_line(name, opt, given[name])
            sources[name] = opt.flags[-1]
            continue
        if no_tools and opt.config_table:
            continue
        var = env_name(name)
        raw = env.get(var) if opt.env else None
        if raw:
            values[name] = _from_env(name, opt, var, raw)
            sources[name] = var
            continue
        if opt.config:
            for label, layer in layers:
                if name in layer:
                    values[name] = layer[name]
                    sources[name] = label
                    for value in layer[name] if opt.config_table else ():
                        sources[f"{name} {value}"] = layer[f"{name} {value}"]
                    break
    return cls(**values, sources=sources)


def configured(*keys: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of some settings across the config file and all its profiles
    (for shell completion), in file order. Never fails."""
    try:
        config = load_config(environ)
    except MintError:
        return []
    names: list[str] = []
    for layer in (config.top, *config.profiles.values()):
        for key in keys:
            value = layer.get(key)
            names.extend([value] if isinstance(value, str) else value or ())
    return list(dict.fromkeys(names))


def profile_names(environ: Mapping[str, str] | None = None) -> list[str]:
    try:
        return sorted(load_config(environ).profiles)
    except MintError:
        return []
