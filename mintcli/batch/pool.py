"""The batch's threads: workers take, run and write items; the main thread watches.

Each of at most ``concurrency`` worker threads takes the next item from the
input, runs it (``ChatRun.stream`` over the shared transport) and writes its
result line, taking one lock for the shared steps (reading an input line,
writing lines). The main thread only waits: it keeps the signals and the
progress line, so no item passes through it.

Order: in input order by default. A result that is ready before an earlier
one waits in a reorder buffer; an item is taken only while it is fewer than
``window`` items after the oldest one not yet written, so however slow one
item is, at most ``window`` results are held (``WINDOW_PER_WORKER`` times the
concurrency). ``--unordered`` writes each result as it comes.

Stopping: the first Ctrl-C or SIGTERM (or a failure of the setup that every
item would meet, such as a refused key) stops new items from being taken; the
running ones finish and are written, then :meth:`Pool.run` returns. A second
signal raises at once in the main thread, which first writes the results
already finished and keeps the lock, so nothing is written after them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mintcli.base.terminal import SIGNAL_EXCEPTIONS
from mintcli.batch.items import Item
from mintcli.batch.results import Output, bad_line
from mintcli.errors import MintError

WINDOW_PER_WORKER = 4
TICK = 0.2  # the main thread looks at signals and the progress line this often


@dataclass(frozen=True)
class Outcome:
    """How an item ended. ``line`` None: it leaves no result line (it did not
    start, or it met a failure of the whole batch, ``stop``)."""

    line: bytes | None
    failed: bool = False
    stop: MintError | None = None


@dataclass
class Tally:
    succeeded: int = 0
    failed: int = 0
    not_run: int = 0  # started but stopped without a result (or never started)
    running: int = 0
    total: int | None = None  # items this run takes, when known
    started_at: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed


class Pool:
    def __init__(
        self,
        run_item: Callable[[Item], Outcome],
        output: Output,
        *,
        concurrency: int,
        ordered: bool,
        stopping: threading.Event,
        on_tick: Callable[[Tally], None] | None = None,
    ) -> None:
        self.run_item = run_item
        self.output = output
        self.concurrency = concurrency
        self.ordered = ordered
        self.window = WINDOW_PER_WORKER * concurrency
        self.on_tick = on_tick
        self.tally = Tally()
        self.stopping = stopping  # set: take no more items
        self.failure: MintError | None = None  # the setup failure that stopped the batch
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)  # the window moved or the input ended
        self._wake = threading.Event()  # for the main thread: all workers ended, or one broke
        self._error: BaseException | None = None  # what broke a worker (raised by main)
        self._items: Iterator[Item] = iter(())
        self._workers = 0
        self._exhausted = False
        self._next = 0  # sequence number of the next item taken
        self._written = 0  # ordered: the items before this one are written
        self._buffer: dict[int, bytes | None] = {}  # ordered: finished, waiting their turn

    # -- the main thread ---------------------------------------------------------------------
    def run(self, items: Iterator[Item]) -> None:
        self._items = items
        with self._lock:
            self._spawn()
        try:
            while True:
                self._wake.wait(TICK)
                if self._error is not None:
                    # stdout closed, a full disk, a bug: at once. Workers write only
                    # under the lock: keeping it, none is mid-write (or writes again)
                    # while the process ends.
                    self._lock.acquire()
                    raise self._error
                if not self._workers:
                    break
                if self.on_tick is not None:
                    self.on_tick(self.tally)
        except SIGNAL_EXCEPTIONS:
            self._salvage()  # a second signal: what has finished is still written
            raise

    def stop(self) -> None:
        """Take no more items (from a signal handler too: no lock taken here;
        workers waiting for the window look again within a tick)."""
        self.stopping.set()

    def _salvage(self) -> None:
        """After a second signal: write every result finished so far, in input
        order, leaving out the items cut short; then keep the lock, so that no
        worker writes anything after them."""
        self._lock.acquire()
        tally = self.tally
        tally.not_run += tally.running
        tally.running = 0
        lines = [line for _, line in sorted(self._buffer.items()) if line is not None]
        self._buffer.clear()
        if lines:
            self.output.write(b"".join(lines))

    # -- worker threads (the shared steps under the lock) ----------------------------------------
    def _spawn(self) -> None:
        self._workers += 1
        threading.Thread(target=self._work, name="mint-batch", daemon=True).start()

    def _work(self) -> None:
        try:
            while True:
                with self._lock:
                    taken = self._take()
                if taken is None:
                    return
                seq, item = taken
                outcome = self.run_item(item)
                with self._lock:
                    self.tally.running -= 1
                    self._finished(seq, outcome)
        except BaseException as exc:  # raised again by the main thread
            if self._error is None:
                self._error = exc
            self.stop()
        finally:
            with self._lock:
                self._workers -= 1
                if not self._workers or self._error is not None:
                    self._wake.set()

    def _take(self) -> tuple[int, Item] | None:
        """The next item to run, or None when there is none (or the batch stops)."""
        while not self.stopping.is_set() and not self._exhausted:
            if self.ordered and self._next >= self._written + self.window:
                self._moved.wait(TICK)  # the reorder buffer is full: wait for the oldest
                continue
            item = next(self._items, None)
            if item is None:
                self._exhausted = True
                if self.tally.total is None:
                    self.tally.total = self._next
                self._moved.notify_all()
                return None
            seq = self._next
            self._next += 1
            if item.request is None:  # a line that cannot be used: its error is its result
                self._finished(seq, Outcome(bad_line(item), failed=True))
                continue
            self.tally.running += 1
            if self.tally.running >= self._workers and self._workers < self.concurrency:
                self._spawn()
            return seq, item
        return None

    def _finished(self, seq: int, outcome: Outcome) -> None:
        tally = self.tally
        if outcome.line is None:
            tally.not_run += 1
        elif outcome.failed:
            tally.failed += 1
        else:
            tally.succeeded += 1
        if outcome.stop is not None and self.failure is None:
            self.failure = outcome.stop
            self.stop()
        if not self.ordered:
            if outcome.line is not None:
                self.output.write(outcome.line)
            return
        self._buffer[seq] = outcome.line
        if seq != self._written:
            return
        lines = []
        while self._written in self._buffer:
            line = self._buffer.pop(self._written)
            self._written += 1
            if line is not None:
                lines.append(line)
        self._moved.notify_all()
        if lines:
            self.output.write(b"".join(lines))
