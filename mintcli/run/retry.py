"""Which failures are retried, and how long to wait before the next attempt."""

from __future__ import annotations

import random
from dataclasses import dataclass

from mintcli.errors import MintError


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    base: float
    cap: float

    def delay(
        self, error: MintError, retries_done: int, rng: random.Random | None = None
    ) -> float | None:
        """Seconds to wait before retry number ``retries_done + 1``, or None when
        the failure is final. The wait is base * 2^n with "equal jitter" (between
        half and all of it), capped; or what the server asked for with
        Retry-After / retry-after-ms. A server that asks for longer than the cap
        is not retried early (a rate limiter would only refuse again): the error
        says how long it asked for."""
        if not error.retryable or retries_done >= self.max_retries:
            return None
        if error.retry_after is not None:
            if error.retry_after > self.cap:
                error.message += (
                    f" (the server asked to wait {_duration(error.retry_after)} before trying "
                    f"again, longer than --retry-max {self.cap:g}s: not retried)"
                )
                return None
            return error.retry_after
        full = min(self.cap, self.base * (2.0**retries_done))
        r = (rng or random).random()
        return full / 2 + r * full / 2


def _duration(seconds: float) -> str:
    """A server's wait as a person reads it: ``0.5s``, ``120s``, ``3 days``;
    past a year the figure (a header may say 1e308) means only "never"."""
    if seconds < 10:
        return f"{seconds:.2g}s"
    if seconds < 100_000:
        return f"{seconds:.0f}s"
    if seconds < 365 * 86_400:
        days = round(seconds / 86_400)
        return f"{days} day{'' if days == 1 else 's'}"
    return "more than a year"
