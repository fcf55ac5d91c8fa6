"""What a batch says on stderr: a status line while it runs (on a terminal
only), and one summary line at the end (unless --quiet)."""

from __future__ import annotations

import time

from mintcli.base.terminal import Terminal
from mintcli.batch.pool import Tally

EVERY = 0.2  # seconds between two updates of the status line


def plural(count: int, word: str) -> str:
    """``1 item``, ``2 items``: for the counts messages give."""
    return f"{count} {word}{'' if count == 1 else 's'}"


class Progress:
    def __init__(self, term: Terminal) -> None:
        self.term = term
        self._shown_at = 0.0

    def tick(self, tally: Tally) -> None:
        if not self.term.stderr_isatty:
            return
        now = time.monotonic()
        if now - self._shown_at < EVERY:
            return
        self._shown_at = now
        elapsed = now - tally.started_at
        rate = tally.finished / elapsed if elapsed > 0 else 0.0
        total = "?" if tally.total is None else str(tally.total)
        text = f"mint batch: {tally.finished}/{total} done, {tally.failed} failed"
        text += f", {tally.running} running, {rate:.1f} items/s"
        if tally.total is not None and rate > 0:
            text += f", ETA {clock((tally.total - tally.finished) / rate)}"
        self.term.show_status(text)

    def summary(self, tally: Tally, skipped: int, skipped_failed: int) -> str:
        elapsed = time.monotonic() - tally.started_at
        rate = tally.finished / elapsed if elapsed > 0 else 0.0
        text = f"batch: {tally.succeeded} succeeded, {tally.failed} failed"
        if tally.not_run:
            text += f", {tally.not_run} not run"
        if skipped:
            text += f", {skipped} skipped (already in the -O file"
            text += f", {skipped_failed} of them failed)" if skipped_failed else ")"
        return text + f"; {clock(elapsed)}, {rate:.1f} items/s"


def clock(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
