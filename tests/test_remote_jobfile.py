"""mint batch --remote and its job file, in real subprocesses against the
mock's batch services: 'mint batch fetch' names the command that retries
what failed (and that command works), a job file edited or damaged by hand
is refused as one configuration error naming it, and the numbers and counts
the messages give."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import jsonl, mock_env, run_mint

FAST = ["--poll", "0.05", "--retry-base", "0.05"]
PROMPTS = b"".join(
    json.dumps({"id": f"q{i}", "prompt": f"question {i}"}).encode() + b"\n" for i in range(3)
)


def job_path(env: dict[str, str]) -> Path:
    (path,) = (Path(env["XDG_STATE_HOME"]) / "mint" / "batches").glob("*/job.json")
    return path


def submitted(server: Any, env: dict[str, str], cwd: Path, *args: str) -> list[str]:
    """Submit prompts.jsonl in ``cwd`` with --no-wait; the batch ids."""
    (cwd / "prompts.jsonl").write_bytes(PROMPTS)
    r = run_mint(
        ["batch", "--remote", "--no-wait", *FAST, *args, "prompts.jsonl"],
        mock_env(env, server),
        cwd=cwd,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.decode().split()


def hint(stderr: bytes) -> str:
    (line,) = [x for x in stderr.decode().splitlines() if x.startswith("mint: to retry them: ")]
    return line.removeprefix("mint: to retry them: ")


def test_fetch_names_the_command_that_retries_its_failed_items(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    faulty = make_mock(batch_delay=0.05, batch_fault="errored=2")
    out = "it's later.jsonl"
    ids = submitted(faulty, env, tmp_path, "-O", out, "--template", "Q: {}", "--max-tokens", "77")
    fetch = run_mint(["batch", "fetch", *FAST, *ids], mock_env(env, faulty), cwd=tmp_path)
    assert fetch.returncode == 9, fetch.stderr
    assert b"mint: error: 1 item failed; their result lines say why" in fetch.stderr
    command = hint(fetch.stderr)
    assert command == (
        "mint batch --remote --resume --retry-failed --template 'Q: {}' --max-tokens 77 "
        "-O 'it'\"'\"'s later.jsonl' prompts.jsonl"
    )
    # What fetch said before, fetch again, would resend nothing: it is refused, and
    # says what does.
    again = run_mint(
        ["batch", "fetch", "--resume", "--retry-failed", *ids], mock_env(env, faulty), cwd=tmp_path
    )
    assert again.returncode == 2
    assert again.stderr.decode() == (
        "mint: error: mint batch fetch collects what the job sent; to send its failed items "
        f"again: {command}\n"
    )
    # The command as a shell reads it works: only the failed item goes, as the job sent it.
    clean = make_mock(batch_delay=0.05)
    argv = shlex.split(command)
    assert argv[0] == "mint"
    r = run_mint([*argv[1:], *FAST], mock_env(env, clean), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (made,) = clean._httpd.batch_store.batches.values()
    (request,) = made.requests
    assert request["custom_id"].startswith("mint-1-")
    assert request["body"]["max_tokens"] == 77
    assert request["body"]["messages"][-1]["content"] == "Q: question 1"
    lines = jsonl((tmp_path / out).read_bytes())
    assert sorted(x["id"] for x in lines) == ["q0", "q1", "q2"]
    assert not any("error" in x for x in lines)


def test_the_retry_command_quotes_control_characters_for_the_shell(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.05, batch_fault="errored=2")
    out = "a\x1b[31mb\tc.jsonl"
    ids = submitted(server, env, tmp_path, "-O", out, "--protocol", "anthropic")
    fetch = run_mint(["batch", "fetch", *FAST, *ids], mock_env(env, server), cwd=tmp_path)
    assert fetch.returncode == 9, fetch.stderr
    assert b"\x1b" not in fetch.stderr
    command = hint(fetch.stderr)
    assert "--protocol anthropic -O $'a\\x1b[31mb\\x09c.jsonl' prompts.jsonl" in command
    # bash reads the word back as the very name.
    word = command.split(" -O ")[1].removesuffix(" prompts.jsonl")
    echoed = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True)
    assert echoed.stdout == out.encode()


def test_stdin_input_is_named_as_stdin_in_the_retry_command(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.05, batch_fault="errored=2")
    r = run_mint(
        ["batch", "--remote", "--no-wait", *FAST, "-O", str(tmp_path / "o.jsonl"), "-"],
        mock_env(env, server),
        input=PROMPTS,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    ids = r.stdout.decode().split()
    fetch = run_mint(["batch", "fetch", *FAST, *ids], mock_env(env, server), cwd=tmp_path)
    assert fetch.returncode == 9, fetch.stderr
    assert hint(fetch.stderr).endswith("--retry-failed -O o.jsonl, with the same input on stdin")


def edit(path: Path, change: Any) -> None:
    job = json.loads(path.read_text())
    change(job)
    path.write_text(json.dumps(job))


def part(job: dict[str, Any]) -> dict[str, Any]:
    return job["parts"][0]  # type: ignore[no-any-return]


DAMAGE = {
    # A billion items: mint walked them all (5 GB and no end).
    "parts[0].ranges: item 1000000000 of an input of 3 lines": lambda j: part(j).update(
        ranges=[[0, 1_000_000_000]], count=1_000_000_000
    ),
    "parts[0].ranges: item 4 of an input of 3 lines": lambda j: part(j).update(
        ranges=[[0, 4]], count=4
    ),
    "parts[0].batch: '../../x' is not a remote id": lambda j: part(j).update(batch="../../x"),
    # The results are read, then removed: here, a file outside the job's directory.
    "parts[0].results: '../../../../victim' is not a name mint gives": lambda j: part(j).update(
        results=["../../../../victim"], fetched=True, ended=True, state="completed"
    ),
    "parts[0].ranges: 3 items, but count says 2": lambda j: part(j).update(count=2),
    "settings.max_tokens: must be an integer, not a string": lambda j: j["settings"].update(
        max_tokens="many"
    ),
    "settings.shard: must be K/N with 0 <= K < N": lambda j: j["settings"].update(shard=[3, 2]),
    "tag: not 8 hexadecimal digits": lambda j: j.update(tag="../x"),
    "parts: not a list": lambda j: j.update(parts={}),
    "'extra': not a field of a job file": lambda j: j.update(extra=1),
    # fetch writes to the job's -O file: never one the job was not made for.
    "id: not the hash of its input_sha256, output, protocol and base_url": lambda j: j.update(
        output="/tmp/elsewhere.jsonl"
    ),
    "settings.protocol: not the job's protocol": lambda j: j["settings"].update(
        protocol="anthropic"
    ),
}


def test_a_damaged_job_file_is_one_configuration_error_naming_it(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.05, batch_fault="stuck")
    (batch,) = submitted(server, env, tmp_path, "-O", "out.jsonl")
    path = job_path(env)
    whole = path.read_text()
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    menv = mock_env(env, server)
    for what, change in DAMAGE.items():  # one job, damaged in each way in turn
        path.write_text(whole)
        edit(path, change)
        runs = [["batch", "--remote", "--resume", *FAST, "-O", "out.jsonl", "prompts.jsonl"]]
        if "batch" in what or "output" in what:  # the by-id commands read every job file too
            runs += [["batch", "fetch", batch], ["batch", "status", batch]]
        for argv in runs:
            r = run_mint(argv, menv, cwd=tmp_path, timeout=20)
            assert r.returncode == 3, (what, argv, r.stderr)
            assert r.stderr.decode() == (
                f"mint: error: the job file {path} is damaged ({what}); remove its directory\n"
            )
    assert victim.read_text() == "keep me"
    assert len(server._httpd.batch_store.batches) == 1
    path.write_text(whole)  # and the job as it was is taken up again
    r = run_mint(["batch", "cancel", batch], menv)
    assert r.returncode == 0 and json.loads(r.stdout)["state"] == "cancelled", r.stderr


def test_ids_on_the_command_line_stay_one_path_segment(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "requests.jsonl"
    server = make_mock(log=log)
    for ident in ("../models", "a%2Fb", ".."):
        r = run_mint(["batch", "status", ident], mock_env(env, server))
        assert r.returncode == 2 and b"is not a remote batch id" in r.stderr, r.stderr
    r = run_mint(["batch", "status", "batch_a.b:c=d"], mock_env(env, server))
    assert r.returncode == 4 and b"/batches/batch_a.b:c=d" in r.stderr, r.stderr
    assert not log.exists() or b"models" not in log.read_bytes()


# -- numbers and counts in messages --------------------------------------------


def test_a_wait_asked_for_far_past_the_cap_is_said_in_few_words(
    make_mock: Any, env: dict[str, str]
) -> None:
    server = make_mock(fault="status=429,retry_after_ms=1" + "0" * 308)  # 1e305 seconds
    r = run_mint(["chat", "--max-retries", "1", "hi"], mock_env(env, server))
    assert r.returncode == 6
    assert r.stderr.decode() == (
        "mint: error: HTTP 429 Too Many Requests: mock fault: HTTP 429 (the server asked to "
        "wait more than a year before trying again, longer than --retry-max 60s: not retried)\n"
    )


def test_the_mocks_retry_after_bound_is_the_one_it_says(env: dict[str, str]) -> None:
    r = run_mint(["mock", "--port", "0", "--fault", "status=429,retry_after=1e12"], env)
    assert r.returncode == 2
    assert b"retry_after needs a number from 0 to 1000000000" in r.stderr, r.stderr


@pytest.mark.parametrize(
    ("protocol", "fault", "unreadable"),
    # garbled=N: every N-th line cut in half (its custom_id still readable), and a
    # line of noise after them; three items, one batch (Anthropic) or one per model.
    [("anthropic", "garbled=1", "4 lines"), ("anthropic", "garbled=9", "1 line")],
)
def test_every_unreadable_results_line_is_counted(
    make_mock: Any, env: dict[str, str], tmp_path: Path, protocol: str, fault: str, unreadable: str
) -> None:
    server = make_mock(batch_delay=0.05, batch_fault=fault)
    (tmp_path / "in.jsonl").write_bytes(PROMPTS)
    r = run_mint(
        ["batch", "--remote", *FAST, "--protocol", protocol, str(tmp_path / "in.jsonl")],
        mock_env(env, server),
    )
    assert f"mint: warning: {unreadable} of the batch results could not be read" in (
        r.stderr.decode()
    )
    failed = sum("error" in x for x in jsonl(r.stdout))
    assert r.returncode == (9 if failed else 0)
    assert failed == (3 if fault == "garbled=1" else 0)


def test_one_failed_item_of_a_local_batch_is_one_item(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="status=400")
    r = run_mint(["batch", "-"], mock_env(env, server), input=b'{"prompt": "hi"}\n')
    assert r.returncode == 9
    assert b"mint: error: 1 of 1 item failed; their result lines say why\n" in r.stderr
