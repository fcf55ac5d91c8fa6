"""Reading the user's prompt at the terminal.

Line editing and history come from the standard ``readline`` module where the
interpreter has one (GNU readline or libedit); the history is kept in
``$XDG_STATE_HOME/mint/history`` (0600, the last 1,000 lines), so it carries
over from one session to the next. Multi-line input: end a line with ``\\`` to
go on on the next line, or enclose lines between two lines holding only
``\"\"\"``. Ctrl-C clears the line being typed; Ctrl-D on an empty line ends
the session.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from mintcli.storage.paths import private_dir, state_dir

FENCE = '"""'
HISTORY_LINES = 1000


def history_path() -> Path:
    return state_dir() / "history"


class LineReader:
    def __init__(self, color: bool) -> None:
        self.readline: Any = None
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
                self.path = history_path()
                private_dir(self.path.parent)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600))
                readline.read_history_file(str(self.path))
            readline.set_history_length(HISTORY_LINES)

    def read(self) -> str | None:
        """The next prompt (or slash command); None when Ctrl-C cleared the line.
        Raises EOFError at Ctrl-D."""
        try:
            first = self._line(self.prompt)
            if first.strip() == FENCE:
                lines = []
                while (line := self._line(self.more)).strip() != FENCE:
                    lines.append(line)
                return "\n".join(lines)
            lines = [first]
            while lines[-1].endswith("\\"):
                lines[-1] = lines[-1][:-1]
                lines.append(self._line(self.more))
            return "\n".join(lines)
        except KeyboardInterrupt:
            print()  # the cleared line stays on the screen; a fresh prompt below it
            return None

    def _line(self, prompt: str) -> str:
        line = input(prompt)
        if self.readline is not None and self.path is not None and line.strip():
            if "\n" in line:
                return line  # a paste: recalled in this session only (the file is one per line)
            with contextlib.suppress(OSError, AttributeError):
                # One line at a time (which also trims the file to the history length),
                # so a session that is killed keeps its history too.
                self.readline.append_history_file(1, str(self.path))
        return line
