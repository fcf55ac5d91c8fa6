"""Pacing shared by every worker of a batch (a :class:`mintcli.run.runner.Pacer`).

* Shared backoff: when the server says to wait (``Retry-After`` on a 429, 503
  or any status, or a rate limit without one), the whole batch waits, not only
  the item that was told: no request starts before the pause is over. Streams
  already under way go on.
* ``--rpm N``: request starts are spaced at least 60/N seconds apart, retries
  included.
* Once the batch is stopping, an item that has not sent its first request
  does not start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from mintcli.errors import ExitCode, Interrupted, MintError

STEP = 0.1  # waits are cut in steps this long, so that a stop is seen soon


class NotStarted(Interrupted):
    """The batch stopped before this item sent anything."""


class SharedPacer:
    def __init__(
        self,
        *,
        rpm: int | None,
        cap: float,
        stopping: threading.Event,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self._interval = 60.0 / rpm if rpm else 0.0
        self._cap = cap  # no pause longer than --retry-max
        self._stopping = stopping
        self._announce = announce
        self._lock = threading.Lock()
        self._resume_at = 0.0  # time.monotonic() when the current pause ends
        self._next_start = 0.0  # the earliest start --rpm allows

    def before_request(self, first: bool) -> None:
        # A pause first (another worker may extend it while this one waits)...
        while True:
            with self._lock:
                wait = self._resume_at - time.monotonic()
            if wait <= 0:
                break
            self._sleep(wait, first)
        if not self._interval:
            self._check(first)
            return
        # ... then a start that --rpm allows.
        with self._lock:
            start = max(time.monotonic(), self._next_start)
            self._next_start = start + self._interval
        while (left := start - time.monotonic()) > 0:
            self._sleep(left, first)
        self._check(first)

    def _sleep(self, seconds: float, first: bool) -> None:
        self._check(first)
        time.sleep(min(seconds, STEP))

    def _check(self, first: bool) -> None:
        if first and self._stopping.is_set():
            raise NotStarted("the batch stopped before this item started")

    def failed(self, error: MintError, delay: float | None) -> None:
        pause = error.retry_after
        if pause is None and error.exit_code == ExitCode.RATE_LIMITED:
            pause = delay
        if not pause or pause <= 0:
            return
        pause = min(pause, self._cap)
        with self._lock:
            until = time.monotonic() + pause
            longer = until > self._resume_at + 0.05
            if longer:
                self._resume_at = until
        if longer and self._announce is not None:
            self._announce(f"{error.message}: the whole batch waits {pause:.1f}s")
