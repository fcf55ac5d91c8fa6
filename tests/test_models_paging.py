"""``mint models``: Anthropic's list comes in pages, which mint follows (within a
cap, and never around a loop a server makes); the mock pages as the real API
does; an id the key was redacted from never reaches the models cache or Tab."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from conftest import SECRET, mock_env, run_mint
from sse_server import Canned, SSEServer

ANTHROPIC = {"x-api-key": "k", "anthropic-version": "2023-06-01"}


def _page(ids: list[str], more: bool) -> Canned:
    body = {"data": [{"type": "model", "id": i} for i in ids], "has_more": more,
            "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None}  # fmt: skip
    return Canned(body=[json.dumps(body).encode()], headers={"Content-Type": "application/json"})


def _models(server: SSEServer, env: dict[str, str], *pages: Canned) -> Any:
    server.queue(*pages, Canned(status=500, body=[b'{"error":"asked once too often"}']))
    return run_mint(
        ["models", "--protocol", "anthropic"], {**env, "MINT_BASE_URL": server.base_url}
    )


def _queries(server: SSEServer) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(r["path"]).query) for r in server.requests]


def test_every_page_is_listed(sse_server: SSEServer, env: dict[str, str]) -> None:
    r = _models(sse_server, env, _page(["claude-x"], True), _page(["claude-y", "claude-z"], False))
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert r.stdout == b"claude-x\nclaude-y\nclaude-z\n"
    assert _queries(sse_server) == [
        {"limit": ["1000"]},
        {"limit": ["1000"], "after_id": ["claude-x"]},
    ]
    cache = Path(env["XDG_CACHE_HOME"]) / "mint" / "models"
    assert cache.read_text() == "claude-x\nclaude-y\nclaude-z\n"


def test_a_page_with_nothing_new_ends_the_listing_with_a_warning(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    # A server that answers the same page whatever the cursor would loop mint forever.
    same = _page(["claude-x"], True)
    r = _models(sse_server, env, same, same, same)
    assert r.returncode == 0 and r.stdout == b"claude-x\n"
    assert r.stderr.decode() == (
        "mint: warning: the server says more models follow but sent none not listed already;"
        " 1 listed\n"
    )
    assert len(sse_server.requests) == 2


def test_more_without_a_cursor_ends_the_listing_with_a_warning(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    body = {"data": [{"id": "claude-x"}], "has_more": True}
    page = Canned(body=[json.dumps(body).encode()], headers={"Content-Type": "application/json"})
    r = _models(sse_server, env, page)
    assert r.returncode == 0 and r.stdout == b"claude-x\n"
    assert "gave no last_id to ask for them; 1 listed" in r.stderr.decode()
    assert len(sse_server.requests) == 1


def test_pages_that_never_end_stop_at_the_cap(sse_server: SSEServer, env: dict[str, str]) -> None:
    pages = [_page([f"m{i}"], True) for i in range(12)]
    r = _models(sse_server, env, *pages)
    assert r.returncode == 0 and r.stdout == b"".join(b"m%d\n" % i for i in range(10))
    assert r.stderr.decode() == (
        "mint: warning: the server says more models follow after 10 pages; stopped there;"
        " 10 listed\n"
    )
    assert len(sse_server.requests) == 10


def test_the_mock_pages_anthropic_models_as_the_api_does(make_mock: Any) -> None:
    url = make_mock().base_url + "/models"
    first = httpx.get(url, params={"limit": 2}, headers=ANTHROPIC).json()
    assert [m["id"] for m in first["data"]] == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    assert first["has_more"] is True and first["last_id"] == "openai/gpt-4o-mini"
    rest = httpx.get(url, params={"limit": 1000, "after_id": first["last_id"]}, headers=ANTHROPIC)
    assert [m["id"] for m in rest.json()["data"]] == [
        "anthropic/claude-sonnet-4-5",
        "anthropic/claude-haiku-4-5",
        "mock/echo",
    ]
    assert rest.json()["has_more"] is False
    back = httpx.get(url, params={"limit": 1, "before_id": "mock/echo"}, headers=ANTHROPIC).json()
    assert [m["id"] for m in back["data"]] == ["anthropic/claude-haiku-4-5"] and back["has_more"]
    bad = httpx.get(url, params={"limit": 0}, headers=ANTHROPIC)
    assert bad.status_code == 400 and bad.json()["type"] == "error"


def test_mint_models_asks_the_mock_for_big_pages(make_mock: Any, env: dict[str, str]) -> None:
    server = make_mock()
    r = run_mint(["models", "--protocol", "anthropic"], mock_env(env, server))
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert r.stdout.decode().splitlines()[-1] == "mock/echo"
    assert server.requests[-1]["path"] == "/v1/models?limit=1000"


def test_an_id_holding_the_key_is_shown_redacted_but_never_completed(
    sse_server: SSEServer, env: dict[str, str]
) -> None:
    listing = {"data": [{"id": SECRET}, {"id": f"x-{SECRET}"}, {"id": "good/model"}]}
    sse_server.queue(Canned(body=[json.dumps(listing).encode()]))
    r = run_mint(["models"], {**env, "MINT_BASE_URL": sse_server.base_url})
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"[redacted]\nx-[redacted]\ngood/model\n"
    cache = Path(env["XDG_CACHE_HOME"]) / "mint" / "models"
    assert cache.read_text() == "good/model\n"
    cache.write_text("[redacted]\ngood/model\n")  # as an older mint left it
    r = run_mint(["_complete", "models"], env)
    assert r.returncode == 0 and r.stdout == b"good/model\n"
