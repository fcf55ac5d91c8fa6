"""The tools' process groups do not outlive mint, even a SIGKILLed one.

A tool runs in a process group of its own, which mint kills when the call
ends. A mint that is SIGKILLed (or dies some other way it cannot catch) kills
nothing, so another process does it: a small ``/bin/sh`` loop in a session of
its own (no terminal signal reaches it), started just before the first tool.
It reads lines from a pipe whose one writer is mint: ``+PGID`` when a tool's
group starts, ``-PGID`` when mint has ended that group itself. When the pipe
reaches end-of-file, which the kernel makes happen however mint exits, it
kills every group still listed and exits.

MCP servers are listed the same way. The pipe's end in mint is
close-on-exec, so no tool or server holds it open after mint is gone. Not
covered: a group started in the instant between its start and its ``+`` line,
and a process that left its group (``setsid``).

Why not PR_SET_PDEATHSIG: it must be set in the child between fork and exec
(a ``preexec_fn``, unsafe while other threads run calls, or a wrapper
program), it reaches only that child, not what a tool starts in its group, and
it is Linux only. The watchdog costs about 0.3 ms once per run with tools, and
two small pipe writes per call.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading

# Groups are kept in a space-separated list: " 12 34 ".
SCRIPT = """
groups=' '
while read -r line; do
  pg=${line#?}
  case $line in
    +*) groups="$groups$pg " ;;
    -*) case $groups in *" $pg "*) groups="${groups%% $pg *} ${groups#* $pg }" ;; esac ;;
  esac
done
for pg in $groups; do kill -s KILL -- "-$pg" 2>/dev/null; done
"""


class Watchdog:
    """The killer of the groups a dead mint left running (one per toolbox)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._failed = False  # it could not be started or has died: mint goes on without

    def ready(self) -> None:
        """Start the watchdog (once) before a tool starts: then only a write
        stands between the tool's start and its group being known."""
        with self._lock:
            if self._fd is None and not self._failed:
                self._start()

    def add(self, pgid: int) -> None:
        """A group to kill if mint dies."""
        self.ready()
        with self._lock:
            self._send(f"+{pgid}\n")

    def remove(self, pgid: int) -> None:
        """A group mint has ended itself: its number may soon be another's."""
        with self._lock:
            self._send(f"-{pgid}\n")

    def _start(self) -> None:
        read, write = os.pipe()  # both ends close-on-exec: only the shell gets its stdin
        try:
            self._proc = subprocess.Popen(
                ["/bin/sh", "-c", SCRIPT],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                env={"PATH": os.defpath},
                start_new_session=True,
            )
        except OSError:
            os.close(write)
            self._failed = True
            return
        finally:
            os.close(read)
        os.set_blocking(write, False)  # a watchdog that stopped reading never holds mint up
        self._fd = write

    def _send(self, line: str) -> None:
        if self._fd is None or self._failed:
            return
        try:
            os.write(self._fd, line.encode())  # a few bytes: one atomic write
        except BlockingIOError:
            # Stopped (SIGSTOP) with its pipe full: mint writes no more, and keeps
            # the pipe open, since closing it would kill the tools still running.
            self._failed = True
        except OSError:  # it died (someone killed it): tools are still ended by mint
            self._failed = True
            self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """mint is done with tools: the watchdog ends (killing any group still
        listed) and is reaped."""
        with self._lock:
            self._close_fd()
            proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(1.0)
