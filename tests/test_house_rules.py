"""Two rules of the house that drift unless a test holds them: cli.py stays
small, and docs/architecture.md names only things that exist."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mintcli"
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
SOURCES = {p: p.read_text() for p in PACKAGE.rglob("*.py")}


def test_cli_py_is_option_wiring_only() -> None:
    lines = len((PACKAGE / "cli.py").read_text().splitlines())
    assert lines <= 300, f"mintcli/cli.py has {lines} lines; move work into the modules it calls"


def _quoted(text: str) -> set[str]:
    return set(re.findall(r"`([^`\s]+)`", text))


def _resolves(dotted: str) -> bool:
    """``module.attr...`` or ``Class.attr`` of mintcli."""
    head, *rest = dotted.split(".")
    if (PACKAGE / f"{head}.py").exists() or (PACKAGE / head).is_dir():
        obj: object = importlib.import_module(f"mintcli.{head}")
    elif head[0].islower():
        return True  # a variable (`response.chunks()`, `sink.flush()`): not checkable here
    else:
        owner = next((p for p, src in SOURCES.items() if f"class {head}" in src), None)
        if owner is None:
            return False
        module = ".".join(owner.relative_to(ROOT).with_suffix("").parts)
        obj = getattr(importlib.import_module(module), head)
    for name in rest:
        if not hasattr(obj, name):
            return False
        obj = getattr(obj, name)
    return True


def test_architecture_names_only_what_exists() -> None:
    files = {p.name for p in ROOT.rglob("*.py")} | {p.name for p in PACKAGE.iterdir()}
    for token in _quoted(ARCHITECTURE):
        name = re.sub(r"\(.*\)$", "", token)
        if token.endswith((".py", "/")):
            path = token.rstrip("/")
            assert (ROOT / path).exists() or (PACKAGE / path).exists() or path in files, token
        elif re.fullmatch(r"[A-Za-z_]\w*(\.\w+)+", name):
            assert _resolves(name), f"docs/architecture.md names {token}, which does not exist"
        elif re.fullmatch(r"[A-Z]\w*|_\w+", name):
            defined = re.compile(rf"^\s*(class|def) {name}\b|^{name}\b\s*[:=]", re.M)
            assert any(defined.search(src) for src in SOURCES.values()), token


def test_the_options_paragraph_describes_the_table_as_it_is() -> None:
    from mintcli import rows, settings

    options = ARCHITECTURE.split("## Options")[1].split("\n## ")[0]
    quoted = _quoted(options)
    for name in ("Settings", "Opt", "setting", "flag", "arg", "rows.py", "settings.py"):
        assert name in quoted, f"the Options paragraph no longer mentions {name}"
    for name in ("Settings", "Opt", "setting", "flag", "arg"):
        assert hasattr(rows, name), f"rows.{name} is gone: update docs/architecture.md"
    assert issubclass(settings.ChatSettings, rows.Settings)
    assert all(isinstance(o, rows.Opt) for o in rows.table(settings.ChatSettings))
