from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sse_server import SSEServer

MINT = [sys.executable, "-m", "mintcli"]
SECRET = "sk-test-SECRET-do-not-print"


@pytest.fixture(scope="session")
def sse_server() -> Iterator[SSEServer]:
    server = SSEServer()
    yield server
    server.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no user config, private state dir, a known key."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith("MINT_")}
    keep.pop("NO_COLOR", None)
    keep.update(
        {
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
            "HOME": str(tmp_path / "home"),
            "MINT_API_KEY": SECRET,
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return keep


def run_mint(
    args: list[str],
    env: dict[str, str],
    *,
    input: bytes | None = None,
    timeout: float = 30,
    **kwargs: Any,
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*MINT, *args],
        env=env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.fixture
def make_mock() -> Iterator[Any]:
    """Start in-thread mock gateways with given options; all stopped afterwards."""
    from mintcli.mock import MockOptions, MockServer

    servers: list[MockServer] = []

    def start(**options: Any) -> MockServer:
        log = options.pop("log", None)
        server = MockServer("127.0.0.1", 0, MockOptions(**options), log).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def mock_env(env: dict[str, str], server: Any) -> dict[str, str]:
    return {**env, "MINT_BASE_URL": server.base_url}


def jsonl(out: bytes) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in out.decode().splitlines()]
