"""Reading the user's prompt at the terminal.

Line editing and history come from the standard ``readline`` module where the
interpreter has one (GNU readline or libedit); the history is kept in
``$XDG_STATE_HOME/mint/history`` (0600, the last 1,000 lines), so it carries
over from one session to the next. Multi-line input: end a line with ``\\`` to
go on on the next line, or enclose lines between two lines holding only
``\"\"\"``. Ctrl-C clears the line being typed; Ctrl-D on an empty line ends
the session (also when typed while the answer before streamed); either key
inside an unfinished block of lines drops the block with a note.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mintcli.storage.paths import private_dir, state_dir

FENCE = '"""'
HISTORY_LINES = 1000


def history_path() -> Path:
    return state_dir() / "history"


def _ours(info: os.stat_result) -> bool:
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()


def open_history(path: Path) -> str | None:
    """Make sure ``path`` is a regular file of ours, mode 0600 (created if
    missing); otherwise why it is not used. Not followed if a symlink (the
    prompts would go to its target) and never waited on (a FIFO would block
    the open until someone wrote to it)."""
    flags = os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    refused = f"no history kept: {path} is not a regular file of yours"
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        return refused if exc.errno == errno.ELOOP else f"no history kept: {path}: {exc.strerror}"
    try:
        if not _ours(os.fstat(fd)):
            return refused
        os.fchmod(fd, 0o600)  # an older file may be readable by others
    finally:
        os.close(fd)
    return None


class LineReader:
    def __init__(self, color: bool, note: Callable[[str], None] = print) -> None:
        self.readline: Any = None
        self.note = note
        try:
            import readline
        except ImportError:  # an interpreter built without it: plain input() still works
            readline = None  # type: ignore[assignment]
        self.readline = readline
        # \001 and \002 tell readline that what they enclose takes no room on the line.
        style = ("\001\x1b[1;32m\002", "\001\x1b[0m\002") if color else ("", "")
        self.prompt = f"{style[0]}›{style[1]} "
        self.more = f"{style[0]}…{style[1]} "
        self.path: Path | None = None
        if readline is not None:
            with contextlib.suppress(OSError, Exception):
                path = history_path()
                private_dir(path.parent)
                why = open_history(path)
                if why is not None:
                    note(why)
                else:
                    self.path = path
                    readline.read_history_file(str(path))
            readline.set_history_length(HISTORY_LINES)

    def read(self) -> str | None:
        """The next prompt (or slash command); None when Ctrl-C cleared the line
        or Ctrl-C/Ctrl-D dropped an unfinished block of lines. Raises EOFError
        at Ctrl-D on an empty prompt, or typed while the answer before streamed."""
        if self._eof_typed_ahead():
            # shown as at a prompt where Ctrl-D was typed (the caller ends the line)
            print(self.prompt.replace("\001", "").replace("\002", ""), end="", flush=True)
            raise EOFError
        try:
            first = self._line(self.prompt)
        except KeyboardInterrupt:
            print()  # the cleared line stays on the screen; a fresh prompt below it
            return None
        lines = [first]
        try:
            if first.strip() == FENCE:
                lines = []
                while (line := self._line(self.more)).strip() != FENCE:
                    lines.append(line)
                return "\n".join(lines)
            while lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1]
                lines.append(self._line(self.more))
            return "\n".join(lines)
        except (KeyboardInterrupt, EOFError):
            # An unfinished block is dropped, never sent half (nor does Ctrl-D
            # end the session from inside it): back to a fresh prompt, saying so.
            print()
            block = 'the """ block was' if first.strip() == FENCE else "the lines ending in \\ were"
            self.note(f"{block} not sent")
            return None

    def _eof_typed_ahead(self) -> bool:
        """Whether a Ctrl-D was typed on an empty line while the answer before
        streamed (the terminal in line mode then holds an end of file, and
        nothing before it). Left there, readline would read it as a NUL once
        it takes the terminal, and drop it without a word; taken here, it ends
        the session as a Ctrl-D at the prompt does. Typed-ahead text is left to
        readline."""
        import fcntl
        import select
        import struct
        import sys
        import termios

        try:
            fd = sys.stdin.fileno()
            if not termios.tcgetattr(fd)[3] & termios.ICANON:
                return False
            if not select.select([fd], [], [], 0)[0]:
                return False
            (waiting,) = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))
            # readable with no byte to read before it: an end of file comes first
            return waiting == 0 and os.read(fd, 1) == b""
        except (OSError, ValueError, termios.error):
            return False

    def _line(self, prompt: str) -> str:
        line = input(prompt)
        if self.readline is not None and self.path is not None and line.strip():
            if "\n" in line:
                return line  # a paste: recalled in this session only (the file is one per line)
            with contextlib.suppress(OSError, AttributeError):
                if not _ours(os.lstat(self.path)):  # swapped for a link since: stop
                    self.path = None
                    return line
                # One line at a time (which also trims the file to the history length),
                # so a session that is killed keeps its history too.
                self.readline.append_history_file(1, str(self.path))
        return line
