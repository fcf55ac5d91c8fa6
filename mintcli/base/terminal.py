"""The process's streams and terminal facts, owned by one object.

Logic never asks ``sys.stdout.isatty()`` itself: it asks a :class:`Terminal`,
which tests can build over pipes or fake TTYs. Data goes to ``stdout`` as
bytes; diagnostics go to ``stderr`` as text.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import FrameType
from typing import BinaryIO, TextIO

from mintcli.base.sanitize import (
    Secrets,
    escape_bytes,
    escape_json_bytes,
    escape_line,
    escape_text,
)
from mintcli.errors import ExitCode, Interrupted, RunTimeout, write_failed


@dataclass
class Terminal:
    stdin: BinaryIO
    stdout: BinaryIO
    stderr: TextIO
    stdin_isatty: bool
    stdout_isatty: bool
    stderr_isatty: bool
    color: bool
    # stdout is a terminal that takes colour and layout (not NO_COLOR, not TERM=dumb).
    stdout_color: bool = False
    # Show control characters in stdout data as visible escapes (on a terminal,
    # unless --no-escape); pipes and files get the exact bytes.
    escape_stdout: bool = False
    # stdout is JSON text (--format json/jsonl, mint batch): escaped as JSON
    # (\u009b), so that what a terminal shows still parses.
    stdout_json: bool = False
    # The API key, kept out of everything written to stderr.
    secrets: Secrets = field(default_factory=Secrets, repr=False)
    # A one-line status shown on a TTY stderr while waiting; erased before output.
    _status_shown: bool = field(default=False, repr=False)
    # Whether the last thing put on the terminal left the cursor mid-line.
    stdout_mid_line: bool = field(default=False, repr=False)
    # The end of the last stderr_text piece that could begin the key, held back
    # until the next piece shows whether it does.
    _held: str = field(default="", repr=False)
    # stderr lines and the status line may come from several threads (mint batch).
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    # stdout's file descriptor, written with os.write (None: a stream without one).
    _fd: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        try:
            self.stdout.flush()  # from here on, nothing waits in its buffer
            self._fd = self.stdout.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None

    @classmethod
    def from_process(cls) -> Terminal:
        def tty(stream: object) -> bool:
            try:
                return bool(stream.isatty())  # type: ignore[attr-defined]
            except (AttributeError, ValueError, OSError):
                return False

        stdout_tty = tty(sys.stdout)
        stderr_tty = tty(sys.stderr)
        no_color = "NO_COLOR" in os.environ and os.environ["NO_COLOR"] != ""
        stdin, stdout, stderr = _standard_streams()
        return cls(
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            stdin_isatty=tty(sys.stdin),
            stdout_isatty=stdout_tty,
            stderr_isatty=stderr_tty,
            color=stderr_tty and not no_color and os.environ.get("TERM") != "dumb",
            stdout_color=stdout_tty and not no_color and os.environ.get("TERM") != "dumb",
            escape_stdout=stdout_tty,
        )

    # -- stdout -----------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Write data to stdout and flush it now (pieces must appear as they arrive)."""
        if self._status_shown:
            self.clear_status()
        if self.escape_stdout:
            data = escape_json_bytes(data) if self.stdout_json else escape_bytes(data)
        with critical():
            if data:
                self.stdout_mid_line = not data.endswith(b"\n")
            fd, sent = self._fd, 0
            try:
                if fd is None:
                    self.stdout.write(data)
                    self.stdout.flush()
                else:
                    # Straight to the file descriptor (one system call, as the
                    # flush was): a write that stops part of the way tells how
                    # far it got, where a buffered stream keeps the rest unsaid.
                    sent = os.write(fd, data)
                    while sent < len(data):
                        sent += os.write(fd, memoryview(data)[sent:])
            except BrokenPipeError:
                raise  # the reader left: exit 141 quietly (mintcli.cli.main)
            except (OSError, ValueError) as exc:
                # A full disk, EIO, a closed fd. What is still buffered would fail
                # again at exit: from now on stdout is /dev/null, and the first
                # failure is the one reported.
                if self.stdout is getattr(sys.stdout, "buffer", None):
                    silence_stdout()
                if isinstance(exc, ValueError):  # the stream object itself is closed
                    exc = OSError(errno.EBADF, os.strerror(errno.EBADF))
                error = write_failed("to stdout", exc)
                if fd is not None and not self.escape_stdout:  # escaped: not the data
                    error.unprinted = data[sent:]
                raise error from None

    # -- stderr -----------------------------------------------------------------
    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def _line(self, prefix: str, text: str) -> None:
        """One diagnostic line on stderr, on a line of its own. ``text`` may
        come from outside: the key is redacted and control characters escaped."""
        line = prefix + escape_line(self.secrets.redact(text)) + "\n"
        with self._lock:
            if self._status_shown:
                self.clear_status()
            if self.stdout_mid_line and self.stdout_isatty:
                # End the half-printed line the user is looking at before the message.
                # The newline goes to stderr so stdout still holds exactly the answer.
                self.stderr.write("\n")
                self.stdout_mid_line = False
            self.stderr.write(line)
            self.stderr.flush()

    def diag(self, text: str) -> None:
        """A plain diagnostic line (the -v request and response lines)."""
        self._line("", text)

    def error(self, message: str) -> None:
        self._line(self._style("mint: error:", "1;31") + " ", message)

    def warn(self, message: str) -> None:
        self._line(self._style("mint: warning:", "1;33") + " ", message)

    def note(self, message: str) -> None:
        self._line(self._style("mint:", "2") + " ", message)

    def stderr_text(self, text: str) -> None:
        """Free text on stderr (reasoning shown with --reasoning), given in pieces:
        the key is redacted over the joined pieces, so one split between two
        deltas never shows."""
        text, self._held = self.secrets.stream_part(self._held, text)
        if not text:
            return
        if self._status_shown:
            self.clear_status()
        self.stderr.write(self._style(escape_text(text), "2"))
        self.stderr.flush()

    def show_status(self, text: str) -> None:
        if not self.stderr_isatty:
            return
        with self._lock:
            line = escape_line(self.secrets.redact(text))  # may quote a server, as _line
            self.stderr.write("\r" + self._style(line, "2") + "\x1b[K")
            self.stderr.flush()
            self._status_shown = True

    def clear_status(self) -> None:
        if self._status_shown:
            with self._lock:
                self._status_shown = False
                self.stderr.write("\r\x1b[K")
                self.stderr.flush()


def _standard_streams() -> tuple[BinaryIO, BinaryIO, TextIO]:
    """stdin, stdout and stderr, also when the shell closed one (``<&-``,
    ``>&-``, ``2>&-``; Python then makes it None). Its fd is taken by
    /dev/null first, so that no file or socket mint opens later becomes fd
    0, 1 or 2 and receives what was meant for the stream. A closed stdin reads
    as empty; a closed stdout fails the first write (exit 11); a closed stderr
    takes diagnostics and drops them (the exit code still tells)."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        if stream is None:
            with suppress(OSError):
                os.open(os.devnull, os.O_RDWR)  # the lowest free fd: the closed one
    stdin = sys.stdin.buffer if sys.stdin is not None else open(os.devnull, "rb")  # noqa: SIM115
    stdout = sys.stdout.buffer if sys.stdout is not None else _ClosedOutput()
    stderr = sys.stderr if sys.stderr is not None else open(os.devnull, "w")  # noqa: SIM115
    return stdin, stdout, stderr  # type: ignore[return-value]


class _ClosedOutput:
    """Stands for a stdout the shell closed: every write fails as on a closed fd."""

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        raise OSError(errno.EBADF, "stdout is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _Terminated(BaseException):
    """Raised from the SIGTERM handler; turned into :class:`Interrupted`."""


class _SignalGuard(threading.local):
    """Per thread. Signal handlers run in the main thread and look at its
    guard only, so a worker thread's critical step (mint batch) can neither
    hold back an interrupt meant for the main thread nor receive it."""

    def __init__(self) -> None:
        self.depth = 0  # nesting of critical sections
        self.pending: Callable[[], BaseException] | None = None  # raised at their end


_guard = _SignalGuard()


def raise_outside_critical(make: Callable[[], BaseException]) -> None:
    """For signal handlers: raise ``make()`` now, or, inside a critical section,
    when it ends. Only the first signal waits; a second one is raised at once."""
    if _guard.depth and _guard.pending is None:
        _guard.pending = make
        return
    _guard.pending = None  # the one raised now stands for both
    raise make()


class _Owner:
    """Whether this process is the ``mint`` command (not a test calling into it)."""

    signals = False


def own_signals() -> None:
    """Called by the ``mint`` command: once a signal has stopped the run, later
    Ctrl-C and SIGTERM are ignored, so that keeping the journal, the last
    lines and interpreter shutdown are never cut (or print a traceback)."""
    _Owner.signals = True


def stop_taking_signals() -> None:
    """The process is on its way out after a signal: ignore further ones."""
    if _Owner.signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            # OSError: one arrived just now and Python drops it ("ignored due to
            # race condition"), which is what is wanted.
            with suppress(OSError):
                signal.signal(sig, signal.SIG_IGN)


@contextmanager
def critical() -> Iterator[None]:
    """A step that must not be cut in two: journaling a batch and printing it,
    or one write to stdout. The first Ctrl-C, SIGTERM or --timeout alarm inside
    waits for its end, so what was received is never half recorded, lost
    between the journal and stdout, or printed twice on the way out."""
    _guard.depth += 1
    try:
        yield
    finally:
        _guard.depth -= 1
        if not _guard.depth and _guard.pending is not None:
            make, _guard.pending = _guard.pending, None
            raise make()


# What a signal raises inside signals_as_errors (turned into Interrupted at its end).
SIGNAL_EXCEPTIONS = (KeyboardInterrupt, _Terminated)


@contextmanager
def signals_as_errors(first: Callable[[int], None] | None = None) -> Iterator[None]:
    """Ctrl-C and SIGTERM become :class:`Interrupted` (exit 130 / 143) instead of
    click's "Aborted!" or a silent death, so the caller can keep what it has.
    With ``first`` (mint batch), the first signal only calls ``first(signum)``
    and returns; a second one is raised."""

    stopped = False

    def stop(kind: type[BaseException]) -> BaseException:
        nonlocal stopped
        stopped = True
        stop_taking_signals()  # from here on, the way out is not cut again
        return kind()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal first
        if first is not None:
            call, first = first, None
            call(signum)
            return
        kind = KeyboardInterrupt if signum == signal.SIGINT else _Terminated
        raise_outside_critical(lambda: stop(kind))

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("interrupted") from None
    except _Terminated:
        raise Interrupted("terminated", signal_exit=ExitCode.TERMINATED) from None
    finally:
        if not (stopped and _Owner.signals):
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        _guard.depth, _guard.pending = 0, None


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """--timeout: a SIGALRM interrupts even a blocked read when the run is over
    time. (A read timeout computed from the time left would not do: httpx fixes
    a response's read timeout when its body starts, so a slow trickle could run
    past the deadline.)"""
    if not seconds:
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise_outside_critical(lambda: RunTimeout(f"gave up after {seconds:g}s (--timeout)"))

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def silence_stdout() -> None:
    """After EPIPE: point fd 1 at /dev/null so the interpreter's final flush of
    sys.stdout cannot raise "Broken pipe" again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
