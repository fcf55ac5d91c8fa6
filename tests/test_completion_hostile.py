"""Completion offers server- and file-supplied words as inert text (issue 24, class 1).

Model ids come from a gateway (`mint models` caches them), profile names from the
config file, journal ids from file names. Each shell completes them in a real
process here, and a word that is shell syntax must neither run nor expand.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import MINT, clean_env
from test_docs import ROOT, need

# Printable words that are shell syntax: each would create a file if expanded.
HOSTILE = [
    "$(touch${IFS}PWNED_SUBST)",
    "`touch${IFS}PWNED_TICK`",
    "a;touch${IFS}PWNED_SEMI",
    "g*",
    "x{a,b}",
    'it\'s "quoted" $HOME',
]
# Words with control or format characters: never offered at all.
CONTROL = ["esc\x1b[31mred", "bell\x07", "bidi\u202eevil", "c1\x9bx"]
PLAIN = ["gpt-4o", "anthropic/claude-sonnet-4-5"]


@pytest.fixture
def hostile_home(tmp_path: Path) -> tuple[dict[str, str], Path]:
    env = clean_env(tmp_path)
    cache = Path(env["XDG_CACHE_HOME"]) / "mint"
    cache.mkdir(parents=True)
    (cache / "models").write_text("\n".join(PLAIN + HOSTILE + CONTROL) + "\n", encoding="utf-8")
    config = Path(env["XDG_CONFIG_HOME"]) / "mint"
    config.mkdir(parents=True)
    (config / "config.toml").write_text(
        '[profiles."$(touch PWNED_PROFILE)"]\nmodel = "gpt-4o"\n[profiles.ok]\nmodel = "gpt-4o"\n'
    )
    journals = Path(env["XDG_STATE_HOME"]) / "mint" / "journals"
    journals.mkdir(parents=True)
    jid = "$(touch PWNED_JOURNAL)"
    header = {"v": 1, "id": jid, "created": 1.0, "request": {}}
    (journals / f"{jid}.jsonl").write_text(json.dumps(header) + "\n")
    work = tmp_path / "work"
    work.mkdir()
    return env, work


def _no_file_created(work: Path) -> None:
    assert sorted(p.name for p in work.iterdir()) == [], "a completion ran a command"


def test_complete_drops_control_characters(hostile_home: tuple[dict[str, str], Path]) -> None:
    env, work = hostile_home
    r = subprocess.run([*MINT, "_complete", "models"], capture_output=True, env=env, cwd=work)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == PLAIN + HOSTILE
    assert b"\x1b" not in r.stdout and b"\x07" not in r.stdout


def _bash(env: dict[str, str], work: Path, words: list[str]) -> list[str]:
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (
        f"source {ROOT / 'completions' / 'mint.bash'}\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_mint\n"
        'for w in "${COMPREPLY[@]}"; do printf "%s\\0" "$w"; done\n'
        # each offered word, as the shell would read it back from the command line
        'for w in "${COMPREPLY[@]}"; do eval "r=($w)"; printf "%s\\0" "${r[@]}"; done\n'
    )
    r = subprocess.run(["bash", "-c", script], capture_output=True, env=env, cwd=work, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().split("\0")[:-1]


def test_bash_offers_hostile_words_literally(hostile_home: tuple[dict[str, str], Path]) -> None:
    need("bash")
    env, work = hostile_home
    got = _bash(env, work, ["mint", "chat", "-m", ""])
    half = len(got) // 2
    inserted, read_back = got[:half], got[half:]
    # what lands on the command line is quoted, and reads back as the exact id
    assert read_back == PLAIN + HOSTILE
    assert inserted[0] == "gpt-4o" and inserted[1] == "anthropic/claude-sonnet-4-5"
    assert all(i != w for i, w in zip(inserted[2:], HOSTILE, strict=True))
    # the typed prefix is matched literally (a '*' typed is not a pattern)
    got = _bash(env, work, ["mint", "chat", "-m", "g*"])
    assert got[len(got) // 2 :] == ["g*"]
    got = _bash(env, work, ["mint", "chat", "--profile", ""])
    assert got[len(got) // 2 :] == ["$(touch PWNED_PROFILE)", "ok"]
    got = _bash(env, work, ["mint", "journal", "show", ""])
    assert got[len(got) // 2 :] == ["$(touch PWNED_JOURNAL)"]
    _no_file_created(work)


def test_zsh_offers_hostile_words_literally(hostile_home: tuple[dict[str, str], Path]) -> None:
    need("zsh")
    env, work = hostile_home
    # compadd is a builtin only inside a completion widget: a function stands in for
    # it and prints the words it is given (compadd itself quotes what it inserts).
    # GLOB_SUBST and SH_WORD_SPLIT on: the words must still not become patterns.
    script = (
        "compdef() { :; }; compadd() { shift; printf '%s\\0' \"$@\"; }\n"
        f"source {ROOT / 'completions' / '_mint'}\n"
        "setopt globsubst shwordsplit\n"
        'words=(mint chat -m ""); CURRENT=4; _mint\n'
        'words=(mint chat --profile ""); CURRENT=4; _mint\n'
    )
    r = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, env=env, cwd=work)
    assert r.returncode == 0, r.stderr
    got = r.stdout.decode().split("\0")[:-1]
    assert got == [*PLAIN, *HOSTILE, "$(touch PWNED_PROFILE)", "ok"]
    _no_file_created(work)


def test_fish_offers_hostile_words_literally(hostile_home: tuple[dict[str, str], Path]) -> None:
    need("fish")
    env, work = hostile_home
    script = (
        f"source {ROOT / 'completions' / 'mint.fish'}\n"
        "complete -C 'mint chat -m '\n"
        "complete -C 'mint journal show '\n"
    )
    r = subprocess.run(["fish", "-c", script], capture_output=True, env=env, cwd=work)
    assert r.returncode == 0, r.stderr
    offered = {line.split("\t")[0] for line in r.stdout.decode().splitlines()}
    assert {*PLAIN, *HOSTILE, "$(touch PWNED_JOURNAL)"} <= offered
    assert not any("\x1b" in w or "\u202e" in w for w in offered)
    _no_file_created(work)
