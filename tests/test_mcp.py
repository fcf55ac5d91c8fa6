"""--mcp against real MCP servers: one built with the official Python SDK
(tests/data/mcp_server.py) and, where npx can fetch it, the reference
filesystem server from the npm registry."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, PEAK, jsonl, mock_env, peak_of, readme_block, run_mint, scripted_mock

# find_spec, not importorskip: importing the SDK would grow this process by tens of MB,
# and a child forked later reports its parent's size as its own peak (test_hardening).
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mcp") is None,
    reason="the MCP tests need the mcp package (the test extra)",
)

SERVER = Path(__file__).parent / "data" / "mcp_server.py"
SDK = f"{sys.executable} {SERVER}"

SCRIPT = [
    # one chain: four calls at once (two fine, two failing), then one that kills the server
    {"match": {"prompt": "^weather"}, "steps": [
        {"tool_calls": [
            {"id": "w", "name": "weather", "arguments": {"city": "Paris"}},
            {"id": "g", "name": "geo_lookup", "arguments": {"place": "Oslo"}},
            {"id": "f", "name": "fail", "arguments": {"reason": "no"}},
            {"id": "n", "name": "nope", "arguments": {}},
        ]},
        {"tool_calls": [{"id": "d", "name": "die", "arguments": {"code": 3}}]},
    ]},
    {"match": {"prompt": "^slow"}, "steps": [{"tool_calls": [
        {"name": "slow", "arguments": {"seconds": 30}}]}]},
    {"match": {"prompt": "^echo"}, "steps": [{"tool_calls": [
        {"name": "echo", "arguments": {"text": "said back"}}]}]},
    {"match": {"prompt": "^both"}, "steps": [{"tool_calls": [
        {"name": "north_weather", "arguments": {"city": "Oslo"}},
        {"name": "south_weather", "arguments": {"city": "Rome"}},
    ]}]},
]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with scripted_mock(tmp_path_factory.mktemp("mcp"), SCRIPT) as srv:
        yield srv


def requests(server: Any) -> list[dict[str, Any]]:
    return [json.loads(line)["body"] for line in server.log_path.read_bytes().splitlines()]


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_sdk_server_tools_run_and_errors_are_results(
    env: dict[str, str], server: Any, protocol: str
) -> None:
    before = len(requests(server)) if server.log_path.exists() else 0
    r = run_mint(["chat", "--protocol", protocol, "--no-log", "-f", "json", "--mcp", SDK,
                  "weather and more"], mock_env(env, server))  # fmt: skip
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    results = {t["id"]: t for s in obj["steps"] for t in s["tool_results"]}
    assert results["w"]["output"] == "Paris: sunny, 21 C (weather)"
    assert results["g"]["output"] == "Oslo is somewhere"  # called back by its own name
    assert not results["w"]["is_error"] and results["w"]["exit"] is None
    assert results["f"]["is_error"] and "Error executing tool fail" in results["f"]["output"]
    assert results["n"]["is_error"] and "no tool 'nope'" in results["n"]["error"]
    # the server died in the middle of a call: an error result, and mint goes on
    assert results["d"]["is_error"] and "the MCP server failed" in results["d"]["error"]
    assert "error: the MCP server failed" in obj["text"]
    sent = requests(server)[before:]
    assert len(sent) == 3
    names = [t["function"]["name"] if "function" in t else t["name"] for t in sent[0]["tools"]]
    # geo.lookup is not a name the APIs accept: it is offered as geo_lookup
    assert sorted(names) == ["die", "fail", "geo_lookup", "slow", "weather"]
    if protocol == "anthropic":
        blocks = sent[1]["messages"][-1]["content"]
        assert [b.get("is_error", False) for b in blocks] == [False, False, True, True]


def test_a_slow_call_times_out(env: dict[str, str], server: Any) -> None:
    s = run_mint(["chat", "--no-log", "-f", "jsonl", "--tool-timeout", "1", "--mcp", SDK,
                  "slow"], mock_env(env, server))  # fmt: skip
    assert s.returncode == 0, s.stderr
    result = next(e for e in jsonl(s.stdout) if e["type"] == "tool_result")
    assert result["is_error"] and "did not answer within 1 s" in result["error"]


def test_clashing_names_get_the_server_prefix(
    tmp_path: Path, env: dict[str, str], server: Any
) -> None:
    for name in ("north", "south"):
        shutil.copy(SERVER, tmp_path / f"{name}.py")
    servers = [f"{sys.executable} {tmp_path / n}.py --tag {n}" for n in ("north", "south")]
    r = run_mint(["chat", "--no-log", "-f", "json", "--mcp", servers[0], "--mcp", servers[1],
                  "both"], mock_env(env, server))  # fmt: skip
    assert r.returncode == 0, r.stderr
    outputs = [t["output"] for t in json.loads(r.stdout)["steps"][0]["tool_results"]]
    assert outputs == ["Oslo: sunny, 21 C (north)", "Rome: sunny, 21 C (south)"]


@pytest.mark.parametrize(
    ("era", "methods"),
    [
        ("stateless", ["server/discover", "tools/list", "tools/call"]),
        ("legacy", ["server/discover", "initialize", "notifications/initialized",
                    "tools/list", "tools/call"]),
        # silence is waited out (5 s), then the handshake of the earlier revisions
        ("silent", ["server/discover", "notifications/cancelled", "initialize",
                    "notifications/initialized", "tools/list", "tools/call"]),
    ],
)  # fmt: skip
def test_servers_of_each_revision_are_spoken_to_in_theirs(
    env: dict[str, str], server: Any, tmp_path: Path, era: str, methods: list[str]
) -> None:
    """server/discover first (the 2026-07-28 revision, stateless), and the
    initialize handshake for a server that answers it with an error or not at all."""
    log = tmp_path / "methods.log"
    command = f"{sys.executable} {SERVER.parent / 'era_mcp.py'} {era}"
    r = run_mint(["chat", "--no-log", "-f", "json", "--mcp", command, "echo"],
                 {**mock_env(env, server), "ERA_LOG": str(log)})  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)["steps"][0]["tool_results"][0]
    assert (result["output"], result["is_error"]) == ("said back", False)
    assert log.read_text().split() == methods


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("/no/such/server", "cannot start /no/such/server"),
        (f"{sys.executable} -c 'import sys; sys.exit(4)'", "it exited with status 4"),
        (f"{SDK} garbage", "not JSON"),
        (f"{sys.executable} {SERVER.parent / 'raw_mcp.py'}", "lists more than 128 tools"),
        (f"{sys.executable} {SERVER.parent / 'raw_mcp.py'} endless", "pages without end"),
        ("'unclosed", "No closing quotation"),
    ],
)
def test_bad_servers_fail_before_sending(
    env: dict[str, str], server: Any, command: str, message: str
) -> None:
    before = server.log_path.read_bytes().count(b"\n") if server.log_path.exists() else 0
    r = run_mint(["chat", "--no-log", "--mcp", command, "weather"], mock_env(env, server))
    assert r.returncode == 2, r.stderr
    assert message in r.stderr.decode()
    after = server.log_path.read_bytes().count(b"\n") if server.log_path.exists() else 0
    assert after == before


def test_a_server_shouting_on_stderr_without_line_ends_is_bounded(
    env: dict[str, str], server: Any
) -> None:
    command = f"{sys.executable} {SERVER.parent / 'raw_mcp.py'} shout"
    r = subprocess.run(
        [sys.executable, "-c", PEAK, *MINT, "chat", "--no-log", "--mcp", command, "weather"],
        env=mock_env(env, server), stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )  # fmt: skip
    err, peak = peak_of(r.stderr)
    assert r.returncode == 2 and "it exited with status 4 (its stderr: xxx" in err
    assert len(err) < 1000 and peak < 100 * 1024, (len(err), peak)


def test_reference_filesystem_server_from_npm(
    tmp_path: Path, env: dict[str, str], make_mock: Any
) -> None:
    if shutil.which("npx") is None:
        pytest.skip("npx is not installed")
    package = "@modelcontextprotocol/server-filesystem"
    try:
        subprocess.run(["npm", "view", package, "version"], capture_output=True, timeout=30,
                       check=True)  # fmt: skip
    except (subprocess.SubprocessError, OSError):
        pytest.skip(f"the npm registry does not answer for {package}")
    root = tmp_path / "files"
    root.mkdir()
    (root / "note.txt").write_text("hello from a file\n")
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"steps": [{"tool_calls": [
        {"name": "read_text_file", "arguments": {"path": str(root / "note.txt")}}]}]}]))  # fmt: skip
    # npx's own cache (the tests' HOME is empty): fetched once, not at every run
    npm_env = {**mock_env(env, make_mock(script=script)),
               "npm_config_cache": os.path.expanduser("~/.npm")}  # fmt: skip
    r = run_mint(["chat", "--no-log", "-f", "json", "--mcp",
                  f"npx --prefer-offline -y {package} {root}", "read it"], npm_env,
                 timeout=120)  # fmt: skip
    if r.returncode == 2 and b"MCP server" in r.stderr:
        pytest.skip(f"npx could not start {package}: {r.stderr.decode()[:200]}")
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)["steps"][0]["tool_results"]
    assert results[0]["output"] == "hello from a file\n"


def test_readme_mcp_example(tmp_path: Path, env: dict[str, str], server: Any) -> None:
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_block("run-mcp")],
        cwd=tmp_path, env=mock_env(env, server), capture_output=True, timeout=60,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == b"Tool result received: 1\n"
    assert r.stderr.startswith(b'mint: tool word_count {"text":"count"}: ok (1 bytes')
