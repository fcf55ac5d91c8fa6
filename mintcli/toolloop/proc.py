"""Running one tool command: no shell, arguments on stdin (a file written
whole before it starts), stdout capped, the whole process group killed on
timeout or when the run is cancelled."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mintcli.toolloop.watchdog import Watchdog

STDERR_KEEP = 4096  # the tail of a failing tool's stderr that the model is shown
EXIT_GRACE = 1.0  # how long pipes may stay open after the tool itself exited
CUT_NOTE = "[output cut at "  # how the note on a cut output begins (here and mcp.py)


@dataclass
class Outcome:
    """What one tool call gave: the text the model sees and how it ended."""

    output: str
    is_error: bool = False
    exit: int | None = None  # exit status of a command (negative: killed by that signal)
    error: str | None = None  # why the call failed, in words (None: it did not)
    truncated: bool = False
    duration_ms: int = 0

    def content(self) -> str:
        """The result as the model reads it (an error says so in words too,
        since Chat Completions has no error flag)."""
        if not self.is_error:
            return self.output
        return f"error: {self.error}" + (f"\n{self.output}" if self.output else "")

    def as_json(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "is_error": self.is_error,
            "exit": self.exit,
            "error": self.error,
            "truncated": self.truncated,
            "duration_ms": self.duration_ms,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Outcome:
        return cls(
            output=str(obj.get("output", "")),
            is_error=bool(obj.get("is_error")),
            exit=obj.get("exit"),
            error=obj.get("error"),
            truncated=bool(obj.get("truncated")),
            duration_ms=int(obj.get("duration_ms") or 0),
        )


def decode(data: bytes) -> str:
    """Tool output as text: invalid UTF-8 bytes become U+FFFD (the model gets
    text, never a crash); a character cut by the cap is dropped."""
    return data.decode("utf-8", "replace")


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)


class Capped:
    """A byte buffer that keeps the first ``limit`` bytes and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def value(self) -> bytes:
        return b"".join(self.parts)


def run_command(
    argv: list[str],
    stdin: bytes,
    env: dict[str, str],
    timeout: float,
    limit: int,
    cancel: threading.Event,
    watchdog: Watchdog | None = None,
) -> Outcome | None:
    """Run ``argv`` with ``stdin``; None when ``cancel`` was set meanwhile (the
    call did not finish and must not count as done). ``watchdog`` kills the
    tool's group if mint dies while it runs."""
    started = time.monotonic()
    if watchdog is not None:
        watchdog.ready()
    try:
        source = _input_file(stdin)
    except OSError as exc:
        return Outcome("", True, None, f"cannot hand the arguments over: {exc.strerror or exc}")
    try:
        proc = subprocess.Popen(
            argv,
            stdin=source,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # its own process group: killed as a whole
        )
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the command
        reason = getattr(exc, "strerror", None) or exc
        return Outcome("", True, None, f"cannot start {argv[0]}: {reason}")
    finally:
        os.close(source)
    if watchdog is not None:
        watchdog.add(proc.pid)
    out, err = Capped(limit), Capped(STDERR_KEEP)
    try:
        timed_out = _pump(proc, out, err, started + timeout, cancel)
        if not timed_out:
            _await_exit(proc, time.monotonic() + EXIT_GRACE, cancel)
    finally:
        kill_group(proc)  # whatever it left behind in its group goes with it
        if watchdog is not None:
            watchdog.remove(proc.pid)  # before the reap frees the number for reuse
        status = proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
    if cancel.is_set():
        return None
    took = int((time.monotonic() - started) * 1000)
    text = decode(out.value())
    outcome = Outcome(text, exit=status, truncated=out.dropped > 0, duration_ms=took)
    if timed_out:
        outcome.exit = None
        outcome.error = f"the tool did not finish within {timeout:g} s and was killed"
    elif status < 0:
        outcome.error = f"the tool was killed by signal {-status}"
    elif status > 0:
        outcome.error = f"the tool exited with status {status}"
        tail = decode(err.value()[-STDERR_KEEP:]).strip()
        if tail:
            outcome.error += f"; its stderr: {tail}"
    outcome.is_error = outcome.error is not None
    if outcome.truncated:
        note = f"{CUT_NOTE}{limit} bytes; {out.dropped} more bytes dropped]"
        outcome.output = text + ("\n" if text and not text.endswith("\n") else "") + note
    return outcome


def _input_file(data: bytes) -> int:
    """The arguments in an unnamed file, whole before the tool starts. A pipe
    fed while the tool reads would end early if mint died midway, and the tool
    would go on with half a JSON object."""
    try:
        fd = os.memfd_create("mint-tool-input", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux
        import tempfile

        with tempfile.TemporaryFile() as fh:
            fd = os.dup(fh.fileno())
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def _await_exit(proc: subprocess.Popen[bytes], until: float, cancel: threading.Event) -> None:
    """Give a tool whose pipes have closed a moment to exit by itself: many
    programs close stdout and stderr just before they exit, and a kill sent in
    between would report a finished tool as killed. The exit is not reaped
    here, so the group can still be killed by its number afterwards."""
    pause = 0.001
    while proc.returncode is None and not cancel.is_set():
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                return
        except ChildProcessError:
            return
        if time.monotonic() >= until:
            return
        time.sleep(pause)
        pause = min(pause * 2, 0.02)


def _pump(
    proc: subprocess.Popen[bytes],
    out: Capped,
    err: Capped,
    deadline: float,
    cancel: threading.Event,
) -> bool:
    """Drain stdout and stderr until both close (or the tool has exited and a
    grace period passed). True when the deadline passed first."""
    assert proc.stdout is not None and proc.stderr is not None
    sel = selectors.DefaultSelector()
    sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    for pipe in (proc.stdout, proc.stderr):
        sel.register(pipe, selectors.EVENT_READ)
    exited_at: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if now >= deadline or cancel.is_set():
                kill_group(proc)
                return now >= deadline
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > EXIT_GRACE:
                break  # a child that escaped holds the pipe open; the tool is done
            for key, _ in sel.select(min(deadline - now, 0.1)):
                fd = key.fd
                data = os.read(fd, 65536)
                if data:
                    sinks[fd].add(data)
                else:
                    sel.unregister(key.fileobj)
    finally:
        sel.close()
    return False
