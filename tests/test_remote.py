"""mint batch --remote against the mock's batch services (mintcli/mock/batches.py),
in real subprocesses: results, faults, parts, --no-wait and the by-id commands,
and kills at every step followed by --resume, counting the batches the mock made."""

from __future__ import annotations

import io
import json
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    MINT,
    SECRET,
    jsonl,
    mock_env,
    never_internal,
    peak_of,
    readme_block,
    run_mint,
    small_png,
)

FAST = ["--poll", "0.05", "--retry-base", "0.05"]


def items(n: int, **extra: Any) -> bytes:
    return b"".join(
        json.dumps({"id": f"q{i}", "prompt": f"question {i}", **extra}).encode() + b"\n"
        for i in range(n)
    )


def store(server: Any) -> Any:
    return server._httpd.batch_store


def batches_made(server: Any) -> int:
    s = getattr(server._httpd, "batch_store", None)
    return 0 if s is None else len(s.batches)


def remote(
    server: Any, env: dict[str, str], tmp_path: Path, data: bytes, *args: str, timeout: float = 30
) -> Any:
    source = tmp_path / "in.jsonl"
    source.write_bytes(data)
    return run_mint(
        ["batch", "--remote", *FAST, *args, str(source)], mock_env(env, server), timeout=timeout
    )


def wait_for(what: str, cond: Callable[[], bool], timeout: float = 15) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_openai_results_in_input_order_with_the_remote_field(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.2)
    data = items(3) + b"not json\n" + items(1, protocol="anthropic").replace(b"q0", b"x")
    out = tmp_path / "out.jsonl"
    r = remote(server, env, tmp_path, data, "-O", str(out))
    assert r.returncode == 9, r.stderr
    assert r.stderr.count(b"\n") == 2  # the error and its note: no progress off a terminal
    lines = jsonl(out.read_bytes())
    assert [x["id"] for x in lines] == ["q0", "q1", "q2", 4, "x"]
    assert lines[0]["text"] == "Mock reply to: question 0" and "error" not in lines[0]
    # The same result lines as a local batch gives (but for attempts and remote).
    local = run_mint(["batch", str(tmp_path / "in.jsonl")], mock_env(env, server))
    for mine, theirs in zip(lines[:4], jsonl(local.stdout)[:4], strict=True):
        assert {**mine, "attempts": 0, "remote": 0} == {**theirs, "attempts": 0, "remote": 0}
    batch = lines[0]["remote"]["batch"]
    assert batch.startswith("batch_") and lines[0]["remote"]["state"] == "succeeded"
    assert lines[3]["error"]["name"] == "usage" and "remote" not in lines[3]
    assert "--protocol openai" in lines[4]["error"]["message"]
    # One upload of the three good items, as JSONL lines the Batch API takes.
    uploads = [f for name, f in store(server).files.values() if name.startswith("mint-")]
    (file,) = uploads
    sent = [json.loads(x) for x in file.splitlines()]
    tag = json.loads(next(Path(env["XDG_STATE_HOME"]).glob("mint/batches/*/job.json")).read_text())[
        "tag"
    ]
    assert [x["custom_id"] for x in sent] == [f"mint-{i}-{tag}" for i in range(3)]
    assert sent[0]["url"] == "/v1/chat/completions" and "stream" not in sent[0]["body"]
    made = [b for b in store(server).batches.values()]
    assert len(made) == 1 and made[0].metadata["mint_part"] == "0"
    # The job file: private, no key, finished.
    (job,) = (Path(env["XDG_STATE_HOME"]) / "mint" / "batches").glob("*/job.json")
    assert stat.S_IMODE(job.stat().st_mode) == 0o600
    assert SECRET not in job.read_text() and json.loads(job.read_text())["finished"]


def test_anthropic_from_stdin(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(batch_delay=0.2)
    with_password = server.base_url.replace("http://", "http://me:pw-hidden@")
    r = run_mint(
        [
            "batch",
            "--remote",
            *FAST,
            "--protocol",
            "anthropic",
            "-m",
            "claude-x",
            "--no-wait",
            "-v",
        ],
        {**env, "MINT_BASE_URL": with_password},
        input=items(3),
    )
    assert r.returncode == 0, r.stderr
    assert b"> POST http://" in r.stderr and b"/v1/messages/batches" in r.stderr
    assert b"pw-hidden" not in r.stderr
    (job,) = (Path(env["XDG_STATE_HOME"]) / "mint" / "batches").glob("*/job.json")
    assert "pw-hidden" not in job.read_text() and SECRET not in job.read_text()
    # The job kept its own copy of stdin: fetch writes the result lines to stdout.
    r = run_mint(["batch", "fetch", *FAST, *r.stdout.decode().split()], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    lines = jsonl(r.stdout)
    assert [x["id"] for x in lines] == ["q0", "q1", "q2"]
    assert lines[2]["text"] == "Mock reply to: question 2" and lines[2]["model"] == "claude-x"
    assert lines[2]["finish_reason"] == "end_turn"
    assert lines[2]["remote"]["batch"].startswith("msgbatch_")
    (made,) = store(server).batches.values()
    assert made.requests[0]["params"]["max_tokens"] > 0


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_errored_and_expired_items_get_error_lines(
    make_mock: Any, env: dict[str, str], tmp_path: Path, protocol: str
) -> None:
    server = make_mock(batch_delay=0.1, batch_fault="errored=2,expired=3,poll500=1")
    out = tmp_path / "out.jsonl"
    r = remote(server, env, tmp_path, items(6), "--protocol", protocol, "-O", str(out))
    assert r.returncode == 9, r.stderr
    # The failed poll, retried when its Retry-After said.
    assert b"HTTP 500" in r.stderr and b"retrying in 0.2s" in r.stderr
    states = [x["remote"]["state"] for x in jsonl(out.read_bytes())]
    assert states == ["succeeded", "errored", "expired", "errored", "succeeded", "expired"]
    lines = jsonl(out.read_bytes())
    assert (
        lines[1]["error"]["name"] == "rejected"
        and "mock: this item failed" in lines[1]["error"]["message"]
    )
    assert "24h" in lines[2]["error"]["message"]


def test_failed_validation_fails_every_item(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.1, batch_fault="invalid")
    r = remote(server, env, tmp_path, items(2))
    assert r.returncode == 9
    lines = jsonl(r.stdout)
    assert [x["remote"]["state"] for x in lines] == ["failed", "failed"]
    assert "the input file is invalid" in lines[0]["error"]["message"]


def test_a_download_cut_midway_is_fetched_again(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.1, batch_fault="cut")
    r = remote(server, env, tmp_path, items(40))
    assert r.returncode == 0, r.stderr
    assert b"retrying" in r.stderr
    assert [x["id"] for x in jsonl(r.stdout)] == [f"q{i}" for i in range(40)]
    downloads = [q for q in server.requests if q["path"].endswith("/content")]
    assert len(downloads) == 2


def test_parts_at_the_size_limit_and_per_model(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.1)
    data = items(5) + items(2, model="other").replace(b'"q', b'"o')
    r = remote(server, env, tmp_path, data, "--part-size", "2")
    assert r.returncode == 0, r.stderr
    lines = jsonl(r.stdout)
    assert [x["id"] for x in lines] == ["q0", "q1", "q2", "q3", "q4", "o0", "o1"]
    made = list(store(server).batches.values())
    assert [len(b.requests) for b in made] == [2, 2, 1, 2]  # one model per OpenAI file
    assert len({x["remote"]["batch"] for x in lines}) == 4
    assert lines[-1]["model"] == "other"


def test_a_part_ends_before_the_providers_byte_limit(tmp_path: Path) -> None:
    """The count limit is tested above through the command line; the byte limit
    (200 MB, 256 MB) is too large for that, so build_parts is given a provider
    whose limit is a few requests' worth."""
    from mintcli.batch.items import Defaults, Reader
    from mintcli.options.config import resolve
    from mintcli.options.settings import BatchSettings
    from mintcli.remote.job import Job
    from mintcli.remote.plan import build_parts, custom_id, request_body
    from mintcli.remote.providers import AnthropicBatches

    settings = resolve(
        BatchSettings, {"protocol": "anthropic"}, environ={"MINT_CONFIG": "/dev/null"}
    )
    provider = AnthropicBatches()
    job = Job("j", tmp_path, "anthropic", "0" * 64, None, "http://x")
    item = next(iter(Reader(io.BytesIO(items(1)), Defaults.from_settings(settings))))
    body = request_body(item, job.protocol)
    assert isinstance(body, dict)
    one = len(provider.request_line(custom_id(item, job.tag), body))
    provider.max_bytes = 3 * one + one // 2  # three requests fit, a fourth does not
    build_parts(job, provider, Reader(io.BytesIO(items(8)), Defaults.from_settings(settings)), None)
    assert [p.count for p in job.parts] == [3, 3, 2]
    assert all(p.size <= provider.max_bytes for p in job.parts)
    sizes = [job.part_file(p).stat().st_size for p in job.parts]
    assert sizes == [p.size for p in job.parts]
    assert [p.ranges for p in job.parts] == [[[0, 3]], [[3, 6]], [[6, 8]]]


def test_no_wait_status_cancel_and_fetch(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.1, batch_fault="stuck")
    out = tmp_path / "out.jsonl"
    r = remote(server, env, tmp_path, items(3), "--no-wait", "-O", str(out))
    assert r.returncode == 0, r.stderr
    (batch,) = r.stdout.decode().split()
    assert not out.exists()
    menv = mock_env(env, server)
    status = run_mint(["batch", "status", batch], menv)
    assert json.loads(status.stdout)["state"] in ("validating", "in_progress"), status.stderr
    cancel = run_mint(["batch", "cancel", batch], menv)
    assert json.loads(cancel.stdout) == {
        "batch": batch,
        "state": "cancelled",
        "ended": True,
        "done": 3,
        "failed": 3,
        "total": 3,
    }
    fetch = run_mint(["batch", "fetch", *FAST, batch], menv)
    assert fetch.returncode == 9, fetch.stderr
    lines = jsonl(out.read_bytes())  # the job's own -O file
    assert [x["remote"]["state"] for x in lines] == ["canceled"] * 3
    unknown = run_mint(["batch", "fetch", "batch_nope"], menv)
    assert unknown.returncode == 2 and b"no local job" in unknown.stderr


def test_an_unfinished_job_needs_resume(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.1, batch_fault="stuck")
    out = tmp_path / "out.jsonl"
    assert remote(server, env, tmp_path, items(2), "--no-wait", "-O", str(out)).returncode == 0
    again = remote(server, env, tmp_path, items(2), "-O", str(out))
    assert again.returncode == 2 and b"--resume" in again.stderr
    assert batches_made(server) == 1


def test_retry_failed_sends_only_the_failed_items(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    faulty = make_mock(batch_delay=0.1, batch_fault="errored=2")
    out = tmp_path / "out.jsonl"
    assert remote(faulty, env, tmp_path, items(5), "-O", str(out)).returncode == 9
    clean = make_mock(batch_delay=0.1)
    r = remote(clean, env, tmp_path, items(5), "--retry-failed", "-O", str(out))
    assert r.returncode == 0, r.stderr
    (made,) = store(clean).batches.values()
    assert [x["custom_id"].split("-")[:2] for x in made.requests] == [["mint", "1"], ["mint", "3"]]
    lines = jsonl(out.read_bytes())
    assert sorted(x["id"] for x in lines) == [f"q{i}" for i in range(5)]
    assert not any("error" in x for x in lines)


# The kill points: the step the mock holds (answering nothing) while mint is killed.
KILLS = {
    "upload": lambda s: len(s.files) == 1,
    "create": lambda s: len(s.batches) == 1,
    "poll": lambda s: any(b.polls for b in s.batches.values()),
    "download": lambda s: bool(s.downloads),
}


@pytest.mark.parametrize(
    ("protocol", "step"),
    # Anthropic batches take their requests in the create call: there is no upload.
    [("openai", step) for step in KILLS] + [("anthropic", s) for s in KILLS if s != "upload"],
)
def test_resume_after_a_kill_pays_once(
    make_mock: Any, env: dict[str, str], tmp_path: Path, spawn: Any, step: str, protocol: str
) -> None:
    server = make_mock(batch_delay=0.1, batch_fault=f"hold={step}")
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(items(4))
    args = ["batch", "--remote", *FAST, "--protocol", protocol, "-O", str(out), str(source)]
    proc = spawn([*MINT, *args], mock_env(env, server))
    wait_for(step, lambda: getattr(server._httpd, "batch_store", None) is not None
             and KILLS[step](store(server)))  # fmt: skip
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    r = run_mint([*args[:1], "--resume", *args[1:]], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert batches_made(server) == 1
    if protocol == "openai":  # an upload whose answer never came is found, not sent again
        uploads = [name for name, _ in store(server).files.values() if name.startswith("mint-")]
        assert len(uploads) == 1, uploads
    if protocol == "anthropic" and step == "create":
        # No metadata to find it by: the batch of the part's size made then, checked.
        assert b"re-attached to msgbatch_" in r.stderr
    assert [x["id"] for x in jsonl(out.read_bytes())] == ["q0", "q1", "q2", "q3"]


def test_progress_line_on_a_terminal(
    make_mock: Any, env: dict[str, str], tmp_path: Path, spawn_pty: Any
) -> None:
    server = make_mock(batch_delay=0.3)
    source = tmp_path / "in.jsonl"
    source.write_bytes(items(2))
    child = spawn_pty(
        [*MINT, "batch", "--remote", *FAST, "-O", str(tmp_path / "o"), str(source)],
        mock_env(env, server),
    )
    text = child.read_until(None, timeout=20, what="the end of the batch")
    assert child.wait() == 0
    never_internal(text)
    assert b"mint batch --remote: " in text and b"/2 done" in text
    assert b"remote batch: 2 succeeded, 0 failed" in text


def test_plain_batch_does_not_import_the_remote_package(env: dict[str, str]) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from mintcli.cli.main import main\n"
        "sys.argv = ['mint', 'batch', '--lines', '-']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('mintcli.remote' in sys.modules, file=sys.stderr)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env={**env, "MINT_BASE_URL": "http://127.0.0.1:9/v1"},
        input=b"", capture_output=True, timeout=20,
    )  # fmt: skip
    assert r.stderr.strip().endswith(b"False"), r.stderr


def test_readme_remote_example_runs(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    import subprocess

    server = make_mock(batch_delay=0.05)
    (tmp_path / "prompts.jsonl").write_bytes(items(3))
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("batch-remote")],
        cwd=tmp_path, env={**mock_env(env, server), "MINT_POLL": "0.05"},
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    never_internal(r.stderr)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["batch"].startswith("batch_")
    for name in ("results.jsonl", "later.jsonl"):
        assert [x["id"] for x in jsonl((tmp_path / name).read_bytes())] == ["q0", "q1", "q2"]


def test_fetch_finds_the_right_job_when_two_gateways_used_one_id(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    first, second = make_mock(batch_delay=0.05), make_mock(batch_delay=0.05)
    out = tmp_path / "out.jsonl"
    assert remote(first, env, tmp_path, items(2), "-O", str(out)).returncode == 0
    r = remote(second, env, tmp_path, items(2), "--no-wait", "-O", str(out))
    assert r.stdout.split() == [b"batch_000002mock"]  # the same id as the first gateway's
    fetch = run_mint(["batch", "fetch", *FAST, "batch_000002mock"], mock_env(env, second))
    assert fetch.returncode == 0, fetch.stderr
    assert [x["id"] for x in jsonl(out.read_bytes())] == ["q0", "q1"]


def test_sigterm_leaves_the_remote_batch_running_and_says_how_to_reattach(
    make_mock: Any, env: dict[str, str], tmp_path: Path, spawn: Any
) -> None:
    server = make_mock(batch_delay=0.05, batch_fault="stuck")
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(items(2))
    args = ["batch", "--remote", *FAST, "-O", str(out), str(source)]
    proc = spawn([*MINT, *args], mock_env(env, server))
    wait_for("a poll", lambda: batches_made(server) == 1 and store(server).batches
             and next(iter(store(server).batches.values())).polls > 0)  # fmt: skip
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=10)
    never_internal(err)
    assert proc.returncode == 143
    assert b"batch_000002mock" in err and b"--resume re-attaches" in err
    menv = mock_env(env, server)
    assert json.loads(run_mint(["batch", "cancel", "batch_000002mock"], menv).stdout)["ended"]
    r = run_mint([args[0], "--resume", *args[1:]], menv)
    assert r.returncode == 9 and batches_made(server) == 1
    assert [x["remote"]["state"] for x in jsonl(out.read_bytes())] == ["canceled"] * 2


def test_a_refused_anthropic_create_leaves_no_job_behind(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.05, batch_fault="invalid")
    r = remote(server, env, tmp_path, items(2), "--protocol", "anthropic")
    assert r.returncode == 4 and b"HTTP 400" in r.stderr
    again = remote(server, env, tmp_path, items(2), "--protocol", "anthropic")
    assert again.returncode == 4 and b"unfinished" not in again.stderr


def test_resume_after_a_kill_mid_write_writes_only_the_missing_lines(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.05)
    out = tmp_path / "out.jsonl"
    assert remote(server, env, tmp_path, items(5), "-O", str(out)).returncode == 0
    whole = out.read_bytes()
    # What a kill while writing the third line leaves: two lines and a half, and a
    # job file that says writing had started (its downloads are gone too).
    out.write_bytes(whole[: whole.index(b"\n", whole.index(b"\n") + 1) + 20])
    (path,) = (Path(env["XDG_STATE_HOME"]) / "mint" / "batches").glob("*/job.json")
    job = json.loads(path.read_text())
    assert job["writing"] and job["finished"]
    path.write_text(json.dumps({**job, "finished": False}))
    r = remote(server, env, tmp_path, items(5), "--resume", "-O", str(out))
    assert r.returncode == 0, r.stderr
    assert b"partial last line" in r.stderr or r.stderr == b""
    assert out.read_bytes() == whole and batches_made(server) == 1


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_garbled_results_lines_fail_their_items_only(
    make_mock: Any, env: dict[str, str], tmp_path: Path, protocol: str
) -> None:
    server = make_mock(batch_delay=0.05, batch_fault="garbled=2")
    r = remote(server, env, tmp_path, items(4), "--protocol", protocol)
    assert r.returncode == 9, r.stderr
    assert b"3 lines of the batch results could not be read" in r.stderr
    lines = jsonl(r.stdout)
    assert [x["id"] for x in lines] == ["q0", "q1", "q2", "q3"]
    assert [x["remote"]["state"] for x in lines] == ["succeeded", "missing"] * 2
    assert lines[1]["error"]["name"] == "protocol"


def test_a_second_run_of_the_same_job_is_refused_while_the_first_works(
    make_mock: Any, env: dict[str, str], tmp_path: Path, spawn: Any
) -> None:
    server = make_mock(batch_delay=0.05, batch_fault="stuck")
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(items(2))
    args = ["batch", "--remote", "--resume", *FAST, "-O", str(out), str(source)]
    first = spawn([*MINT, *args], mock_env(env, server))
    wait_for("the batch", lambda: batches_made(server) == 1)
    second = run_mint(args, mock_env(env, server))
    assert second.returncode == 2 and b"another mint batch --remote" in second.stderr
    assert batches_made(server) == 1
    first.kill()


def test_fetch_reads_the_input_as_the_submitting_run_did(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.05)
    lines = b"un chat\nle matin\n"
    r = remote(server, env, tmp_path, lines, "--lines", "--template", "Translate: {}", "--no-wait")
    assert r.returncode == 0, r.stderr
    fetch = run_mint(["batch", "fetch", *FAST, *r.stdout.decode().split()], mock_env(env, server))
    assert fetch.returncode == 0, fetch.stderr
    got = jsonl(fetch.stdout)
    assert [x["id"] for x in got] == [1, 2]
    assert got[1]["text"] == "Mock reply to: Translate: le matin"


def test_a_batch_found_again_is_used_only_if_its_results_are_the_jobs_and_the_next_is_tried(
    make_mock: Any, env: dict[str, str], tmp_path: Path, spawn: Any
) -> None:
    import httpx

    server = make_mock(batch_delay=0.05, batch_fault="hold=create")
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(items(2))
    args = ["batch", "--remote", "--resume", *FAST, "--protocol", "anthropic", "-O", str(out)]
    proc = spawn([*MINT, *args, str(source)], mock_env(env, server))
    wait_for("the create", lambda: batches_made(server) == 1)
    proc.kill()
    proc.wait(10)
    # Someone else's batch of the same size, made since: the newest candidate.
    foreign = {"custom_id": "other", "params": {"model": "m", "max_tokens": 5,
               "messages": [{"role": "user", "content": "not mint's"}]}}  # fmt: skip
    created = httpx.post(
        server.base_url + "/messages/batches",
        json={"requests": [foreign, {**foreign, "custom_id": "other2"}]},
        headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
    )
    assert created.status_code == 200
    r = run_mint([*args, str(source)], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert b"re-attached to " + created.json()["id"].encode() in r.stderr
    assert b"is not this job's batch after all" in r.stderr
    # then the older candidate, the stopped run's own: nothing is paid twice
    assert r.stderr.count(b"re-attached to ") == 2
    assert batches_made(server) == 2
    got = jsonl(out.read_bytes())
    assert [x["text"] for x in got] == ["Mock reply to: question 0", "Mock reply to: question 1"]


def test_a_refusal_is_an_error_line_as_in_a_local_batch(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "rules.json"
    script.write_text(json.dumps([{"match": {"prompt": "question 1"}, "finish_reason": "refusal"}]))
    server = make_mock(batch_delay=0.05, script=script)
    r = remote(server, env, tmp_path, items(2))
    assert r.returncode == 9, r.stderr
    local = run_mint(["batch", str(tmp_path / "in.jsonl")], mock_env(env, server))
    mine, theirs = jsonl(r.stdout)[1], jsonl(local.stdout)[1]
    assert mine["error"] == theirs["error"] and mine["error"]["code"] == 12
    assert mine["remote"]["state"] == "succeeded"  # the provider answered; the model refused


def test_each_request_of_a_batch_is_validated_as_a_chat_request(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(batch_delay=0.05)
    r = remote(server, env, tmp_path, items(1) + items(1, top_p=5).replace(b"q0", b"bad"))
    assert r.returncode == 9, r.stderr
    ok, bad = jsonl(r.stdout)
    assert "error" not in ok and bad["remote"]["state"] == "errored"
    local = jsonl(run_mint(["batch", str(tmp_path / "in.jsonl")], mock_env(env, server)).stdout)
    assert bad["error"]["name"] == local[1]["error"]["name"] == "rejected"
    assert "top_p" in bad["error"]["message"]


# -- a hostile batch service (tests/batch_service.py) ---------------------------------------


@pytest.fixture(scope="module")
def _service() -> Any:
    from batch_service import Service

    service = Service()
    yield service
    service.close()


@pytest.fixture
def service(_service: Any) -> Any:
    _service.reset()
    return _service


def hostile(
    service: Any, env: dict[str, str], tmp_path: Path, *args: str, n: int = 2, launch: Any = ()
) -> Any:
    """mint batch --remote on ``n`` items against the hostile service."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(items(n))
    e = {**env, "MINT_BASE_URL": service.base_url}
    argv = ["batch", "--remote", *FAST, "--max-retries", "0", *args, str(source)]
    if launch:  # mint started by another program (test_hardening.PEAK)
        argv = [*launch, *MINT, *argv]
        return subprocess.run(argv, env=e, stdin=subprocess.DEVNULL, capture_output=True)
    return run_mint(argv, e)


def one_error(r: Any, code: int) -> str:
    """The run's exit code and its single 'mint: error:' line, without the key."""
    assert r.returncode == code, r.stderr
    err = r.stderr.decode()
    assert err.count("mint: error:") == 1 and SECRET not in err, err
    return err


def job_file(env: dict[str, str]) -> str:
    (path,) = (Path(env["XDG_STATE_HOME"]) / "mint" / "batches").glob("*/job.json")
    return path.read_text()


@pytest.mark.parametrize(
    ("route", "answer"),
    [
        ("POST /batches", {"id": "b1 --base-url http://127.0.0.1:1/v1", "status": "validating"}),
        ("POST /batches", {"id": "batch\x1b[31m", "status": "validating"}),
        ("POST /files", {"id": "file 1", "object": "file"}),
        ("POST /messages/batches", {"id": "../../models", "processing_status": "in_progress"}),
    ],
)
def test_an_id_from_the_server_that_is_not_a_plain_token_is_refused(
    service: Any, env: dict[str, str], tmp_path: Path, route: str, answer: dict[str, Any]
) -> None:
    from batch_service import ok

    service.routes[route] = lambda path, body: ok(answer)
    protocol = "anthropic" if "messages" in route else "openai"
    r = hostile(service, env, tmp_path, "--no-wait", "--protocol", protocol)
    assert "not a plain token" in one_error(r, 8)
    assert r.stdout == b""  # nothing for $(...) to split into options
    assert answer["id"] not in job_file(env)


def test_a_results_file_id_never_makes_a_url_of_its_own(
    service: Any, env: dict[str, str], tmp_path: Path
) -> None:
    from batch_service import ok

    done = {"id": "batch_1", "status": "completed", "output_file_id": "http://127.0.0.2:9/x"}
    service.routes["GET /batches/"] = lambda path, body: ok(done)
    r = hostile(service, env, tmp_path)
    assert "not a plain token" in one_error(r, 8)  # the server's fault, not --base-url's
    assert not any("/content" in p for _, p, _ in service.seen)
    # An id the user types is a path segment too, or nothing.
    e = {**env, "MINT_BASE_URL": service.base_url}
    r = run_mint(["batch", "status", "b1 --base-url http://127.0.0.1:1/v1"], e)
    assert "not a remote batch id" in one_error(r, 2)


def test_resume_stops_reading_a_list_that_never_ends(
    service: Any, env: dict[str, str], tmp_path: Path
) -> None:
    from batch_service import ok

    fail = lambda path, body: (500, {"error": {"message": "boom"}}, {})  # noqa: E731
    pages = iter(range(10**6))

    def endless(path: str, body: bytes) -> Any:  # new ids on every page, never older
        n = next(pages)
        entries = [{"id": f"x-{n}-{i}", "created_at": 4e9, "processing_status": "ended"}
                   for i in range(3)]  # fmt: skip
        return ok({"data": entries, "has_more": True})

    same = ok({"data": [{"id": "b-0", "created_at": 4e9, "metadata": {}}], "has_more": True})
    # An upload whose answer never came, then a create whose answer never came.
    service.routes["POST /files"] = fail
    assert hostile(service, env, tmp_path, "-O", str(tmp_path / "o")).returncode == 5
    del service.routes["POST /files"]
    service.routes["GET /files?"] = endless
    service.routes["POST /batches"] = fail
    r = hostile(service, env, tmp_path, "-O", str(tmp_path / "o"), "--resume")
    # The file list was given up after 100 pages: a second upload costs nothing.
    assert r.returncode == 5, r.stderr
    assert service.count("GET", "/files?") == 100 and service.count("POST", "/files") == 2
    service.routes["GET /batches?"] = lambda path, body: same  # the same page, always
    r = hostile(service, env, tmp_path, "-O", str(tmp_path / "o"), "--resume")
    assert "repeats itself" in one_error(r, 8) and "does not create it again" in r.stderr.decode()
    assert service.count("GET", "/batches?") == 2 and service.count("POST", "/batches") == 1
    # Anthropic: no metadata, the list is the only way; 100 pages, then the same error.
    service.routes["POST /messages/batches"] = fail
    r = hostile(service, env, tmp_path, "--protocol", "anthropic", "-O", str(tmp_path / "a"))
    assert r.returncode == 5, r.stderr
    service.routes["GET /messages/batches?"] = endless
    r = hostile(service, env, tmp_path, "--protocol", "anthropic", "-O", str(tmp_path / "a"), "--resume")  # fmt: skip
    assert "did not end after 100 pages" in one_error(r, 8)
    assert service.count("GET", "/messages/batches?") == 100
    assert service.count("POST", "/messages/batches") == 1


def test_the_key_in_the_services_words_never_shows_nor_is_stored(
    service: Any, env: dict[str, str], tmp_path: Path, spawn_pty: Any
) -> None:
    from batch_service import ok

    said = f"\x1b[31m{SECRET}"
    failed = {"id": "batch_1", "status": f"failed {said}", "errors": {"data": [{"message": said}]}}
    e = {**env, "MINT_BASE_URL": service.base_url}
    service.routes["GET /batches/"] = lambda path, body: ok(failed)
    r = run_mint(["batch", "status", "batch_1"], e)  # stdout: JSON a script keeps
    assert r.returncode == 0 and SECRET not in r.stdout.decode() and b"[redacted]" in r.stdout
    # A batch that failed: the reason in every item's line, and in the job file.
    failed["status"] = "failed"
    r = hostile(service, env, tmp_path, "-O", str(tmp_path / "o"))
    assert r.returncode == 9, r.stderr
    text = (tmp_path / "o").read_text()
    assert SECRET not in text and "[redacted]" in text and SECRET not in job_file(env)

    # Items that failed there: an error status, an error object.
    def results(path: str, body: bytes) -> Any:
        ids = service.custom_ids()
        lines = [{"custom_id": ids[0], "response": {"status_code": 400,
                                                    "body": {"error": {"message": said}}}},
                 {"custom_id": ids[1], "error": {"code": "x", "message": said}}]  # fmt: skip
        return ok(b"".join(json.dumps(x).encode() + b"\n" for x in lines))

    del service.routes["GET /batches/"]
    service.routes["GET /files/file-out/content"] = results
    r = hostile(service, env, tmp_path, "-O", str(tmp_path / "o2"))
    assert r.returncode == 9, r.stderr
    lines = jsonl((tmp_path / "o2").read_bytes())
    assert [x["remote"]["state"] for x in lines] == ["errored", "errored"]
    assert all("[redacted]" in x["error"]["message"] for x in lines)
    assert SECRET not in (tmp_path / "o2").read_text() and SECRET not in r.stderr.decode()
    # The status line on a terminal quotes the provider's state.
    polls = iter(range(10**6))

    def slow(path: str, body: bytes) -> Any:
        if next(polls) < 3:
            return ok({"id": "batch_1", "status": f"in_progress {SECRET}"})
        return service.default("GET", path, body)

    service.routes = {"GET /batches/": slow}
    source = tmp_path / "in.jsonl"
    child = spawn_pty(
        [*MINT, "batch", "--remote", *FAST, "-O", str(tmp_path / "o3"), str(source)], e
    )
    text = child.read_until(None, timeout=20, what="the end of the batch")
    assert child.wait() == 0, text
    assert b"in_progress [redacted]" in text and SECRET.encode() not in text
    # An id that is the key is neither printed nor stored.
    service.routes = {"POST /batches": lambda path, body: ok({"id": SECRET})}
    r = hostile(service, env, tmp_path, "--no-wait", "-O", str(tmp_path / "o4"))
    assert "holds the API key" in one_error(r, 8) and r.stdout == b""


def gzipped(data: bytes, size: int = 0) -> bytes:
    """``data`` (or ``size`` bytes of newlines) as a gzip body."""
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"\n" * (1 << 20)
    out = [packer.compress(data)] + [packer.compress(block) for _ in range(size >> 20)]
    return b"".join(out) + packer.flush()


def test_a_download_is_asked_plain_inflated_in_bounds_and_capped(
    service: Any, env: dict[str, str], tmp_path: Path
) -> None:
    from batch_service import ok

    # Compressed although mint asked for none: read all the same.
    content = "GET /files/file-out/content"
    service.routes[content] = lambda path, body: ok(
        gzipped(service.results()), **{"Content-Encoding": "gzip"}
    )
    r = hostile(service, env, tmp_path, "-O", str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert [x["text"].startswith("ok mint-") for x in jsonl((tmp_path / "o").read_bytes())] == [
        True
    ] * 2
    (asked,) = [h for _, p, h in service.seen if p.endswith("/content")]
    assert {k.lower(): v for k, v in asked.items()}["accept-encoding"] == "identity"
    # 64 MiB from 64 KiB: two requests' results are at most 18 MiB (2 x 1 MiB + 16).
    bomb = gzipped(b"", 64 << 20)
    service.routes[content] = lambda path, body: ok(bomb, **{"Content-Encoding": "gzip"})
    r = hostile(service, env, tmp_path, "-O", str(tmp_path / "o2"))
    assert "over 18 MiB" in one_error(r, 8)
    left = [f for f in (Path(env["XDG_STATE_HOME"]) / "mint").rglob("*") if f.is_file()]
    assert max(f.stat().st_size for f in left) < 1 << 20, left


def test_a_results_line_too_long_fails_its_item_in_flat_memory(
    service: Any, env: dict[str, str], tmp_path: Path
) -> None:
    from batch_service import ok
    from test_hardening import PEAK

    def results(path: str, body: bytes) -> Any:
        rest = service.results().split(b"\n", 1)[1]
        cid = service.custom_ids()[0]
        head = json.dumps({"custom_id": cid, "response": {"status_code": 200}})[:-2].encode()
        body_start = b', "body": {"choices": [{"index": 0, "message": {"content": "'
        big = [head + body_start] + [b"a" * (1 << 20)] * 50 + [b'"}}]}}}\n', rest]
        return ok([*big, b"x" * (17 << 20)])  # and a last line of no one's, too long

    service.routes["GET /files/file-out/content"] = results
    out = tmp_path / "o"
    r = hostile(service, env, tmp_path, "-O", str(out), n=60, launch=[sys.executable, "-c", PEAK])
    err, peak = peak_of(r.stderr)
    assert r.returncode == 9, err
    lines = jsonl(out.read_bytes())
    assert lines[0]["error"]["code"] == 8 and "over 16 MiB" in lines[0]["error"]["message"]
    assert all(x["text"].startswith("ok mint-") for x in lines[1:]) and len(lines) == 60
    assert "2 lines of the batch results could not be read" in err
    # Memory: the 16 MiB read of a line, not its 50 MiB (with Python and httpx).
    assert peak < 90 * 1024, peak


# -- the copy of stdin (input-PID.spool): capped, and gone on every way out ----------------


def spools(env: dict[str, str]) -> list[Path]:
    return list((Path(env["XDG_STATE_HOME"]) / "mint" / "batches").glob("input-*.spool"))


def test_an_endless_input_line_is_refused_at_the_line_cap(env: dict[str, str]) -> None:
    start = time.monotonic()
    r = run_mint(["batch", "--mock", "--remote", "--lines", "/dev/zero"], env)
    assert r.returncode == 2, r.stderr
    assert b"input line 1 is larger than 32 MiB" in r.stderr
    assert spools(env) == [] and time.monotonic() - start < 15


def test_an_endless_stdin_is_refused_at_the_spool_cap(
    env: dict[str, str], spawn: Any
) -> None:
    yes = spawn(["yes", '{"prompt": "again"}'], env)  # short lines: only the total is too big
    r = subprocess.run(
        [*MINT, "batch", "--mock", "--remote"], env=env, stdin=yes.stdout, capture_output=True
    )
    never_internal(r.stderr)
    assert r.returncode == 2, r.stderr
    assert b"stdin is larger than 1024 MiB" in r.stderr and b"a file" in r.stderr
    assert spools(env) == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_stdin_is_copied_removes_the_copy(
    env: dict[str, str], spawn: Any, sig: int, code: int
) -> None:
    proc = spawn([*MINT, "batch", "--mock", "--remote"], env, stdin=subprocess.PIPE)
    proc.stdin.write(items(3))  # and stdin stays open: mint waits for the rest
    proc.stdin.flush()
    wait_for("the copy of stdin", lambda: bool(spools(env)))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=10)
    never_internal(err)
    assert proc.returncode == code, err
    assert spools(env) == []


def test_attachment_references_are_resolved_and_unknown_parts_refused(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    pic = tmp_path / "private" / "pic.png"
    _, digest = small_png(pic)
    ref = {"path": str(pic), "sha256": digest}
    changed = {**ref, "sha256": "0" * 64}
    parts = [{"type": "attachment", "attachment": ref}, {"type": "attachment", "attachment": changed}]
    data = b"".join(
        json.dumps({"id": f"a{n}", "messages": [{"role": "user", "content": [p]}]}).encode()
        + b"\n"
        for n, p in enumerate(parts)
    )
    server = make_mock(batch_delay=0.05)
    out = tmp_path / "out.jsonl"
    r = remote(server, env, tmp_path, data, "-O", str(out))
    assert r.returncode == 9, r.stderr
    first, second = jsonl(out.read_bytes())
    assert "error" not in first and second["error"]["code"] == 2
    assert "has changed since it was attached" in second["error"]["message"]
    (file,) = [f for name, f in store(server).files.values() if name.startswith("mint-")]
    assert str(pic.parent).encode() not in file and b"data:image/png;base64," in file


def test_a_plan_that_fails_leaves_no_copy_of_stdin(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "notes.txt"
    out.write_bytes(b"precious notes\n")
    r = run_mint(["batch", "--mock", "--remote", "--resume", "-O", str(out)], env, input=items(2))
    assert r.returncode == 2 and b"not a mint batch result line" in r.stderr
    assert out.read_bytes() == b"precious notes\n"
    left = list((Path(env["XDG_STATE_HOME"]) / "mint" / "batches").rglob("*"))
    assert not [p for p in left if p.name.startswith("input") or p.is_dir()], left
