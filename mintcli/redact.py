"""Keeping secrets out of what mint prints and stores.

Header values that carry credentials are replaced by ``[redacted]`` wherever
headers are shown (``-v``, ``--dry-run``, ``mint mock --log``, recordings).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "proxy-authorization", "cookie", "set-cookie"}
)
REDACTED = "[redacted]"


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in items}
