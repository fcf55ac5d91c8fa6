"""mint batch, end to end: the real CLI in a subprocess against mint mock over HTTP."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, finish, jsonl, mock_env, read_until, readme_block, run_mint, small_png


def items(*prompts: str, ids: bool = True) -> bytes:
    return b"".join(
        json.dumps({"id": f"i{n}", "prompt": p} if ids else {"prompt": p}).encode() + b"\n"
        for n, p in enumerate(prompts)
    )


def script(tmp_path: Path, *rules: dict[str, Any]) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(list(rules)))
    return path


def prompts_sent(server: Any) -> list[str]:
    # A request cut short by a kill reaches the mock without its body: nothing was asked.
    return [r["body"]["messages"][-1]["content"] for r in server.requests if r.get("body")]


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_one_result_line_per_item_in_input_order(
    make_mock: Any, env: dict[str, str], tmp_path: Path, protocol: str
) -> None:
    # Earlier items take longer, so they finish after later ones.
    rules = [
        {"match": {"prompt": f"^p{n}$"}, "text": f"reply {n}", "first_byte_delay": 0.05 * (5 - n)}
        for n in range(5)
    ]
    server = make_mock(script=script(tmp_path, *rules))
    r = run_mint(
        ["batch", "-j", "5", "--protocol", protocol, "-m", "m1"],
        mock_env(env, server),
        input=items(*(f"p{n}" for n in range(5))),
    )
    assert r.returncode == 0, r.stderr
    results = jsonl(r.stdout)
    assert [x["id"] for x in results] == [f"i{n}" for n in range(5)]
    assert [x["line"] for x in results] == [1, 2, 3, 4, 5]
    for n, x in enumerate(results):
        assert x["text"] == f"reply {n}"
        assert x["finish_reason"] == ("stop" if protocol == "openai" else "end_turn")
        assert x["usage"]["output_tokens"] > 0 and x["attempts"] == 1 and x["model"] == "m1"
        assert x["reasoning"] is None and x["tool_calls"] == [] and "error" not in x
    # the server really answered them out of order
    assert server.max_in_flight == 5
    assert r.stderr.decode().startswith("mint: batch: 5 succeeded, 0 failed;")


def test_unordered_writes_results_as_they_finish(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(
        script=script(tmp_path, {"match": {"prompt": "slow"}, "text": "s", "first_byte_delay": 0.5})
    )
    r = run_mint(
        ["batch", "-j", "4", "--unordered"],
        mock_env(env, server),
        input=items("slow", "a", "b", "c"),
    )
    assert r.returncode == 0, r.stderr
    ids = [x["id"] for x in jsonl(r.stdout)]
    assert sorted(ids) == ["i0", "i1", "i2", "i3"] and ids[-1] == "i0"


def test_items_share_connections(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    r = run_mint(
        ["batch", "-j", "8", "--unordered"],
        mock_env(env, server),
        input=items(*(f"item {n}" for n in range(200))),
    )
    assert r.returncode == 0, r.stderr
    assert len(jsonl(r.stdout)) == 200 and len(server.requests) == 200
    assert 1 <= server.connections <= 8


def test_concurrency_n_reaches_the_server_n_at_a_time(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(first_byte_delay=0.15)
    r = run_mint(["batch", "-j", "6"], mock_env(env, server), input=items(*("x",) * 18))
    assert r.returncode == 0, r.stderr
    assert server.max_in_flight == 6


def test_a_slow_item_holds_at_most_the_reorder_window(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    """In input order, results wait for the slow first item; while it runs, no
    item more than 4 x concurrency after it starts (the buffer's bound)."""
    server = make_mock(
        script=script(tmp_path, {"match": {"prompt": "slow"}, "text": "s", "first_byte_delay": 1.0})
    )
    start = time.monotonic()
    r = run_mint(["batch", "-j", "2"], mock_env(env, server), input=items("slow", *("x",) * 30))
    assert r.returncode == 0, r.stderr
    assert [x["id"] for x in jsonl(r.stdout)] == [f"i{n}" for n in range(31)]
    early = [t for t in server.arrivals if t - server.arrivals[0] < 0.8]
    assert len(early) == 8  # the slow item and the 7 after it: a window of 4 x 2
    assert time.monotonic() - start > 1.0


def test_failed_items_have_error_lines_and_exit_9(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(
        script=script(tmp_path, {"match": {"prompt": "bad"}, "fault": "status=400,message=no good"})
    )
    r = run_mint(["batch"], mock_env(env, server), input=items("ok", "bad", "fine"))
    assert r.returncode == 9, r.stderr
    results = jsonl(r.stdout)
    assert [x["id"] for x in results] == ["i0", "i1", "i2"]
    assert "error" not in results[0] and "error" not in results[2]
    assert results[1]["error"] == {
        "code": 4,
        "name": "rejected",
        "message": "HTTP 400 Bad Request: no good",
    }
    assert results[1]["text"] == "" and results[1]["attempts"] == 1
    err = r.stderr.decode().splitlines()
    assert err[0].startswith("mint: batch: 2 succeeded, 1 failed;")
    assert err[1] == "mint: error: 1 of 3 items failed; their result lines say why"


def test_bad_lines_become_error_lines_and_the_batch_goes_on(
    make_mock: Any, env: dict[str, str]
) -> None:
    server = make_mock()
    data = b"\n".join(
        [
            b'{"prompt": "first"}',
            b"not json",
            b"",  # blank lines are not items
            b'{"id": "no-prompt"}',
            b'{"id": 1.5, "prompt": "x"}',
            b'{"id": "big", "prompt": "x", "max_tokens": 0}',
            b'{"prompt": "\xff"}',
            b'["a list"]',
            b'{"id": "dup", "prompt": "x"}',
            b'{"id": "dup", "prompt": "y"}',
            b'{"id": "tools", "prompt": "x", "tools": [{"name": "bad name!"}]}',
            b'{"prompt": "last", "stream": false}',
            b'{"prompt": "really last"}',
        ]
    )
    r = run_mint(["batch", "-j", "1"], mock_env(env, server), input=data + b"\n")
    assert r.returncode == 9, r.stderr
    results = jsonl(r.stdout)
    assert [x["line"] for x in results] == [1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    errors = {x["line"]: x["error"]["message"] for x in results if "error" in x}
    assert set(errors) == {2, 4, 5, 6, 7, 8, 10, 11, 12}
    assert errors[2].startswith("line 2: not valid JSON")
    assert errors[4] == "line 4: no prompt and no messages"
    assert errors[5] == "line 5: id must be a string or an integer"
    assert errors[6] == "line 6: max_tokens must be an integer of at least 1"
    assert errors[7].startswith("line 7: not valid JSON")  # orjson rejects the bad UTF-8
    assert errors[8] == "line 8: not a JSON object"
    assert errors[10] == 'line 10: the id "dup" is used by an earlier item'
    assert "tool name" in errors[11]
    assert "stream" in errors[12]
    assert all(x["error"]["code"] == 2 for x in results if "error" in x)
    assert [x["id"] for x in results][:3] == [1, 2, "no-prompt"]  # default id: the line number
    assert prompts_sent(server) == ["first", "x", "really last"]


def test_command_line_options_apply_to_items_that_do_not_set_their_own(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock()
    tool = tmp_path / "t.json"
    tool.write_text(json.dumps({"name": "get_weather", "parameters": {"type": "object"}}))
    data = [
        {"prompt": "a"},
        {
            "prompt": "b",
            "model": "other",
            "system": "be brief",
            "max_tokens": 5,
            "temperature": 0.5,
            "top_p": 0.9,
            "tools": [],
            "tool_choice": None,
        },
        {"messages": [{"role": "system", "content": "old"}, {"role": "user", "content": "c"}]},
    ]
    r = run_mint(
        ["batch", "-j", "1", "-m", "m0", "-s", "sys", "--max-tokens", "9", "-o", "seed=1",
         "--tool", str(tool), "--tool-choice", "none", "--template", "Q: {}"],
        mock_env(env, server),
        input=b"".join(json.dumps(d).encode() + b"\n" for d in data),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    bodies = [req["body"] for req in server.requests]
    assert bodies[0]["model"] == "m0" and bodies[0]["max_tokens"] == 9 and bodies[0]["seed"] == 1
    assert bodies[0]["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "Q: a"},
    ]
    assert bodies[0]["tools"][0]["function"]["name"] == "get_weather"
    assert bodies[0]["tool_choice"] == "none"
    assert bodies[1]["model"] == "other" and bodies[1]["max_tokens"] == 5
    assert bodies[1]["temperature"] == 0.5 and bodies[1]["top_p"] == 0.9
    assert bodies[1]["seed"] == 1 and "tools" not in bodies[1]
    assert bodies[1]["messages"][0] == {"role": "system", "content": "be brief"}
    # messages are sent as they are (no template), -s replaces their system message
    assert bodies[2]["messages"] == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "c"},
    ]


def test_lines_mode_with_a_template(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    r = run_mint(
        ["batch", "-j", "1", "--lines", "--template", "Translate: {} (to French)"],
        mock_env(env, server),
        input="bonjour\n\n写一首诗\nthe {} stays\n".encode(),
    )
    assert r.returncode == 0, r.stderr
    assert [x["id"] for x in jsonl(r.stdout)] == [1, 3, 4]
    assert prompts_sent(server) == [
        "Translate: bonjour (to French)",
        "Translate: 写一首诗 (to French)",
        "Translate: the {} stays (to French)",
    ]


def test_items_choose_their_protocol(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    data = items("a") + b'{"id": "b", "prompt": "b", "protocol": "anthropic"}\n'
    r = run_mint(["batch", "-j", "1"], mock_env(env, server), input=data)
    assert r.returncode == 0, r.stderr
    assert [req["path"] for req in server.requests] == ["/v1/chat/completions", "/v1/messages"]
    assert [x["finish_reason"] for x in jsonl(r.stdout)] == ["stop", "end_turn"]


def test_a_broken_stream_is_continued_as_in_chat(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="drop=3,times=1", piece_chars=2)
    r = run_mint(
        ["batch", "--retry-base", "0.01"], mock_env(env, server), input=items("hello world")
    )
    assert r.returncode == 0, r.stderr
    [result] = jsonl(r.stdout)
    assert result["text"] == "Mock reply to: hello world" and result["attempts"] == 2
    assert 'item "i0": connection to 127.0.0.1 broke' in r.stderr.decode()


def test_shards_together_cover_every_item_once(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock()
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        items(*(f"p{n}" for n in range(10)), ids=False) + b"oops\n\n" + items("x", ids=False)
    )
    seen = []
    for k in range(3):
        r = run_mint(["batch", "--shard", f"{k}/3", str(source)], mock_env(env, server))
        assert r.returncode == (9 if k == 1 else 0), r.stderr  # item 10, "oops", is shard 1's
        lines = [x["line"] for x in jsonl(r.stdout)]
        indexes = [n - 1 if n < 13 else n - 2 for n in lines]  # blank line 12 is no item
        assert all(i % 3 == k for i in indexes), (k, lines)
        seen += lines
    assert sorted(seen) == [*range(1, 12), 13]


def test_shared_backoff_after_a_429(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    """One item is told to wait 1 s: the others start nothing meanwhile."""
    rules = [
        {
            "match": {"prompt": "^limited$"},
            "text": "l",
            "fault": "status=429,retry_after=1,times=1",
        },
        {"match": {"prompt": "^busy"}, "text": "b", "first_byte_delay": 0.2},
    ]
    server = make_mock(script=script(tmp_path, *rules))
    r = run_mint(
        ["batch", "-j", "2"],
        mock_env(env, server),
        input=items("limited", *(f"busy {n}" for n in range(5))),
    )
    assert r.returncode == 0, r.stderr
    assert all("error" not in x for x in jsonl(r.stdout))
    t0 = server.arrivals[0]
    later = [t - t0 for t in server.arrivals[2:]]  # after the first two, nothing for 1 s
    assert len(later) == 5 and min(later) >= 0.95, later
    assert "the whole batch waits 1.0s" in r.stderr.decode()


def test_rpm_spaces_the_requests(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    r = run_mint(["batch", "-j", "5", "--rpm", "600"], mock_env(env, server), input=items(*"abcde"))
    assert r.returncode == 0, r.stderr
    # Starts are 0.1 s apart; arrivals also carry each connection's set-up time, which
    # a loaded machine stretches by tens of milliseconds for one connection or another
    # (without --rpm all five arrive within a few milliseconds of each other). The first
    # request also pays the client's one-time set-up, so its arrival is left out.
    arrivals = server.arrivals
    gaps = sorted(b - a for a, b in itertools.pairwise(arrivals))
    assert len(gaps) == 4 and arrivals[-1] - arrivals[1] >= 0.25, gaps
    assert (gaps[1] + gaps[2]) / 2 >= 0.05, gaps  # the median gap


def test_a_setup_failure_stops_the_whole_batch(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock(fault="status=401")
    r = run_mint(["batch", "-j", "2"], mock_env(env, server), input=items(*"abcdefghij"))
    assert r.returncode == 4, r.stderr
    assert r.stdout == b""  # those items never ran: a --resume runs them
    assert len(server.requests) <= 3
    err = r.stderr.decode()
    assert "mint: error: the batch stopped: HTTP 401 Unauthorized" in err


def test_a_refused_connection_stops_the_batch(refused_url: str, env: dict[str, str]) -> None:
    r = run_mint(["batch", "--base-url", refused_url], env, input=items(*"abcdef"))
    assert r.returncode == 7, r.stderr
    assert r.stdout == b""
    assert r.stderr.decode().count("connection refused") == 1


def test_items_go_through_the_proxy(refused_url: str, env: dict[str, str]) -> None:
    """Each worker's own connection honours the proxy settings, as chat does."""
    proxy = refused_url.removesuffix("/v1")
    env = {**env, "HTTP_PROXY": proxy, "MINT_BASE_URL": "http://gateway.example/v1"}
    r = run_mint(["batch", "-j", "3"], env, input=items(*"abc"))
    assert r.returncode == 7, r.stderr
    assert f"cannot connect to the proxy {proxy} (connection refused)" in r.stderr.decode()
    assert "batch: 0 succeeded, 0 failed" in r.stderr.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resume"], "--resume needs -O FILE"),
        (["--retry-failed"], "--retry-failed needs -O FILE"),
        (["--template", "no slot"], "--template needs {}"),
        (["--shard", "3/3"], "--shard: shard must be K/N with 0 <= K < N"),
        (["-j", "0"], "--concurrency: concurrency must be an integer from 1 to 1024"),
        (["missing.jsonl"], "missing.jsonl: No such file or directory"),
        (["--tool-choice", "required"], "--tool-choice required needs at least one --tool"),
        (["-o", "stream=false"], "-o stream: mint writes this field itself"),
    ],
)
def test_usage_errors_exit_2(env: dict[str, str], args: list[str], message: str) -> None:
    r = run_mint(["batch", *args], env, input=items("a"))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr.decode() and r.stdout == b""
    assert "Traceback" not in r.stderr.decode()


def test_no_input_on_a_terminal_is_a_usage_error(env: dict[str, str], spawn_pty: Any) -> None:
    child = spawn_pty([*MINT, "batch", "--mock"], env)
    screen = child.read_until(None, timeout=20, what="the error")
    assert child.wait() == 2
    assert b"no input: give a file of JSON lines (or - for stdin), or pipe it in" in screen


def test_no_key_exits_3(env: dict[str, str]) -> None:
    r = run_mint(["batch"], {k: v for k, v in env.items() if k != "MINT_API_KEY"}, input=items("a"))
    assert r.returncode == 3 and b"no API key" in r.stderr


def test_many_bad_lines_in_a_row_take_no_time(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    start = time.monotonic()
    r = run_mint(["batch", "-j", "1"], mock_env(env, server), input=b"x\n" * 500 + items("ok"))
    assert r.returncode == 9, r.stderr
    assert len(jsonl(r.stdout)) == 501 and len(server.requests) == 1
    assert time.monotonic() - start < 5  # not a wait per reorder window


def test_stdout_closed_early_is_quiet(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    server = make_mock()
    source = tmp_path / "in.jsonl"
    source.write_bytes(items(*(f"p{n}" for n in range(300))))
    cmd = " ".join(MINT) + f' batch -j 4 {source} | head -1; echo "status=${{PIPESTATUS[0]}}" >&2'
    r = subprocess.run(
        ["bash", "-c", cmd],
        env=mock_env(env, server),
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert jsonl(r.stdout)[0]["id"] == "i0"
    assert r.stderr.decode() == "status=141\n"


def test_quiet_and_mock(env: dict[str, str]) -> None:
    r = run_mint(["batch", "--mock", "-q"], env, input=items("写一首诗"))
    assert r.returncode == 0 and r.stderr == b""
    assert jsonl(r.stdout)[0]["text"].startswith("《静夜思》")


# -- Ctrl-C and SIGTERM ---------------------------------------------------------------------


def _start(spawn: Any, env: dict[str, str], server: Any, data: bytes, *args: str) -> Any:
    source = Path(env["HOME"]) / "in.jsonl"
    source.write_bytes(data)
    return spawn([*MINT, "batch", *args, str(source)], mock_env(env, server))


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_first_signal_lets_running_items_finish(
    make_mock: Any, env: dict[str, str], spawn: Any, sig: int, code: int
) -> None:
    server = make_mock(first_byte_delay=0.4)
    proc = _start(spawn, env, server, items(*(f"p{n}" for n in range(20))), "-j", "3")
    got = read_until(proc.stdout.fileno(), lambda b: b"\n" in b, timeout=10, what="a result")
    proc.send_signal(sig)
    out, err = finish(proc, timeout=10)
    assert proc.returncode == code, err
    results = jsonl(got + out)
    started = len(server.requests)
    assert 3 <= len(results) == started < 20  # every item started was finished and written
    assert [x["id"] for x in results] == [f"i{n}" for n in range(started)]
    assert all("error" not in x for x in results)
    assert b"stopping: no new items" in err


def test_second_ctrl_c_stops_at_once(
    make_mock: Any, env: dict[str, str], spawn: Any, tmp_path: Path
) -> None:
    server = make_mock(
        script=script(
            tmp_path, {"match": {"prompt": "stuck"}, "text": "stuck forever", "fault": "stall=1"}
        )
    )
    proc = _start(
        spawn, env, server, items("quick", "stuck", "quick too"), "-j", "2", "--unordered"
    )
    got = read_until(proc.stdout.fileno(), lambda b: b"\n" in b, timeout=10, what="a result")
    deadline = time.monotonic() + 10
    while len(server.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    read_until(proc.stderr.fileno(), lambda b: b"stopping" in b, timeout=10, what="the stop note")
    assert proc.poll() is None  # the stuck item is still running
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, timeout=10)
    assert proc.returncode == 130, err
    assert time.monotonic() - start < 3
    assert sorted(x["id"] for x in jsonl(got + out)) == ["i0", "i2"]
    assert b"mint: error: interrupted" in err


# -- resume ------------------------------------------------------------------------------------


def test_resume_after_sigkill_finishes_the_rest_exactly_once(
    make_mock: Any, env: dict[str, str], spawn: Any, tmp_path: Path
) -> None:
    server = make_mock(first_byte_delay=0.1)
    source = tmp_path / "in.jsonl"
    source.write_bytes(items(*(f"p{n}" for n in range(30))))
    out = tmp_path / "out.jsonl"
    args = [*MINT, "batch", "-j", "3", "--resume", "-O", str(out), str(source)]
    proc = spawn(args, mock_env(env, server))
    deadline = time.monotonic() + 10
    while (not out.exists() or out.read_bytes().count(b"\n") < 6) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()
    finish(proc)
    with out.open("ab") as fh:  # as if the kill had cut a line in the middle
        fh.write(b'{"id":"i29","line":30,"te')
    first_requests = len(server.requests)
    done_before = {x["id"] for x in jsonl(out.read_bytes().rsplit(b"\n", 1)[0] + b"\n")}
    assert 6 <= len(done_before) < 30

    r = run_mint(args[len(MINT) :], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    results = jsonl(out.read_bytes())
    ids = [x["id"] for x in results]
    assert sorted(ids) == sorted(f"i{n}" for n in range(30)) and len(ids) == 30
    resent = prompts_sent(server)[first_requests:]
    assert not {f"p{i[1:]}" for i in done_before} & set(resent)  # nothing done is redone
    assert "removed a partial last line" in r.stderr.decode()
    assert f"{len(done_before)} skipped" in r.stderr.decode()


def test_retry_failed_runs_the_failed_items_again(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock(
        script=script(
            tmp_path,
            {"match": {"prompt": "flaky"}, "text": "ok now", "fault": "status=400,times=1"},
        )
    )
    source = tmp_path / "in.jsonl"
    source.write_bytes(items("a", "flaky", "b"))
    out = tmp_path / "out.jsonl"
    args = ["batch", "-O", str(out), str(source)]
    r = run_mint(args, mock_env(env, server))
    assert r.returncode == 9
    assert "--resume --retry-failed" in r.stderr.decode()
    # --resume alone leaves it failed (and says so in the exit status)
    r = run_mint([*args, "--resume"], mock_env(env, server))
    assert r.returncode == 9, r.stderr
    assert len(server.requests) == 3
    r = run_mint([*args, "--retry-failed"], mock_env(env, server))
    assert r.returncode == 0, r.stderr
    assert len(server.requests) == 4 and prompts_sent(server)[-1] == "flaky"
    results = jsonl(out.read_bytes())
    assert sorted(x["id"] for x in results) == ["i0", "i1", "i2"]
    assert all("error" not in x for x in results)


def test_resume_refuses_a_file_that_is_not_results(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "notes.txt"
    out.write_text("my notes\n")
    r = run_mint(["batch", "--mock", "--resume", "-O", str(out)], env, input=items("a"))
    assert r.returncode == 2
    assert "line 1 is not a mint batch result line" in r.stderr.decode()
    assert out.read_text() == "my notes\n"


MINT_LINE = b'{"id":"old","line":1,"text":"kept","reasoning":null,"tool_calls":[],'
MINT_LINE += b'"finish_reason":"stop","usage":null,"attempts":1,"model":"m"}\n'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"precious notes", "its last line does not start like a mint batch result line"),
        (MINT_LINE + b"precious notes", "its last line does not start like"),
        (b'{"id": 1, "text": "my own"}\n', "line 1 is not a mint batch result line"),
        (MINT_LINE + b"\n" + b"[1, 2]\n" + b'{"id":"i9","te', "line 3 is not a mint batch"),
    ],
)
def test_resume_never_cuts_a_file_that_is_not_results(
    env: dict[str, str], tmp_path: Path, content: bytes, message: str
) -> None:
    out = tmp_path / "notes.txt"
    out.write_bytes(content)
    r = run_mint(["batch", "--mock", "--resume", "-O", str(out)], env, input=items("a"))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr.decode() and "removed" not in r.stderr.decode()
    assert out.read_bytes() == content


@pytest.mark.parametrize("partial", [b"{", b'{"id', b'{"id":"i9","te'])
def test_resume_cuts_a_partial_line_that_starts_like_a_result(
    env: dict[str, str], tmp_path: Path, partial: bytes
) -> None:
    out = tmp_path / "out.jsonl"
    out.write_bytes(MINT_LINE + partial)
    r = run_mint(["batch", "--mock", "--resume", "-O", str(out)], env, input=items("a"))
    assert r.returncode == 0 and b"removed a partial last line" in r.stderr, r.stderr
    assert [x["id"] for x in jsonl(out.read_bytes())] == ["old", "i0"]


def test_resume_reads_earlier_lines_with_a_cap(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "big.jsonl"
    with out.open("wb") as fh:  # 80 MiB and no newline, sparse: no disk, no time
        fh.write(b'{"id":"x","line":1,"text":"')
        fh.truncate(80 << 20)
    start = time.monotonic()
    r = run_mint(["batch", "--mock", "--resume", "-O", str(out)], env, input=items("a"))
    assert r.returncode == 2, r.stderr
    assert "line 1 is larger than 64 MiB" in r.stderr.decode()
    assert out.stat().st_size == 80 << 20 and time.monotonic() - start < 10


def test_resume_to_a_device_reads_nothing_from_it(env: dict[str, str]) -> None:
    # /dev/zero holds no earlier results; reading it would never end
    r = run_mint(["batch", "--mock", "--resume", "-O", "/dev/zero"], env, input=items("a"))
    assert r.returncode == 0, r.stderr


def test_output_file_must_not_be_the_input(env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(items("a"))
    r = run_mint(["batch", "--mock", "-O", str(source), str(source)], env)
    assert r.returncode == 2 and b"is the input file" in r.stderr
    assert source.read_bytes() == items("a")


# -- the terminal ----------------------------------------------------------------------------


def test_progress_line_on_a_terminal_only(
    make_mock: Any, env: dict[str, str], spawn_pty: Any, tmp_path: Path
) -> None:
    server = make_mock(first_byte_delay=0.1)
    source = tmp_path / "in.jsonl"
    source.write_bytes(items(*"abcdefgh"))
    out = tmp_path / "out.jsonl"
    argv = [*MINT, "batch", "-j", "2", "-O", str(out), str(source)]
    child = spawn_pty(argv, mock_env(env, server))
    screen = child.read_until(None, timeout=20, what="the end of the batch")
    assert child.wait() == 0
    assert b"mint batch: " in screen and b"/8 done, 0 failed" in screen and b"ETA" in screen
    assert b"batch: 8 succeeded, 0 failed" in screen
    # not on a pipe: only the summary
    r = run_mint(argv[len(MINT) :], mock_env(env, server))
    assert r.returncode == 0
    assert r.stderr.decode().count("\n") == 1 and b"done," not in r.stderr
    assert len(jsonl(out.read_bytes())) == 8


# -- the README's examples ---------------------------------------------------------------------


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )


def test_readme_batch_example_runs(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    server = make_mock()
    r = _bash(readme_block("batch"), tmp_path, mock_env(env, server))
    assert r.returncode == 0, r.stderr.decode()
    rows = [line.split("\t") for line in r.stdout.decode().splitlines()]
    assert [row[:2] for row in rows] == [["greet", "stop"], ["poem", "stop"], ["sum", "stop"]]
    models = sorted(q["body"]["model"] for q in server.requests)  # sent concurrently
    assert models == ["openai/gpt-4o", "openai/gpt-4o", "openai/gpt-4o-mini"]


def test_readme_shards_example_covers_every_item_once(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    server = make_mock()
    (tmp_path / "prompts.jsonl").write_bytes(items(*(f"p{n}" for n in range(23))))
    r = _bash(readme_block("batch-shards"), tmp_path, mock_env(env, server))
    assert r.returncode == 0, r.stderr.decode()
    assert sorted((tmp_path).glob("part-*.jsonl")) == [
        tmp_path / f"part-{k}.jsonl" for k in range(4)
    ]
    merged = jsonl((tmp_path / "results.jsonl").read_bytes())
    assert [x["id"] for x in merged] == [f"i{n}" for n in range(23)]
    assert len(server.requests) == 23


# -- messages parts: checked and resolved as mint chat --messages does -------------------


def test_item_messages_are_resolved_and_checked_as_chat_messages(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    pic = tmp_path / "secret-dir" / "pic.png"
    png, digest = small_png(pic)

    def item(ident: str, part: dict[str, Any]) -> bytes:
        content = [part, {"type": "text", "text": f"look {ident}"}]
        line = {"id": ident, "messages": [{"role": "user", "content": content}]}
        return json.dumps(line).encode() + b"\n"

    ref = {"path": str(pic), "media_type": "image/png", "size": len(png)}
    good = {"type": "attachment", "attachment": {**ref, "sha256": digest}}
    changed = {"type": "attachment", "attachment": {**ref, "sha256": "0" * 64}}
    gone = {"type": "attachment", "attachment": {**good["attachment"], "path": str(pic) + "x"}}
    data = (
        item("good", good)
        + item("changed", changed)
        + item("gone", gone)
        + item("weird", {"type": "weird"})
        + item("nul", {"type": "attachment", "attachment": {**ref, "path": "a\0b", "sha256": ""}})
    )
    server = make_mock()
    r = run_mint(["batch", "-"], mock_env(env, server), input=data)
    assert r.returncode == 9, r.stderr
    results = {x["id"]: x for x in jsonl(r.stdout)}
    assert "error" not in results["good"]
    assert "has changed since it was attached" in results["changed"]["error"]["message"]
    assert "is gone" in results["gone"]["error"]["message"]
    assert "no file has a NUL byte" in results["nul"]["error"]["message"]
    # a part type mint does not know is the server's to judge (new ones appear)
    assert "'weird'" in results["weird"]["error"]["message"]
    assert results.pop("weird")["error"]["code"] == 4
    assert {x["error"]["code"] for x in results.values() if "error" in x} == {2}
    bodies = [r["body"] for r in server.requests if r.get("body")]
    assert len(bodies) == 2 and str(tmp_path) not in json.dumps(bodies)  # paths stay here
    (sent,) = [b for b in bodies if "look good" in json.dumps(b)]
    (part, _) = sent["messages"][-1]["content"]
    assert part["image_url"]["url"].startswith("data:image/png;base64,")
