"""``mint chat``: from settings to a finished run.

cli.py resolves the settings; prompt.py builds the request; this module wires
the protocol, transport, journal, sink and runner together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import orjson

from mintcli.base.sanitize import redact_url
from mintcli.base.terminal import Terminal
from mintcli.errors import ConfigError, ExitCode, Interrupted, UsageError
from mintcli.options.settings import ChatSettings, Common
from mintcli.request.model import ChatRequest, join_url
from mintcli.run.exchange import (
    Run,
    extract_mode,
    host,
    journal_header,
    notices,
    open_transport,
    run_config,
    save_exchange,
)

if TYPE_CHECKING:
    from mintcli.output.accumulate import Accumulator
    from mintcli.output.sinks import Sink
    from mintcli.session.turn import Turn
    from mintcli.storage.conversations import Pending
    from mintcli.storage.journal import Journal, JournalState

MOCK_KEY = "mock-key"


def require_key(settings: Common, term: Terminal) -> str:
    """The API key (a stand-in with --mock), which from now on is redacted from
    everything mint writes to stderr, a JSON error or a journal."""
    from urllib.parse import urlsplit

    term.secrets.add(urlsplit(settings.base_url).password)
    if settings.api_key:
        term.secrets.add(settings.api_key)
        return settings.api_key
    if settings.mock:
        return MOCK_KEY
    raise ConfigError(
        "no API key: set MINT_API_KEY, pass --api-key, or put api_key in the config file "
        "(try 'mint chat --mock ...' to use mint offline without a key)"
    )


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
    from mintcli.output.accumulate import Accumulator
    from mintcli.protocols import get_protocol
    from mintcli.storage.journal import Journal

    if turn is None and _wants_session(settings, words, term):
        from mintcli.session.loop import run_session

        return run_session(settings, words, term, run_chat)

    if (settings.extract or settings.extract_last) and settings.format not in ("text", "json"):
        raise UsageError("-x/--extract works with --format text or json")
    state: JournalState | None = None
    pending: Pending | None = None
    if settings.resume is not None:
        settings, state = _resume(settings, words)
        try:
            request = ChatRequest.from_json(state.header["request"])
            if not isinstance(request.model, str) or not isinstance(request.messages, list):
                raise TypeError("not a request")
            if settings.log and state.header.get("log"):
                from mintcli.storage.conversations import Pending, ensure_dir

                ensure_dir()
                pending = Pending.from_json(state.header["log"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UsageError(f"journal {state.id} is damaged (its header is not mint's)") from None
        shown = pending.messages if pending is not None else list(request.messages)
    else:
        # Usage errors (no prompt, a bad tool file) come before a missing key.
        settings, request, shown, pending = _prepare(settings, words, term, turn)
    protocol = get_protocol(settings.protocol)
    protocol.check_options(request.options)
    api_key = require_key(settings, term)
    term.escape_stdout = term.stdout_isatty and settings.escape
    loop = None
    if settings.tool_cmd or settings.mcp or (state is not None and "loop" in state.header):
        from mintcli.toolloop import ToolLoop  # mint runs the tools (MCP servers start now)

        loop = ToolLoop.open(settings, request, state, term)
        request = loop.request

    with maybe_mock(settings.mock) as mock_url, loop or nullcontext():
        base_url = mock_url or settings.base_url
        url = join_url(base_url, protocol.chat_path)
        headers = protocol.headers(api_key)
        if settings.dry_run:
            _show_request(url, headers, protocol.build_body(request), term)
            return
        if settings.verbose:
            from mintcli.request.attach import describe

            for line in describe(request.messages):
                term.diag(f"> {line}")
        if loop is not None:
            run = Run(settings, request, shown, pending, turn, host(base_url))
            loop.run(run, base_url, headers)
            return
        acc = Accumulator()
        journal = None
        if state is not None:
            for event in state.events():
                acc.add(event)
            acc.end_attempt()
            if settings.journal:
                journal = Journal.reopen(state.path)
        elif settings.journal:
            journal = Journal.prepare(journal_header(settings, request, pending))
        run = Run(settings, request, shown, pending, turn, host(base_url))
        _stream(run, base_url, headers, term, acc, journal, state)


def _wants_session(settings: ChatSettings, words: tuple[str, ...], term: Terminal) -> bool:
    """An interactive session: -i, or no prompt and nothing else to send, at a terminal."""
    at_terminal = term.stdin_isatty and term.stdout_isatty
    if settings.interactive and not at_terminal:
        raise UsageError("-i/--interactive needs a terminal as stdin and stdout")
    nothing_else = not (settings.messages or settings.tool_result or settings.dry_run)
    alone = not words and nothing_else and settings.resume is None
    return settings.interactive or (alone and at_terminal)


def _prepare(
    settings: ChatSettings, words: tuple[str, ...], term: Terminal, turn: Turn | None = None
) -> tuple[ChatSettings, ChatRequest, list[dict[str, Any]], Pending | None]:
    """A new exchange: its settings (a continued conversation keeps its model and
    protocol), request, the messages as saved, and where it will be saved."""
    from mintcli.request.prompt import prepare

    continued = turn.continued if turn is not None else None
    if continued is None and (settings.continue_last or settings.conversation is not None):
        from mintcli.storage.conversations import find

        if settings.continue_last and settings.conversation is not None:
            raise UsageError("give either -c/--continue or --conversation ID, not both")
        try:
            continued = find(settings.conversation)
        finally:
            notices(term)  # an import of old conversation files says what it did
    if continued is not None:
        last = continued.last
        kept = {
            k: last[k]
            for k in ("model", "protocol")
            if isinstance(last.get(k), str) and not settings.given(k)
            and not settings.given("profile")
        }  # fmt: skip
        settings = settings.replace(**kept)
    prepared = prepare(settings, words, term, continued)
    pending = None
    if settings.log and not settings.dry_run:
        from mintcli.storage.conversations import Pending, ensure_dir

        ensure_dir()  # a folder mint cannot use fails now, before anything is sent
        pending = Pending.start(continued, prepared.saved)
    return settings, prepared.request, prepared.saved, pending


def _resume(settings: ChatSettings, words: tuple[str, ...]) -> tuple[ChatSettings, JournalState]:
    """The journal a --resume continues, and the settings it was written with
    (where the command line does not say otherwise)."""
    from mintcli.storage.journal import find

    new_input = (settings.messages, settings.continue_last, settings.conversation)
    if words or any(new_input) or settings.attach or settings.tool_result or settings.schema:
        raise UsageError(
            "--resume continues a saved reply; it takes no prompt, --messages, -c, "
            "--conversation, -a, --tool-result or --schema"
        )
    state = find(settings.resume or None)
    if state.locked:
        raise UsageError(f"reply {state.id} is still being written by another mint process")
    header = state.header
    kept = {k: header[k] for k in ("protocol", "format") if not settings.given(k) and header.get(k)}
    settings = settings.replace(**kept)
    if not settings.given("base_url") and not settings.mock:
        if header.get("mock"):
            settings = settings.replace(mock=True)
        else:
            settings = settings.replace(
                base_url=_stored_url(header.get("base_url") or settings.base_url, settings)
            )
    return settings, state


def _stored_url(stored: str, settings: ChatSettings) -> str:
    """A journal's base URL, whose password was not stored: the configured URL
    when it is the same one, else the user must give it again."""
    if ":***@" not in stored:  # no password to restore
        return stored
    if redact_url(settings.base_url) == stored:
        return settings.base_url
    raise UsageError(
        f"the reply was sent to {stored}, whose password mint does not store: "
        "give it again with --base-url (or MINT_BASE_URL)"
    )


def _show_request(url: str, headers: dict[str, str], body: object, term: Terminal) -> None:
    """--dry-run: the request as it would be sent, key redacted."""
    from mintcli.base.sanitize import redact_headers
    from mintcli.request.attach import shorten

    shown = {
        "method": "POST",
        "url": redact_url(url),
        "headers": redact_headers({**headers, "Content-Type": "application/json"}),
        "body": shorten(body),  # attachments: type, size and the first bytes only
    }
    term.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2) + b"\n")


def _sink(settings: ChatSettings, term: Terminal) -> Sink:
    """The sink of --format; for text, the code block only (-x) or the Markdown
    laid out (--render), whose modules are imported only then."""
    from mintcli.output.sinks import SINKS

    render = settings.render == "always" or (settings.render == "auto" and term.stdout_color)
    if settings.format == "text" and (extract_mode(settings) or render):
        from mintcli.render.sink import text_sink

        return text_sink(term, settings.reasoning, extract_mode(settings), settings.escape)
    return SINKS[settings.format](term, settings.reasoning)


def _stream(
    run: Run,
    base_url: str,
    headers: dict[str, str],
    term: Terminal,
    acc: Accumulator,
    journal: Journal | None,
    state: JournalState | None,
) -> None:
    from mintcli.run.runner import ChatRun

    settings = run.settings
    config = run_config(run, base_url, headers, journal, state)
    transport, recorder = open_transport(settings, base_url, term)
    sink = _sink(settings, term)
    cut = False
    try:
        chat_run = ChatRun(
            config, transport=transport, sink=sink, term=term, journal=journal, acc=acc
        )
        reply = chat_run.run()
    except Interrupted as stop:
        # In a session, Ctrl-C stops this answer only: what came is kept, marked cut.
        if run.turn is None or stop.exit_code != ExitCode.INTERRUPTED:
            raise
        reply, cut = acc.reply(), True
        if journal is not None:
            journal.path.unlink(missing_ok=True)  # the conversation keeps it instead
    finally:
        transport.close()
        if recorder is not None:
            recorder.close()
    # A Ctrl-C before anything came leaves nothing to save.
    save_exchange(run, reply, term, cut=cut, kept=not cut or acc.received)
    if extract_mode(settings) and not cut:
        from mintcli.render.extract import require_block

        require_block(reply, settings.extract_last)
