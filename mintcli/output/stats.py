"""``--stats``: timings and counts of one run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    first_byte: float | None = None
    first_token: float | None = None
    pieces: int = 0

    def saw_pieces(self, count: int) -> None:
        if count:
            self.pieces += count
            if self.first_token is None:
                self.first_token = time.monotonic()

    def as_dict(self, usage: dict[str, Any] | None, attempts: int) -> dict[str, Any]:
        now = time.monotonic()
        out_tokens = (usage or {}).get("output_tokens")
        rate = None
        if out_tokens and self.first_token is not None and now - self.first_token > 0:
            rate = out_tokens / (now - self.first_token)
        return {
            "time_to_first_byte": _since(self.started, self.first_byte),
            "time_to_first_token": _since(self.started, self.first_token),
            "total_time": now - self.started,
            "pieces": self.pieces,
            "output_tokens": out_tokens,
            "tokens_per_second": rate,
            "attempts": attempts,
        }


def _since(start: float, moment: float | None) -> float | None:
    return None if moment is None else moment - start


def format_stats(stats: dict[str, Any]) -> str:
    def ms(key: str) -> str:
        value = stats.get(key)
        return "-" if value is None else f"{value * 1000:.0f} ms"

    tokens = stats.get("output_tokens")
    rate = stats.get("tokens_per_second")
    return (
        f"stats: first byte {ms('time_to_first_byte')}, first token {ms('time_to_first_token')}, "
        f"total {ms('total_time')}, {stats.get('pieces', 0)} pieces, "
        f"{'-' if tokens is None else tokens} output tokens"
        f"{'' if rate is None else f' ({rate:.1f}/s)'}, {stats.get('attempts', 1)} attempt(s)"
    )
