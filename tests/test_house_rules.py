"""Rules of the house that drift unless a test holds them: cli/main.py stays
small, docs/architecture.md names only things that exist, and its package map
lists exactly the packages of mintcli/."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mintcli"
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
SOURCES = {p: p.read_text() for p in PACKAGE.rglob("*.py")}


def test_cli_py_is_option_wiring_only() -> None:
    lines = len((PACKAGE / "cli" / "main.py").read_text().splitlines())
    assert lines <= 300, f"mintcli/cli/main.py has {lines} lines; move work into the modules it calls"


def _quoted(text: str) -> set[str]:
    return set(re.findall(r"`([^`\s]+)`", text))


def _resolves(dotted: str) -> bool:
    """``module.attr...`` or ``Class.attr`` of mintcli."""
    head, *rest = dotted.split(".")
    if (PACKAGE / f"{head}.py").exists() or (PACKAGE / head).is_dir():
        obj: object = importlib.import_module(f"mintcli.{head}")
        while rest and (PACKAGE / head / f"{rest[0]}.py").exists():  # a module of a package
            head = f"{head}/{rest[0]}"
            obj = importlib.import_module("mintcli." + head.replace("/", "."))
            rest = rest[1:]
    elif head[0].islower():
        return True  # a variable (`response.chunks()`, `sink.flush()`): not checkable here
    else:  # a class: any module that defines one of that name and has the attributes
        owners = [p for p, src in SOURCES.items() if f"class {head}" in src]
        for owner in owners:
            module = ".".join(owner.relative_to(ROOT).with_suffix("").parts)
            found = getattr(importlib.import_module(module), head, None)
            if found is not None and _has(found, rest):
                return True
        return False
    return _has(obj, rest)


def _has(obj: object, rest: list[str]) -> bool:
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
    from mintcli.options import rows, settings

    options = ARCHITECTURE.split("## Options")[1].split("\n## ")[0]
    quoted = _quoted(options)
    for name in ("Settings", "Opt", "setting", "flag", "arg", "options/rows.py", "options/settings.py"):
        assert name in quoted, f"the Options paragraph no longer mentions {name}"
    for name in ("Settings", "Opt", "setting", "flag", "arg"):
        assert hasattr(rows, name), f"rows.{name} is gone: update docs/architecture.md"
    assert issubclass(settings.ChatSettings, rows.Settings)
    assert all(isinstance(o, rows.Opt) for o in rows.table(settings.ChatSettings))


def _map_entries() -> list[str]:
    section = ARCHITECTURE.split("## The package map")[1].split("\n## ")[0]
    block = section.split("```")[1]
    return re.findall(r"^[\s│├└─]*([a-z_]\w*)/", block, re.M)


def test_the_package_map_lists_every_package_and_only_packages() -> None:
    assert ARCHITECTURE.startswith("# How mint is put together\n\n## The package map")
    entries = _map_entries()
    packages = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))
    assert len(entries) == len(set(entries)), f"a package is drawn twice: {entries}"
    assert "mintcli" not in packages and entries[0] == "mintcli", "the map starts at mintcli/"
    drawn = sorted(entries[1:])
    assert not set(packages) - set(drawn), f"missing from the map: {set(packages) - set(drawn)}"
    assert not set(drawn) - set(packages), f"drawn but no package: {set(drawn) - set(packages)}"


def test_the_settings_of_a_chat_run_go_down_and_do_not_come_back(env: dict[str, str]) -> None:
    """tools/route.py follows a run's settings (and what they become) through the
    files of mintcli: request assembly is entered once, the face is not entered
    again once the run has begun, and the run comes back to a file at most at
    run/exchange.py, which opens the journal and the transport and saves the
    exchange in turn."""
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "route.py"), "--mock", "hi"],
        env=env, capture_output=True, timeout=60, check=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert run.stdout == b"Mock reply to: hi\n"
    lines = run.stderr.decode().splitlines()
    route = [m[1] for m in map(re.compile(r"\s+\d+\. (\S+)").match, lines) if m]
    assert route[:4] == ["cli/clicktable.py", "cli/main.py", "cli/chat.py", "request/build.py"]
    again = [f for i, f in enumerate(route) if f in route[:i]]
    assert set(again) <= {"run/exchange.py"}, route
    assert lines[-1] == f"{len(set(route))} files entered, {len(again)} returns to a file already left"
