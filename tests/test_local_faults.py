"""Local faults (issue 24, classes 2, 3, 7 and the journal part of 8): a full disk,
two Ctrl-C, two writers on one file, closed or unwritable standard streams, damaged
journals. Each in real processes; none may lose the journal, double a result, or end
in a traceback or "internal error" (conftest checks every run for those)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, finish, mock_env, never_internal, read_until, run_mint

from mintcli.errors import ExitCode

WRITE_FAILED = int(ExitCode.WRITE_FAILED)


def _journals(env: dict[str, str]) -> list[Path]:
    return sorted((Path(env["XDG_STATE_HOME"]) / "mint" / "journals").glob("*.jsonl"))


def _script(folder: Path, text: str) -> Path:
    """A mock script whose one rule answers every prompt with ``text``."""
    path = folder / "script.json"
    path.write_text(json.dumps([{"text": text}]))
    return path


def _error_lines(err: bytes) -> list[str]:
    return [line for line in err.decode().splitlines() if line.startswith("mint: error:")]


# -- class 2: a full disk ----------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 KiB tmpfs: room for a journal's header and a few records, not a reply."""
    mount = tmp_path / "disk"
    mount.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_keeps_the_journal_and_resume_finishes(
    small_disk: Path, env: dict[str, str], make_mock: Any
) -> None:
    text = " ".join(f"w{i:05d}" for i in range(8000))  # 56 KB: more than the disk holds
    server = make_mock(script=_script(small_disk.parent, text), piece_chars=64)
    env = {**mock_env(env, server), "XDG_STATE_HOME": str(small_disk)}
    expected = f"{text}\n".encode()
    r = run_mint(["chat", "--no-log", "go"], env)
    assert r.returncode == WRITE_FAILED, r.stderr
    errors = _error_lines(r.stderr)
    assert len(errors) == 1 and "No space left on device" in errors[0], r.stderr
    assert b"--resume" in r.stderr
    [journal] = _journals(env)
    assert expected.startswith(r.stdout) and len(r.stdout) < len(expected)
    # the journal holds at least what stdout got, and no half-written line
    assert journal.read_bytes().endswith(b"\n")
    # room again: the resumed run appends to the journal and prints only the rest
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_disk)], check=True)
    again = run_mint(["chat", "--resume", journal.stem], env)
    assert again.returncode == 0, again.stderr
    assert r.stdout + again.stdout == expected
    assert _journals(env) == []


def test_stdout_on_a_full_device(env: dict[str, str], make_mock: Any) -> None:
    env = mock_env(env, make_mock())
    with open("/dev/full", "wb") as full:
        for args in (["chat", "hello"], ["models"], ["--help"], ["--version"]):
            r = subprocess.run(
                [*MINT, *args], env=env, stdout=full, stderr=subprocess.PIPE, timeout=30
            )
            never_internal(r.stderr)
            assert r.returncode == WRITE_FAILED, (args, r.stderr)
            assert _error_lines(r.stderr) == [
                "mint: error: cannot write to stdout: No space left on device"
            ], (args, r.stderr)


def test_record_and_batch_outputs_on_a_full_device(
    env: dict[str, str], make_mock: Any, tmp_path: Path
) -> None:
    env = mock_env(env, make_mock())
    items = tmp_path / "in.jsonl"
    items.write_text('{"prompt": "a"}\n{"prompt": "b"}\n')
    r = run_mint(["chat", "--record", "/dev/full", "hello"], env)
    assert r.returncode == WRITE_FAILED, r.stderr
    assert _error_lines(r.stderr) == [
        "mint: error: cannot write --record /dev/full: No space left on device"
    ]
    r = run_mint(["batch", "-O", "/dev/full", str(items)], env)
    assert r.returncode == WRITE_FAILED, r.stderr
    assert _error_lines(r.stderr) == [
        "mint: error: cannot write -O /dev/full: No space left on device"
    ]
    with open("/dev/full", "wb") as full:
        p = subprocess.run(
            [*MINT, "batch", str(items)], env=env, stdout=full, stderr=subprocess.PIPE, timeout=30
        )
    never_internal(p.stderr)
    assert p.returncode == WRITE_FAILED, p.stderr
    assert len(_error_lines(p.stderr)) == 1


# -- class 2: two Ctrl-C a few milliseconds apart ------------------------------------------


@pytest.mark.parametrize("gap", [0.0, 0.002, 0.005, 0.01])
def test_two_ctrl_c_keep_the_journal(
    gap: float, env: dict[str, str], make_mock: Any, spawn: Any, tmp_path: Path
) -> None:
    text = " ".join(f"p{i:03d}" for i in range(150))
    server = make_mock(script=_script(tmp_path, text), delay=0.002)
    env = mock_env(env, server)
    expected = f"{text}\n".encode()
    proc = spawn([*MINT, "chat", "go"], env)
    first = read_until(
        proc.stdout.fileno(), lambda got: len(got) > 40, timeout=10, what="some of the reply"
    )
    proc.send_signal(signal.SIGINT)
    time.sleep(gap)
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, timeout=10)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err, err
    assert _error_lines(err) == ["mint: error: interrupted"], err
    [journal] = _journals(env)
    assert f"mint chat --resume {journal.stem}".encode() in err
    again = run_mint(["chat", "--resume", journal.stem], env)
    assert again.returncode == 0, again.stderr
    assert first + out + again.stdout == expected  # nothing lost, nothing repeated


# -- class 3: one output file, one writer --------------------------------------------------


def _start_two(spawn: Any, argv: list[str], env: dict[str, str]) -> list[Any]:
    return [spawn(argv, env) for _ in range(2)]


@pytest.mark.parametrize("via_link", [False, True], ids=["same-path", "symlink"])
def test_two_batches_on_one_output_file(
    env: dict[str, str], make_mock: Any, spawn: Any, tmp_path: Path, via_link: bool
) -> None:
    log = tmp_path / "requests.jsonl"
    server = make_mock(log=log, first_byte_delay=0.4)  # both start while the first runs
    env = mock_env(env, server)
    items = tmp_path / "in.jsonl"
    items.write_text(
        "".join(json.dumps({"id": i, "prompt": f"item {i}"}) + "\n" for i in range(12))
    )
    out = tmp_path / "out.jsonl"
    argv = [*MINT, "batch", "-q", "-j", "4", "--resume", "-O", str(out), str(items)]
    if via_link:  # the second names the same file through a symlink: still one writer
        link = tmp_path / "link.jsonl"
        link.symlink_to(out.name)
        procs = [spawn(argv, env), spawn([*argv[:-2], str(link), str(items)], env)]
    else:
        procs = _start_two(spawn, argv, env)
    results = [finish(p, timeout=30) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, int(ExitCode.USAGE)], results
    loser = results[[p.returncode for p in procs].index(int(ExitCode.USAGE))][1].decode()
    assert "is being written by another mint batch" in loser
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(line["id"] for line in lines) == list(range(12))
    assert len(log.read_text().splitlines()) == 12  # every item asked once


def test_two_recordings_into_one_file(
    env: dict[str, str], make_mock: Any, spawn: Any, tmp_path: Path
) -> None:
    # The first holds the file for as long as its reply takes: long enough that the
    # second starts meanwhile even on a loaded machine.
    env = mock_env(env, make_mock(first_byte_delay=1.5))
    record = tmp_path / "rec.jsonl"
    procs = _start_two(spawn, [*MINT, "chat", "--record", str(record), "hi"], env)
    results = [finish(p, timeout=30) for p in procs]
    assert sorted(p.returncode for p in procs) == [0, int(ExitCode.USAGE)], results
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert lines[0]["mint_recording"] == 1
    assert sum(1 for line in lines if "mint_recording" in line) == 1  # one writer, not torn
    assert sum(1 for line in lines if "request" in line) == 1


# -- class 7: closed standard streams ----------------------------------------------------


def _bash(
    command: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    mint = " ".join(MINT)
    r = subprocess.run(
        ["bash", "-c", command.replace("mint ", mint + " ", 1)],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    never_internal(r.stderr)
    return r


def test_closed_stdout(env: dict[str, str], make_mock: Any, tmp_path: Path) -> None:
    env = mock_env(env, make_mock())
    r = _bash("mint chat hello >&-", env)
    assert r.returncode == WRITE_FAILED, r.stderr
    assert _error_lines(r.stderr) == ["mint: error: cannot write to stdout: stdout is closed"]
    items = tmp_path / "in.jsonl"
    items.write_text('{"prompt": "a"}\n')
    r = _bash(f"mint batch {items} >&-", env)
    assert r.returncode == WRITE_FAILED, r.stderr
    assert len(_error_lines(r.stderr)) == 1
    for asked in ("--help", "--version", "chat --help"):  # what click prints, too
        r = _bash(f"mint {asked} >&-", env)
        assert r.returncode == WRITE_FAILED, (asked, r.stderr)
        assert _error_lines(r.stderr) == ["mint: error: cannot write to stdout: stdout is closed"]


def test_closed_stdin_reads_as_empty(env: dict[str, str], make_mock: Any) -> None:
    env = mock_env(env, make_mock())
    r = _bash("mint chat hello <&-", env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mock reply to: hello\n"
    r = _bash("mint chat <&-", env)
    assert r.returncode == int(ExitCode.USAGE), r.stderr


def test_closed_stderr_with_a_retry(env: dict[str, str], make_mock: Any, tmp_path: Path) -> None:
    """The retry's warning has nowhere to go; the run still finishes, and no file mint
    opens later takes fd 2 (it would receive the warning)."""
    server = make_mock(fault="status=503,times=1")
    env = {**mock_env(env, server), "MINT_RETRY_BASE": "0.01"}
    r = _bash("mint chat --record rec.jsonl hello 2>&- ; echo status=$? >&2", env, tmp_path)
    assert r.stdout == b"Mock reply to: hello\n"
    assert r.stderr.strip() == b"status=0"
    recorded = (tmp_path / "rec.jsonl").read_bytes()
    assert b"retry" not in recorded and recorded.count(b'"request"') == 2


# -- class 8: damaged journals -------------------------------------------------------------


def _header(ident: str, **more: Any) -> dict[str, Any]:
    """A journal header as mint writes one."""
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    return {"v": 1, "id": ident, "created": 1.0, "request": request, "protocol": "openai", **more}


def test_a_damaged_journal_breaks_no_other(env: dict[str, str], make_mock: Any) -> None:
    env = mock_env(env, make_mock())
    r = run_mint(["chat", "--format", "json", "hello"], env)
    assert r.returncode == 0
    folder = Path(env["XDG_STATE_HOME"]) / "mint" / "journals"
    good = _header("20260101-000000-aaaaaa")
    (folder / "20260101-000000-aaaaaa.jsonl").write_text(
        json.dumps(good) + '\n{"t": "kept"}\n5\n{"t": "after a bad line"}\n'
    )
    no_request = {"v": 1, "id": "x", "created": 2.0}
    (folder / "20260101-000000-bbbbbb.jsonl").write_text(json.dumps(no_request) + "\n")
    (folder / "20260101-000000-cccccc.jsonl").write_text("[1, 2]\n")
    (folder / "20260101-000000-dddddd.jsonl").write_text(
        json.dumps({**good, "request": "text"}) + '\n{"u": {"output_tokens": "many"}}\n'
    )
    os.utime(folder, None)
    listed = run_mint(["journal", "list", "--format", "json"], env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [row["id"] for row in rows] == ["20260101-000000-aaaaaa"]
    assert rows[0]["received_chars"] == len("kept")
    shown = run_mint(["journal", "show", "20260101-000000-aaaaaa"], env)
    assert shown.stdout == b"kept"
    text = run_mint(["journal", "list"], env)
    assert text.returncode == 0 and text.stdout.count(b"\n") == 1
    # a header whose request is not one mint wrote: a clear refusal, not a crash
    (folder / "20260101-000000-eeeeee.jsonl").write_text(
        json.dumps({**good, "request": {"model": "m", "messages": 5}}) + '\n{"t": "x"}\n'
    )
    resumed = run_mint(["chat", "--resume", "20260101-000000-eeeeee"], env)
    assert resumed.returncode == int(ExitCode.USAGE), resumed.stderr
    assert _error_lines(resumed.stderr) == [
        "mint: error: journal 20260101-000000-eeeeee is damaged (its header is not mint's)"
    ]


@pytest.mark.parametrize("field", ["format", "protocol"])
def test_a_journal_header_naming_an_unknown_format_is_damaged(
    env: dict[str, str], make_mock: Any, field: str
) -> None:
    env = mock_env(env, make_mock())
    folder = Path(env["XDG_STATE_HOME"]) / "mint" / "journals"
    folder.mkdir(parents=True, mode=0o700)
    header = _header("20260101-000000-ffffff", **{field: "bogus"})
    (folder / "20260101-000000-ffffff.jsonl").write_text(json.dumps(header) + '\n{"t": "x"}\n')
    resumed = run_mint(["chat", "--resume", "20260101-000000-ffffff"], env)
    assert resumed.returncode == int(ExitCode.USAGE), resumed.stderr
    assert _error_lines(resumed.stderr) == [
        "mint: error: journal 20260101-000000-ffffff is damaged (its header is not mint's)"
    ]


def test_remote_request_file_on_a_full_disk(
    small_disk: Path, env: dict[str, str], make_mock: Any, tmp_path: Path
) -> None:
    # Request lines that fit the file object's buffer, on a disk with less room than
    # they take: the write is buffered, and the disk refuses only when the part is closed.
    env = {**mock_env(env, make_mock()), "XDG_STATE_HOME": str(small_disk)}
    (small_disk / "filler").write_bytes(b"x" * (12 * 1024))
    items = tmp_path / "in.jsonl"
    items.write_text(
        "".join(json.dumps({"id": i, "prompt": "p" * 1000}) + "\n" for i in range(5))
    )
    r = run_mint(["batch", "--remote", "--poll", "0.05", str(items)], env)
    assert r.returncode == WRITE_FAILED, r.stderr
    [error] = _error_lines(r.stderr)
    assert "cannot write the request file " in error and "No space left on device" in error, error
    assert f"{small_disk}/mint/batches/" in error and "stdout" not in error
