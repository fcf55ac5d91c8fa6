"""Settings: flags > ``MINT_*`` environment > config file (profile, then top level) > defaults.

The config file is TOML at ``$XDG_CONFIG_HOME/mint/config.toml`` (default
``~/.config/mint/config.toml``; ``MINT_CONFIG`` points elsewhere)::

    model = "openai/gpt-4o"
    models = ["openai/gpt-4o", "anthropic/claude-sonnet-4-5"]   # for shell completion

    [profiles.claude]
    protocol = "anthropic"
    model = "anthropic/claude-sonnet-4-5"
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mintcli.errors import ConfigError

DEFAULT_BASE_URL = "https://api.mint-cloud.ai/v1"
DEFAULT_MODEL = "openai/gpt-4o"


@dataclass
class Settings:
    model: str = DEFAULT_MODEL
    protocol: str = "openai"
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    format: str = "text"
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    max_retries: int = 5
    retry_base: float = 1.0
    retry_max: float = 60.0
    connect_timeout: float = 10.0
    idle_timeout: float = 60.0
    timeout: float | None = None
    stdin_timeout: float = 1.0
    journal: bool = True
    reasoning: bool = False
    stats: bool = False
    # Only meaningful in the config file: model names offered by shell completion.
    models: list[str] = field(default_factory=list)


def _as_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _as_list(value: str) -> list[str]:
    return [v for v in (p.strip() for p in value.split(",")) if v]


_CONVERT: dict[str, Callable[[str], Any]] = {
    "max_tokens": int,
    "temperature": float,
    "max_retries": int,
    "retry_base": float,
    "retry_max": float,
    "connect_timeout": float,
    "idle_timeout": float,
    "timeout": float,
    "stdin_timeout": float,
    "journal": _as_bool,
    "reasoning": _as_bool,
    "stats": _as_bool,
    "models": _as_list,
}

KEYS = tuple(f.name for f in fields(Settings))
CHOICES = {"protocol": ("openai", "anthropic"), "format": ("text", "raw", "jsonl", "json")}


def env_name(key: str) -> str:
    return "MINT_" + key.upper()


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    explicit = env.get("MINT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "mint" / "config.toml"


def read_config(path: Path) -> dict[str, Any]:
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return {}  # no config file: nothing to parse (and no TOML parser to import)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        with fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from None
    return dict(data)


def _check_table(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key == "profiles":
            continue
        if key not in KEYS:
            raise ConfigError(f"{where}: unknown setting {key!r}")
        default = getattr(Settings(), key)
        expected: tuple[type, ...]
        if key == "models":
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
            if not ok:
                raise ConfigError(f"{where}: {key} must be a list of strings")
        else:
            if isinstance(default, bool):
                expected = (bool,)
            elif isinstance(default, float) or key in ("timeout", "temperature"):
                expected = (int, float)
            elif isinstance(default, int) or key == "max_tokens":
                expected = (int,)
            else:
                expected = (str,)
            if not isinstance(value, expected) or (
                isinstance(value, bool) and bool not in expected
            ):
                raise ConfigError(f"{where}: {key} has the wrong type ({type(value).__name__})")
        out[key] = value
    return out


def load_settings(
    flags: Mapping[str, Any],
    *,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting. ``flags`` holds only options given on the command
    line (None means not given)."""
    env = os.environ if environ is None else environ
    path = config_path(env)
    data = read_config(path)
    merged: dict[str, Any] = _check_table(data, str(path))

    profile = profile or env.get("MINT_PROFILE") or None
    if profile:
        profiles = data.get("profiles") or {}
        if profile not in profiles:
            known = ", ".join(sorted(profiles)) or "none defined"
            raise ConfigError(f"no profile {profile!r} in {path} ({known})")
        merged.update(_check_table(profiles[profile], f"{path} [profiles.{profile}]"))

    for key in KEYS:
        raw = env.get(env_name(key))
        if raw is None or raw == "":
            continue
        convert = _CONVERT.get(key, str)
        try:
            merged[key] = convert(raw)
        except ValueError:
            raise ConfigError(f"{env_name(key)}={raw!r} is not a valid value") from None

    for key, value in flags.items():
        if value is not None:
            merged[key] = value

    for key, allowed in CHOICES.items():
        if key in merged and merged[key] not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(allowed)} (got {merged[key]!r})")
    return Settings(**merged)


def configured_models(environ: Mapping[str, str] | None = None) -> list[str]:
    """Model names mentioned in the config (for shell completion). Never fails."""
    try:
        data = read_config(config_path(environ))
    except ConfigError:
        return []
    names: list[str] = []
    tables = [data, *((data.get("profiles") or {}).values())]
    for table in tables:
        if not isinstance(table, dict):
            continue
        if isinstance(table.get("model"), str):
            names.append(table["model"])
        for m in table.get("models") or ():
            if isinstance(m, str):
                names.append(m)
    seen: set[str] = set()
    return [n for n in names if not (n in seen or seen.add(n))]  # type: ignore[func-returns-value]
