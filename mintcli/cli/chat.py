"""``mint chat``: from settings to a finished run, in three calls.

``request/build.py`` prepares the exchange (the request and the conversation
as it is saved; ``run/resume.py`` a journal's, for --resume); ``run/exchange.py``
sends it and streams the reply. This module picks the tool loop (``toolloop/``) and the
in-process mock gateway (``mock/``), which stand above the run and are handed
down to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mintcli.base.terminal import Terminal
from mintcli.errors import UsageError
from mintcli.options.settings import ChatSettings

if TYPE_CHECKING:
    from mintcli.session.turn import Turn


@contextmanager
def maybe_mock(enabled: bool) -> Iterator[str | None]:
    """With --mock, an in-process mock gateway on a free loopback port."""
    if not enabled:
        yield None
        return
    from mintcli.mock import MockServer

    server = MockServer().start()
    try:
        yield server.base_url
    finally:
        # mint exits right after this: let the serving thread (a daemon) end with
        # the process instead of waiting up to a poll interval for its shutdown.
        server.release()


def run_chat(
    settings: ChatSettings, words: tuple[str, ...], term: Terminal, turn: Turn | None = None
) -> None:
    """One exchange; ``turn``: one turn of an interactive session (session/)."""
    from mintcli.request.build import prepare
    from mintcli.run.exchange import send
    from mintcli.run.resume import resume

    extract = settings.extract or settings.extract_last
    if extract and settings.format not in ("text", "json"):
        raise UsageError("-x/--extract works with --format text or json")
    if extract and (settings.tool_cmd or settings.mcp):
        declared = f"; {d}" if (d := settings.tools_from_file()) else ""
        raise UsageError(
            f"-x/--extract does not work with the tool loop (--tool-cmd, --mcp{declared})"
        )
    if settings.resume is not None:
        prepared = resume(settings, words, term.secrets)  # the journal's exchange
    else:
        prepared = prepare(settings, words, term, turn)
    settings, state = prepared.settings, prepared.state
    tools = None
    if settings.tool_cmd or settings.mcp or (state is not None and "loop" in state.header):
        from mintcli.toolloop import ToolLoop  # mint runs the tools

        tools = ToolLoop.open
    with maybe_mock(settings.mock) as mock_url:
        send(prepared, term, turn, tools, mock_url)


def wants_session(settings: ChatSettings, words: tuple[str, ...], term: Terminal) -> bool:
    """An interactive session: -i, or no prompt and nothing else to send, at a terminal."""
    at_terminal = term.stdin_isatty and term.stdout_isatty
    if settings.interactive and not at_terminal:
        raise UsageError("-i/--interactive needs a terminal as stdin and stdout")
    nothing_else = not (settings.messages or settings.tool_result or settings.dry_run)
    alone = not words and nothing_else and settings.resume is None
    return settings.interactive or (alone and at_terminal)
