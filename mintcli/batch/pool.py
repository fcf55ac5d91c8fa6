"""The batch's main loop: worker threads run items, the main thread writes.

The main thread reads the input, hands items to at most ``concurrency``
worker threads, and writes each finished item's result line. Worker threads
only stream (``ChatRun.stream``, one shared transport); signals, output and
the progress line stay in the main thread.

Order: in input order by default. A result that is ready before an earlier
one waits in a reorder buffer; an item starts only while it is fewer than
``window`` items after the oldest one not yet written, so however slow one
item is, at most ``window`` results are held (``WINDOW_PER_WORKER`` times the
concurrency). ``--unordered`` writes each result as it comes.

Stopping: the first Ctrl-C or SIGTERM (or a failure of the setup that every
item would meet, such as a refused key) stops new items from starting; the
running ones finish and are written, then :meth:`Pool.run` returns. A second
signal raises at once; the results already finished are written first.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from mintcli.batch.items import Item
from mintcli.batch.results import Output, bad_line
from mintcli.errors import MintError
from mintcli.terminal import SIGNAL_EXCEPTIONS, critical

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
        on_tick: Callable[[Tally], None] | None = None,
    ) -> None:
        self.run_item = run_item
        self.output = output
        self.concurrency = concurrency
        self.ordered = ordered
        self.window = WINDOW_PER_WORKER * concurrency
        self.on_tick = on_tick
        self.tally = Tally()
        self.stopping = threading.Event()
        self.failure: MintError | None = None  # the setup failure that stopped the batch
        self._tasks: queue.SimpleQueue[tuple[int, Item] | None] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[tuple[int, Outcome | BaseException]] = queue.SimpleQueue()
        self._workers = 0
        self._held: Item | None = None  # read, waiting for a free worker
        self._exhausted = False
        self._next = 0  # sequence number of the next item to start
        self._written = 0  # items before this one are written (ordered)
        self._buffer: dict[int, bytes | None] = {}  # ordered: finished, waiting their turn
        self._ready: list[bytes] = []  # unordered: finished, to write

    # -- the main loop (main thread) ---------------------------------------------------
    def run(self, items: Iterator[Item]) -> None:
        try:
            while True:
                if not self.stopping.is_set():
                    self._fill(items)
                if not self.tally.running and (self._exhausted or self.stopping.is_set()):
                    break
                if self.tally.running:
                    self._collect()
                self._write()
                if self.on_tick is not None:
                    self.on_tick(self.tally)
        except SIGNAL_EXCEPTIONS:
            self._salvage()  # a second signal: what has finished is still written
            raise
        finally:
            for _ in range(self._workers):
                self._tasks.put(None)  # idle workers end; busy ones die with the process
        self._write()

    def stop(self) -> None:
        """Start no more items (from a signal handler, or a setup failure)."""
        self.stopping.set()

    def _fill(self, items: Iterator[Item]) -> None:
        while not self._exhausted:
            if self.ordered and self._next >= self._written + self.window:
                return  # the reorder buffer is full: wait for the oldest item
            item = self._held or next(items, None)
            if item is None:
                self._exhausted = True
                if self.tally.total is None:
                    self.tally.total = self._next
                return
            if item.request is None:  # a line that cannot be used: its error is its result
                self._held = None
                self._finished(self._next, Outcome(bad_line(item), failed=True))
                self._next += 1
                continue
            if self.tally.running >= self.concurrency:
                self._held = item
                return
            self._held = None
            if self._workers <= self.tally.running:
                self._workers += 1
                threading.Thread(
                    target=self._work, name=f"batch-{self._workers}", daemon=True
                ).start()
            self._tasks.put((self._next, item))
            self._next += 1
            self.tally.running += 1

    def _collect(self) -> None:
        """Wait (up to a tick) for an item to finish, then take all that have."""
        try:
            got = self._results.get(timeout=TICK)
        except queue.Empty:
            return
        while True:
            seq, outcome = got
            self.tally.running -= 1
            if isinstance(outcome, BaseException):
                raise outcome  # a bug in a worker: mint's error boundary reports it
            self._finished(seq, outcome)
            try:
                got = self._results.get_nowait()
            except queue.Empty:
                return

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
        if self.ordered:
            self._buffer[seq] = outcome.line
        elif outcome.line is not None:
            self._ready.append(outcome.line)

    def _write(self) -> None:
        """Write what may be written now, as one step a signal does not cut."""
        with critical():
            if self.ordered:
                lines = []
                while self._written in self._buffer:
                    line = self._buffer.pop(self._written)
                    self._written += 1
                    if line is not None:
                        lines.append(line)
            else:
                lines, self._ready = self._ready, []
            if lines:
                self.output.write(b"".join(lines))

    def _salvage(self) -> None:
        """After a second signal: write every result finished so far, still in
        input order, leaving out the items cut short."""
        while True:
            try:
                seq, outcome = self._results.get_nowait()
            except queue.Empty:
                break
            self.tally.running -= 1
            if isinstance(outcome, Outcome):
                self._finished(seq, outcome)
        self.tally.not_run += self.tally.running
        self.tally.running = 0
        with critical():
            lines = [line for _, line in sorted(self._buffer.items()) if line is not None]
            self._buffer.clear()
            lines += self._ready
            self._ready = []
            if lines:
                self.output.write(b"".join(lines))

    # -- worker threads --------------------------------------------------------------------
    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            seq, item = task
            outcome: Outcome | BaseException
            try:
                outcome = self.run_item(item)
            except BaseException as exc:  # handed to the main thread, raised there
                outcome = exc
            self._results.put((seq, outcome))
