"""The mock's ``GET /v1/models`` and ``/v1/models/{id}``, in each protocol's shape.

Anthropic's list comes in pages as the real API gives them: ``limit`` (1-1000,
default 20), ``after_id`` / ``before_id`` cursors, and ``has_more``,
``first_id``, ``last_id`` in the answer. OpenAI's list is one body. Imports
refusal.py only."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import orjson

from mintcli.mock.refusal import Refusal

MODELS = (
    "openai/gpt-4o",
    "openai/gpt-4o-mini",
    "anthropic/claude-sonnet-4-5",
    "anthropic/claude-haiku-4-5",
    "mock/echo",
)


def _model(protocol: str, m: str) -> dict[str, Any]:
    if protocol == "anthropic":
        return {"type": "model", "id": m, "display_name": m.split("/")[-1],
                "created_at": "2025-01-01T00:00:00Z"}  # fmt: skip
    owner = m.split("/")[0] if "/" in m else "system"
    return {"id": m, "object": "model", "created": 1735689600, "owned_by": owner}


def models_body(protocol: str, model: str | None = None, query: str = "") -> bytes:
    """``GET /v1/models`` in the protocol's shape, or ``/v1/models/{model}``."""
    if model is not None:
        return orjson.dumps(_model(protocol, model))
    if protocol != "anthropic":
        return orjson.dumps({"object": "list", "data": [_model(protocol, m) for m in MODELS]})
    names = _page(parse_qs(query, keep_blank_values=True))
    return orjson.dumps({
        "data": [_model(protocol, m) for m in names[0]],
        "has_more": names[1],
        "first_id": names[0][0] if names[0] else None,
        "last_id": names[0][-1] if names[0] else None,
    })  # fmt: skip


def _page(query: dict[str, list[str]]) -> tuple[tuple[str, ...], bool]:
    """The models of one page, and whether more follow in its direction."""
    raw = query.get("limit", ["20"])[-1]
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise Refusal(400, "limit: Input should be between 1 and 1000", "invalid_request_error")
    limit = int(raw)
    after, before = query.get("after_id", [None])[-1], query.get("before_id", [None])[-1]
    if after is not None and before is not None:
        raise Refusal(400, "Cannot specify both after_id and before_id", "invalid_request_error")
    if before is not None:  # the page that ends just before that model
        end = MODELS.index(before) if before in MODELS else 0
        return MODELS[max(0, end - limit) : end], end - limit > 0
    start = MODELS.index(after) + 1 if after in MODELS else (0 if after is None else len(MODELS))
    return MODELS[start : start + limit], start + limit < len(MODELS)
