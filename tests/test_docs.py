"""Docs stay true: generated files are current, scripts parse, the man page
renders, help has examples, README's commands are the ones CI runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MINT, clean_env

from mintcli.errors import ExitCode
from mintcli.options.settings import FORMATS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import docgen  # noqa: E402


def need(tool: str) -> None:
    if shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is required in CI")
        pytest.skip(f"{tool} not installed")


def test_generated_files_are_current() -> None:
    for path, content in docgen.outputs(ROOT).items():
        assert path.read_text(encoding="utf-8") == content, (
            f"{path.relative_to(ROOT)} is stale: run python tools/docgen.py"
        )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_command_prints_the_committed_script(shell: str, env: dict[str, str]) -> None:
    name = {"bash": "mint.bash", "zsh": "_mint", "fish": "mint.fish"}[shell]
    r = subprocess.run([*MINT, "completion", shell], capture_output=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == (ROOT / "completions" / name).read_text()


@pytest.mark.parametrize(
    ("shell", "args"),
    [("bash", ["-n"]), ("zsh", ["-n"]), ("fish", ["--no-execute"])],
)
def test_completion_scripts_parse(shell: str, args: list[str], env: dict[str, str]) -> None:
    need(shell)
    name = {"bash": "mint.bash", "zsh": "_mint", "fish": "mint.fish"}[shell]
    r = subprocess.run(
        [shell, *args, str(ROOT / "completions" / name)], capture_output=True, timeout=30, env=env
    )
    assert r.returncode == 0, r.stderr


def _bash_complete(words: list[str], tmp_path: Path) -> list[str]:
    env = clean_env(tmp_path)
    config = Path(env["XDG_CONFIG_HOME"]) / "mint"
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text(
        'models = ["x/alpha", "y/beta"]\n[profiles.p]\nmodel = "z/gamma"\n'
    )
    script = (
        f"source {ROOT / 'completions' / 'mint.bash'}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_mint\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    r = subprocess.run(["bash", "-c", script], capture_output=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.decode().splitlines() if line]


def test_bash_completion_behaviour(tmp_path: Path) -> None:
    assert _bash_complete(["mint", "ch"], tmp_path) == ["chat"]
    assert _bash_complete(["mint", "chat", "--prot"], tmp_path) == ["--protocol"]
    assert _bash_complete(["mint", "chat", "--protocol", ""], tmp_path) == ["openai", "anthropic"]
    assert _bash_complete(["mint", "chat", "-f", "js"], tmp_path) == ["jsonl", "json"]
    assert _bash_complete(["mint", "journal", ""], tmp_path) == ["list", "rm", "show"]
    assert "--all" in _bash_complete(["mint", "journal", "rm", "--"], tmp_path)
    assert _bash_complete(["mint", "completion", ""], tmp_path) == ["bash", "zsh", "fish"]
    assert _bash_complete(["mint", "chat", "-m", ""], tmp_path) == ["x/alpha", "y/beta", "z/gamma"]
    assert _bash_complete(["mint", "chat", "--model", "y"], tmp_path) == ["y/beta"]
    # a value that looks like a command is not mistaken for one
    assert "--protocol" in _bash_complete(["mint", "chat", "-m", "models", "--pro"], tmp_path)
    # --opt=value, which bash splits into three words
    assert _bash_complete(["mint", "chat", "--format", "=", "js"], tmp_path) == ["jsonl", "json"]
    assert _bash_complete(["mint", "chat", "--format", "="], tmp_path) == [*FORMATS]
    assert _bash_complete(["mint", "chat", "--profile", ""], tmp_path) == ["p"]
    assert _bash_complete(["mint", "chat", "--tool-choice", "r"], tmp_path) == ["required"]
    # journal ids for --resume and journal show/rm
    journals = tmp_path / "state" / "mint" / "journals"
    journals.mkdir(parents=True)
    header = {"v": 1, "id": "20261126-120000-abcdef", "created": 1.0, "request": {}}
    (journals / "20261126-120000-abcdef.jsonl").write_text(json.dumps(header) + "\n")
    assert _bash_complete(["mint", "chat", "--resume", ""], tmp_path) == [header["id"]]
    assert _bash_complete(["mint", "journal", "rm", "2026"], tmp_path) == [header["id"]]
    # model names from the last `mint models` answer, after the config's
    (tmp_path / "cache" / "mint").mkdir(parents=True)
    (tmp_path / "cache" / "mint" / "models").write_text("c/cached\nx/alpha\n")
    assert _bash_complete(["mint", "chat", "-m", ""], tmp_path) == [
        "x/alpha",
        "y/beta",
        "z/gamma",
        "c/cached",
    ]


def test_zsh_completion_defines_and_registers(tmp_path: Path, env: dict[str, str]) -> None:
    need("zsh")
    script = (
        "autoload -U compinit && compinit -u -d "
        f"{tmp_path}/zcompdump\n"
        f"source {ROOT / 'completions' / '_mint'}\n"
        "print -r -- ${_comps[mint]}\n"
    )
    r = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "_mint"
    # options carry their descriptions, as in fish
    text = (ROOT / "completions" / "_mint").read_text()
    assert "'--model:Model name.'" in text


def test_fish_completion_offers_commands(env: dict[str, str]) -> None:
    need("fish")
    script = f"source {ROOT / 'completions' / 'mint.fish'}; complete -C 'mint ch'"
    r = subprocess.run(
        ["fish", "--no-config", "-c", script], capture_output=True, env=env, timeout=30
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().split("\t")[0].strip() == "chat"


def test_man_page_renders_without_warnings(env: dict[str, str]) -> None:
    need("groff")
    r = subprocess.run(
        ["groff", "-man", "-ww", "-z", str(ROOT / "man" / "mint.1")],
        capture_output=True,
        timeout=30,
        env=env,
    )
    assert r.returncode == 0 and r.stderr == b"", r.stderr.decode()


def test_man_page_covers_commands_options_and_exit_codes() -> None:
    page = (ROOT / "man" / "mint.1").read_text()
    plain = page.replace("\\-", "-")
    for cmd in docgen.commands():
        if cmd.path:
            assert f"mint {' '.join(cmd.path)}" in plain
        for opt in cmd.options:
            for name in opt.names:
                assert name in plain, f"{name} missing from the man page"
    exit_section = plain.split(".SH EXIT STATUS")[1].split(".SH")[0]
    for code in ExitCode:
        assert f"\\fB{int(code)}\\fR" in exit_section
    for section in (
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OUTPUT FORMATS",
        "EXIT STATUS",
        "ENVIRONMENT",
        "FILES",
        "EXAMPLES",
    ):
        assert f".SH {section}" in page


def test_every_help_has_examples(env: dict[str, str]) -> None:
    for path in [(), ("chat",), ("models",), ("mock",), ("completion",)]:
        r = subprocess.run([*MINT, *path, "--help"], capture_output=True, timeout=30, env=env)
        assert r.returncode == 0, r.stderr
        assert "Examples:" in r.stdout.decode(), path


def test_exit_codes_documented_in_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Exit codes")[1].split("\n## ")[0]
    for code in ExitCode:
        assert f"| {int(code)} " in table


def test_readme_quickstart_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- quickstart:begin -->")[1].split("<!-- quickstart:end -->")[0]
    commands = [
        line
        for line in block.split("```sh")[1].split("```")[0].splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(commands) == 2
    assert "pip install" in commands[0] and "mint chat --mock" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "quickstart:begin" in ci and "ruff check" in ci and "mypy --strict mintcli" in ci


def test_readme_mentions_every_command_and_format() -> None:
    readme = (ROOT / "README.md").read_text()
    for cmd in docgen.commands():
        if cmd.path:
            assert f"mint {cmd.path[0]}" in readme
    for fmt in ("text", "raw", "jsonl", "json"):
        assert f"--format {fmt}" in readme


def _sample(kind: object) -> object:
    """A valid config value for a setting of this kind."""
    from mintcli.options import kinds

    if isinstance(kind, kinds.Integer):
        return kind.minimum
    if isinstance(kind, kinds.Number):
        return kind.minimum + 1
    if isinstance(kind, kinds.Boolean):
        return True
    if isinstance(kind, kinds.Choice):
        return kind.choices[-1]
    if isinstance(kind, (kinds.Words, kinds.Commands)):
        return ["a/b"]
    if isinstance(kind, kinds.Url):
        return "http://gateway.example/v1"
    return "text"


def test_every_option_in_the_table_reaches_help_man_completions_and_config(
    tmp_path: Path,
) -> None:
    """One table (mintcli/options/settings.py) is the source of truth: each of its rows is
    a flag in --help, the man page and all three completions, and, when it may
    be, a config key and a MINT_* variable."""
    from mintcli.cli.clicktable import MintCommand
    from mintcli.options.config import resolve
    from mintcli.options.settings import ALL, env_name, table

    page = (ROOT / "man" / "mint.1").read_text().replace("\\-", "-")
    bash, zsh, fish = (
        (ROOT / "completions" / name).read_text() for name in ("mint.bash", "_mint", "mint.fish")
    )
    used = set()
    for cmd in docgen.commands():
        settings = getattr(cmd.command, "settings", None)
        if not isinstance(cmd.command, MintCommand) or settings is None:
            continue
        used.add(settings)
        r = subprocess.run(
            [*MINT, *cmd.path, "--help"], capture_output=True, timeout=30, env=clean_env(tmp_path)
        )
        assert r.returncode == 0, r.stderr
        helptext = r.stdout.decode()
        config = tmp_path / "config.toml"
        for opt in table(settings):
            flags = [*opt.flags, *([opt.off_flag] if opt.off_flag else [])]
            for flag in flags if not opt.hidden else ():
                assert flag in helptext, (cmd.path, flag)
                assert flag in page, (cmd.path, flag)
                assert f'"{" ".join(cmd.path)}:{flag}"' in bash or flag in bash, flag
                assert flag in zsh, flag
                spelled = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
                assert spelled in fish, flag
            if opt.env:
                assert env_name(opt.name) in page, opt.name
                if opt.flags:
                    assert f"env: {env_name(opt.name)}" in " ".join(helptext.split()), opt.name
            if opt.config_table:  # only as tables: [tools.NAME] command = ...
                words = " ".join(helptext.split())
                assert f"config: [{opt.config_table}.NAME] command = " in words, opt.name
                config.write_text(f'[{opt.config_table}.t]\ncommand = "/bin/true -x"\n')
                loaded = resolve(settings, {}, environ={"MINT_CONFIG": str(config)})
                assert getattr(loaded, opt.name)[0].endswith("/bin/true -x"), opt.name
            elif opt.config:
                value = _sample(opt.kind)
                config.write_text(f"{opt.name} = {json.dumps(value)}\n")
                loaded = resolve(settings, {}, environ={"MINT_CONFIG": str(config)})
                got = getattr(loaded, opt.name)
                assert got == (tuple(value) if isinstance(value, list) else value), opt.name
    assert used == set(ALL)


def test_exit_codes_listed_in_chat_help(env: dict[str, str]) -> None:
    r = subprocess.run([*MINT, "chat", "--help"], capture_output=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    status = " ".join(r.stdout.decode().split("Exit status:")[1].split())
    for code in ExitCode:
        assert f"{int(code)} {' '.join(code.meaning.split())}" in status


def test_readme_names_every_variable_and_config_key() -> None:
    from mintcli.options.settings import env_rows

    readme = (ROOT / "README.md").read_text()
    for name in env_rows():
        assert f"`{name}`" in readme, f"{name} is not in the README"
    for name in ("MINT_CONFIG", "MINT_PROFILE", "NO_COLOR", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        assert name in readme
