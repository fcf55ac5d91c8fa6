"""``--approve``: ask on the terminal before each tool call."""

from __future__ import annotations

import os

import orjson

from mintcli.base.events import ToolCall
from mintcli.base.sanitize import clip
from mintcli.base.terminal import Terminal


def ask(call: ToolCall, term: Terminal, always: set[str]) -> bool:
    """Whether to run ``call``: y (this once), n (refused: the model is told),
    a (always this tool, for the rest of the run). Name and arguments are shown
    escaped, like everything mint writes to stderr."""
    if call.name in always:
        return True
    args = call.arguments if call.arguments_error is None else str(call.arguments)
    shown = clip(orjson.dumps(args).decode(), 500)
    while True:
        term.note(f"run tool {call.name} {shown}? [y]es / [n]o / [a]lways this tool")
        answer = _read_line(term).strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("a", "always"):
            always.add(call.name)
            return True
        if answer in ("n", "no", ""):
            return False


def _read_line(term: Terminal) -> str:
    """One line from the terminal (stdin is one: --approve checked it)."""
    fd = term.stdin.fileno()
    data = b""
    while not data.endswith(b"\n"):
        piece = os.read(fd, 1)
        if not piece:  # end of input: nothing more can be asked, so no
            return "n"
        data += piece
    return data.decode("utf-8", "replace")
