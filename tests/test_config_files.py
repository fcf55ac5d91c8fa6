"""The config file and the other files mint opens on its own, when they are not
what mint expects: a FIFO never hangs a command (Tab completion included), a
file tomllib cannot parse is exit 3 naming it, and the error boundary never
trips over the config it reads to learn the keys to redact."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import MINT, never_internal, run_mint

HANG = 15  # seconds: a run that waits on a FIFO fails the test here instead of hanging


def one_error(r: subprocess.CompletedProcess[bytes], code: int) -> str:
    err = r.stderr.decode()
    assert r.returncode == code, err
    lines = [line for line in err.splitlines() if line.startswith("mint: error:")]
    assert len(lines) == 1, err
    return lines[0]


def config_file(env: dict[str, str]) -> Path:
    path = Path(env["XDG_CONFIG_HOME"]) / "mint" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_a_fifo_as_the_config_file_is_read_as_empty_never_waited_on(
    env: dict[str, str], tmp_path: Path
) -> None:
    os.mkfifo(config_file(env))
    for args in (["chat", "--mock", "--no-log", "hi"], ["_complete", "models"]):
        r = run_mint(args, env, timeout=HANG)
        assert r.returncode == 0, r.stderr
    r = run_mint(["chat", "--mock", "--no-log", "hi"], env, timeout=HANG)
    assert r.stdout == b"Mock reply to: hi\n"
    named = tmp_path / "named-fifo"
    os.mkfifo(named)
    r = run_mint(["_complete", "profiles"], {**env, "MINT_CONFIG": str(named)}, timeout=HANG)
    assert (r.returncode, r.stdout) == (0, b""), r.stderr
    r = run_mint(["chat", "--dry-run", "hi"], {**env, "MINT_CONFIG": str(named)}, timeout=HANG)
    assert r.returncode == 0, r.stderr


def test_a_config_from_process_substitution_is_still_read(env: dict[str, str]) -> None:
    # /dev/fd/N: a pipe whose writer is there; its text arrives after mint opened it
    script = 'MINT_CONFIG=<(sleep 0.3; printf \'model = "from-the-pipe"\\n\') "$@"'
    r = subprocess.run(
        ["bash", "-c", script, "bash", *MINT, "chat", "--dry-run", "hi"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=HANG,
    )
    never_internal(r.stderr)
    assert r.returncode == 0, r.stderr
    assert b'"model": "from-the-pipe"' in r.stdout


def test_fifos_among_the_files_mint_opens_on_its_own_never_hang(
    env: dict[str, str], refused_url: str
) -> None:
    cache = Path(env["XDG_CACHE_HOME"]) / "mint"
    cache.mkdir(parents=True)
    os.mkfifo(cache / "models")  # what Tab offers for -m
    r = run_mint(["_complete", "models"], env, timeout=HANG)
    assert (r.returncode, r.stdout) == (0, b""), r.stderr

    journals = Path(env["XDG_STATE_HOME"]) / "mint" / "journals"
    os.makedirs(journals, mode=0o700, exist_ok=True)
    os.mkfifo(journals / "20261206-000000-ffffff.jsonl")
    for args in (["journal", "list"], ["_complete", "journals"]):
        r = run_mint(args, env, timeout=HANG)
        assert r.returncode == 0, r.stderr
        assert b"ffffff" not in r.stdout  # not a journal mint can read
    r = run_mint(["chat", "--resume", "20261206-000000-ffffff"], env, timeout=HANG)
    assert one_error(r, 2).startswith("mint: error: no unfinished reply with ID")

    job = Path(env["XDG_STATE_HOME"]) / "mint" / "batches" / "abc"
    os.makedirs(job, mode=0o700)
    os.mkfifo(job / "job.json")  # remote batch jobs, all read to find a batch's job
    r = run_mint(["batch", "status", "batch_x"], {**env, "MINT_BASE_URL": refused_url}, timeout=HANG)
    assert one_error(r, 3) == (
        f"mint: error: the job file {job / 'job.json'} is not a file; remove its directory"
    )

    data = Path(env["XDG_DATA_HOME"]) / "mint"
    data.mkdir(mode=0o700, parents=True)
    os.mkfifo(data / ".logs.db.lock")  # taken while the log database is first made
    r = run_mint(["chat", "--mock", "hi"], env, timeout=HANG)  # saved: the log is made
    assert r.stdout == b"Mock reply to: hi\n"
    line = one_error(r, 3)
    assert f"{data / '.logs.db.lock'} is a symbolic link or not a file" in line
    (data / ".logs.db.lock").unlink()
    assert run_mint(["chat", "--mock", "hi"], env).returncode == 0  # the log is made
    for suffix in ("-journal", "-wal", "-shm"):  # SQLite's own files beside the log
        side = data / f"logs.db{suffix}"
        side.unlink(missing_ok=True)
        os.mkfifo(side)
        for args in (["log", "list"], ["chat", "--mock", "hi"]):
            line = one_error(run_mint(args, env, timeout=HANG), 3)
            assert f"{side} is a symbolic link or not a file" in line
        side.unlink()
    old = data / "conversations"  # files of an older mint, imported under their own lock
    old.mkdir(mode=0o700)
    (old / "a.json").write_text("{}")
    os.mkfifo(old / ".lock")
    line = one_error(run_mint(["log", "list"], env, timeout=HANG), 3)
    assert f"cannot lock {old}" in line


@pytest.fixture
def deep(tmp_path: Path) -> Path:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "{a=" * 500 + "1" + "}" * 500 + "\n")
    return path


def test_a_config_nested_too_deeply_is_exit_3_naming_the_file(
    env: dict[str, str], deep: Path
) -> None:
    env = {**env, "MINT_CONFIG": str(deep)}
    for args in (["chat", "hi"], ["models"], ["batch", "-"]):
        line = one_error(run_mint(args, env), 3)
        assert line == f"mint: error: config {deep} is not valid TOML: it nests too deeply"
    # completion says nothing rather than fail
    r = run_mint(["_complete", "models"], env)
    assert (r.returncode, r.stdout) == (0, b""), r.stderr


def test_the_error_boundary_reports_the_error_whatever_the_config_holds(
    env: dict[str, str], deep: Path
) -> None:
    """The boundary reads the config again for keys to redact: the error printed is
    the one that happened (a usage error here), not one from that reading."""
    env = {**env, "MINT_CONFIG": str(deep)}
    r = run_mint(["chat", "--no-such-option", "hi"], env)
    assert one_error(r, 2).startswith("mint: error: No such option '--no-such-option'.")
    r = run_mint(["log", "show", "no-such-conversation"], env)
    assert one_error(r, 2).startswith("mint: error: no conversation")


# -- tools declared in the config file -------------------------------------------------


def test_a_config_tool_that_cannot_run_is_exit_3_naming_the_file_and_table(
    env: dict[str, str],
) -> None:
    path = config_file(env)
    path.write_text('[tools.get_weather]\ncommand = "/nonexistent/x --metric"\n')
    missing = f"mint: error: {path}: [tools.get_weather] command: /nonexistent/x: command not found"
    for args in (["chat", "--mock", "--no-log", "hi"], ["batch", "--mock", "-"]):
        r = run_mint(args, env, input=b'{"prompt": "hi"}\n')
        assert one_error(r, 3) == missing
        assert r.stdout == b""
    # -x cannot run with the tool loop: the line says the tools came from the file
    r = run_mint(["chat", "--mock", "--no-log", "-x", "hi"], env)
    assert one_error(r, 2) == (
        "mint: error: -x/--extract does not work with the tool loop "
        f"(--tool-cmd, --mcp; {path} declares tools, which --no-tools leaves out)"
    )
    path.write_text('[profiles.p.mcp.fs]\ncommand = "/nonexistent/server /srv"\n')
    r = run_mint(["chat", "--mock", "--no-log", "--profile", "p", "hi"], env)
    assert one_error(r, 3) == (
        f"mint: error: {path} [profiles.p]: [mcp.fs] command: cannot start "
        "/nonexistent/server: No such file or directory"
    )
    # typed on the command line: a usage error about the flag, as before
    r = run_mint(["chat", "--mock", "--no-log", "--tool-cmd", "w=/nonexistent/z", "hi"], env)
    assert one_error(r, 2) == "mint: error: --tool-cmd w: /nonexistent/z: command not found"
    r = run_mint(["chat", "--mock", "--no-log", "--mcp", "/nonexistent/z", "hi"], env)
    assert one_error(r, 2).startswith("mint: error: --mcp '/nonexistent/z': cannot start")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[tools.w]\ncommand = "/bin/cat \'oops"\n', ": [tools.w] command: No closing quotation"),
        (
            '[profiles.p.mcp.fs]\ncommand = "srv \\"x"\n',
            " [profiles.p]: [mcp.fs] command: No closing quotation",
        ),
        ('[tools."a b"]\ncommand = "/bin/cat"\n', ": [tools.a b]: a tool name is 1-64 letters"),
        (
            'tool_cmd = ["w=/bin/cat"]\n',
            ': tool_cmd is not a config key; declare each as a [tools.NAME] table with command = "..."',
        ),
        ('[profiles.p]\ntool_cmd = ["w=/bin/cat"]\n', " [profiles.p]: tool_cmd is not a config key"),
        ('mcp = ["/bin/cat"]\n', ': mcp must be [mcp.NAME] tables, each with command = "..."'),
    ],
)
def test_config_tool_tables_are_checked_when_the_file_is_read(
    env: dict[str, str], text: str, message: str
) -> None:
    path = config_file(env)
    path.write_text(text)
    # any command, and whether or not the profile is used: the whole file is checked
    line = one_error(run_mint(["chat", "--mock", "--no-log", "hi"], env), 3)
    assert line.startswith(f"mint: error: {path}{message}"), line


# -- an empty ID ----------------------------------------------------------------------


def test_an_empty_id_is_a_usage_error_everywhere(env: dict[str, str]) -> None:
    """'' once meant a new conversation to --conversation, the latest to log show and
    journal show, and 'give an ID' to rm: now one clear line, exit 2, nothing done."""
    r = run_mint(["chat", "--mock", "hi"], env)  # a conversation that '' must not reach
    assert r.returncode == 0, r.stderr
    log_before = run_mint(["log", "list"], env).stdout
    for args, line in [
        (["chat", "--mock", "--conversation", "", "hi"], "--conversation: conversation"),
        (["chat", "--mock", "--conversation= ", "hi"], "--conversation: conversation"),
        (["log", "show", ""], "conversation ID"),
        (["log", "rm", ""], "conversation ID"),
        (["journal", "show", ""], "journal ID"),
        (["journal", "rm", ""], "journal ID"),
        (["chat", "--resume", ""], "--resume: resume"),  # --resume alone: the latest
    ]:
        r = run_mint(args, env)
        got = one_error(r, 2)
        assert got.startswith(f"mint: error: {line} must not be empty (got '"), (args, got)
        assert r.stdout == b"", args
    assert run_mint(["log", "list"], env).stdout == log_before  # nothing saved or removed


def test_no_tools_leaves_out_the_tools_the_config_file_declares(env: dict[str, str]) -> None:
    config_file(env).write_text('[tools.say]\ncommand = "echo said"\n')
    # declared in the file, the tool loop rules out -x and --schema, and says how to leave it
    r = run_mint(["chat", "--mock", "--no-log", "-x", "show code"], env)
    assert "declares tools, which --no-tools leaves out" in one_error(r, 2)
    r = run_mint(["chat", "--mock", "--no-log", "--schema", '{"type": "object"}', "x"], env)
    assert "declares tools, which --no-tools leaves out" in one_error(r, 2)
    r = run_mint(["chat", "--mock", "--dry-run", "hi"], env)
    assert r.returncode == 0 and b'"say"' in r.stdout
    r = run_mint(["chat", "--mock", "--dry-run", "--no-tools", "hi"], env)
    assert r.returncode == 0 and b'"tools"' not in r.stdout, r.stdout
    r = run_mint(["chat", "--mock", "--no-log", "--no-tools", "hi"], env)
    assert r.returncode == 0 and r.stdout == b"Mock reply to: hi\n"
    r = run_mint(["chat", "--mock", "--no-tools", "--tool-cmd", "a=echo", "hi"], env)
    assert "--no-tools cannot be combined with --tool-cmd" in one_error(r, 2)
