"""Completion of positional words: ``mint batch`` takes an INPUT file or one of
its verbs (``status``, ``fetch``, ``cancel``, after which come batch IDs), and
each shell offers both, file names as they are, in a real shell process."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import clean_env
from test_docs import ROOT, need

FILES = ["prompts.jsonl", "progress notes.txt", "status-report.txt", "$(touch PWNED)"]


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    for name in FILES:
        (folder / name).write_text("{}\n")
    return folder


def _bash(work: Path, words: list[str]) -> list[str]:
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = (
        f"source {ROOT / 'completions' / 'mint.bash'}\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_mint\n"
        'for w in "${COMPREPLY[@]}"; do printf "%s\\0" "$w"; done\n'
    )
    env = clean_env(work.parent)
    r = subprocess.run(["bash", "-c", script], capture_output=True, env=env, cwd=work, timeout=30)
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.decode().split("\0")[:-1])


def test_bash_offers_input_files_and_the_batch_verbs(work: Path) -> None:
    need("bash")
    assert _bash(work, ["mint", "batch", "pro"]) == ["progress notes.txt", "prompts.jsonl"]
    assert _bash(work, ["mint", "batch", ""]) == sorted(["cancel", "fetch", "status", *FILES])
    assert _bash(work, ["mint", "batch", "st"]) == ["status", "status-report.txt"]
    assert _bash(work, ["mint", "batch", "-O", "out.jsonl", "pr"]) == [
        "progress notes.txt",
        "prompts.jsonl",
    ]
    assert _bash(work, ["mint", "batch", "status", ""]) == []  # a batch ID comes next
    assert "--verbose" in _bash(work, ["mint", "batch", "status", "--verb"])
    assert _bash(work, ["mint", "mock", "--script", "pro"]) == [
        "progress notes.txt",
        "prompts.jsonl",
    ]
    assert sorted(p.name for p in work.iterdir()) == sorted(FILES)  # nothing ran


def test_zsh_offers_input_files_and_the_batch_verbs(work: Path) -> None:
    need("zsh")
    # compadd and _files work only inside a completion widget: functions stand in
    # for them and print what they were asked to offer.
    script = (
        "compdef() { :; }; compadd() { shift; printf '%s\\n' \"$@\"; }; _files() { print FILES; }\n"
        f"source {ROOT / 'completions' / '_mint'}\n"
        "words=(mint batch pro); CURRENT=3; _mint; print -r -- SEP\n"
        "words=(mint batch status ''); CURRENT=4; _mint; print -r -- SEP\n"
    )
    env = clean_env(work.parent)
    r = subprocess.run(["zsh", "-f", "-c", script], capture_output=True, env=env, cwd=work)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == "status\nfetch\ncancel\nFILES\nSEP\nSEP\n"


def test_fish_offers_input_files_and_the_batch_verbs(work: Path) -> None:
    need("fish")
    script = (
        f"source {ROOT / 'completions' / 'mint.fish'}\n"
        "complete -C 'mint batch pro'; echo ---\n"
        "complete -C 'mint batch '; echo ---\n"
        "complete -C 'mint batch status '\n"
    )
    env = clean_env(work.parent)
    r = subprocess.run(["fish", "-c", script], capture_output=True, env=env, cwd=work, timeout=30)
    assert r.returncode == 0, r.stderr
    pro, first, after_verb = r.stdout.decode().split("---\n")
    assert sorted(pro.splitlines()) == ["progress notes.txt", "prompts.jsonl"]
    assert {"status", "fetch", "cancel", *FILES} <= set(first.splitlines())
    assert after_verb == ""
    assert sorted(p.name for p in work.iterdir()) == sorted(FILES)
