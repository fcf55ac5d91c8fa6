"""One exchange with the gateway, as ``mint chat`` and the tool loop run it.

:func:`send` takes a prepared exchange (``request/build.py``) down to the wire:
the protocol, the key, the gateway (``--mock`` or the configured one), the
journal, the transport, the sink and the runner, then saves the finished
exchange. Its parts serve the tool loop's steps too: :class:`Run`,
:func:`run_config` and :func:`save_exchange` (the journal and the transport open
themselves: ``Journal.start``, ``Transport.open``).

Imports mint's request, settings and terminal modules; the runner, transport,
protocol, sink and storage modules are imported when used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import orjson

from mintcli.base.sanitize import redact_url
from mintcli.base.terminal import Terminal
from mintcli.errors import ExitCode, Interrupted, MintError
from mintcli.options.settings import ChatSettings
from mintcli.request.model import ChatRequest, join_url

if TYPE_CHECKING:
    from types import TracebackType

    from mintcli.output.accumulate import Accumulator, Reply
    from mintcli.output.sinks import Sink
    from mintcli.request.build import Prepared
    from mintcli.run.runner import RunConfig
    from mintcli.session.turn import Turn
    from mintcli.storage.conversations import Pending
    from mintcli.storage.journal import Journal, JournalState


@dataclass(frozen=True)
class Run:
    """What one run of mint chat streams, and where its exchange is saved."""

    settings: ChatSettings
    request: ChatRequest
    shown: list[dict[str, Any]]  # the conversation before the reply, for --format json
    pending: Pending | None  # saved when the reply finishes (None: --no-log)
    url: str  # where the request is posted: the gateway's chat path
    turn: Turn | None = None  # a turn of an interactive session (session/)
    started: float = field(default_factory=time.monotonic)  # for the exchange's duration

    @property
    def host(self) -> str | None:
        """The gateway's host name, kept with the exchange."""
        return urlsplit(self.url).hostname


def extract_mode(settings: ChatSettings) -> str | None:
    """-x/--extract-last: which fenced code block is the output, if any."""
    return "last" if settings.extract_last else "first" if settings.extract else None


def run_config(
    run: Run,
    headers: dict[str, str],
    journal: Journal | None,
    state: JournalState | None,
) -> RunConfig:
    """What the runner needs for ``run.request`` (one step of a tool loop too)."""
    from mintcli.output.sinks import RunInfo
    from mintcli.protocols import get_protocol
    from mintcli.run.retry import RetryPolicy
    from mintcli.run.runner import RunConfig

    settings, request, pending = run.settings, run.request, run.pending
    protocol = get_protocol(settings.protocol)
    check = None
    if request.schema is not None:
        from mintcli.request.schema import compile_checker

        check = compile_checker(request.schema)
    return RunConfig(
        protocol=protocol,
        url=run.url,
        headers=headers,
        request=request,
        policy=RetryPolicy(settings.max_retries, settings.retry_base, settings.retry_max),
        info=RunInfo(
            protocol=settings.protocol,
            model=request.model,
            messages=run.shown,
            journal=journal.id if journal is not None else None,
            resumed=state.id if state is not None else None,
            resumed_events=state.events() if state is not None else [],
            owed=state.unprinted if state is not None else b"",
            conversation=pending.id if pending is not None else None,
            schema=request.schema is not None,
            extract=extract_mode(settings),
        ),
        timeout=settings.timeout,
        stats=settings.stats,
        check=check,
    )


def save_exchange(
    run: Run,
    reply: Reply,
    term: Terminal,
    chain: list[dict[str, Any]] | None = None,
    *,
    cut: bool = False,
    kept: bool = True,
) -> str | None:
    """Save the finished exchange (with a tool loop, ``chain``: the steps'
    replies and tool results before the last reply; ``cut``: an answer a
    session's Ctrl-C stopped, ``kept``: whether anything of it came) and tell
    a session's turn how it ended. The conversation ID it was saved under."""
    from mintcli.request.model import assistant_message

    saved = None
    try:
        if run.pending is not None and kept:
            saved = _save(run, run.pending, reply, term, chain, cut)
    finally:  # a save that failed keeps the turn in a session's memory all the same
        if run.turn is not None:
            whole = [*run.shown, *(chain or ()), assistant_message(reply)]
            run.turn.ended(whole if kept else None, saved, cut)
    return saved


def _save(
    run: Run,
    pending: Pending,
    reply: Reply,
    term: Terminal,
    chain: list[dict[str, Any]] | None,
    cut: bool,
) -> str:
    from dataclasses import replace

    from mintcli.request.model import assistant_message

    # Neither a key typed or piped into a prompt nor one the server echoed is
    # stored: once per save, over the messages (a -c then sends "[redacted]").
    secrets = term.secrets
    pending = replace(pending, messages=secrets.redact_json([*pending.messages, *(chain or ())]))
    exchange = {
        "model": secrets.redact(reply.model or run.request.model),  # a key given as -m
        "protocol": run.settings.protocol,
        "usage": reply.usage,
        "finish_reason": reply.finish_reason,
        "host": run.host,
        "duration": round(time.monotonic() - run.started, 3),
        **({"cut": True} if cut else {}),
    }
    # the text in pieces: a long reply is never put together just to be saved
    text = secrets.redact_pieces(reply.text_pieces()) if reply.has_text else None
    message = secrets.redact_json(assistant_message(reply, text=False))
    try:
        saved = pending.save(message, exchange, text)
    finally:
        from mintcli.storage.conversations import take_notices

        for note in take_notices():  # what an import of old conversation files did
            term.warn(note)
    if saved != pending.id:
        term.warn(
            f"conversation {pending.id} was continued elsewhere while this reply "
            f"streamed; this exchange is saved as conversation {saved}"
        )
    elif run.settings.verbose:
        term.note(f"saved as conversation {saved}")
    return saved


class Loop(Protocol):
    """What runs the tools a reply calls (``toolloop.ToolLoop``, which stands above
    the run and is handed down to it): the request offering the tools, a context
    that stops them, and the run of every step."""

    request: ChatRequest

    def __enter__(self) -> Any: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def run(self, run: Run, base_url: str, headers: dict[str, str]) -> None: ...


OpenLoop = Callable[[ChatSettings, ChatRequest, "JournalState | None", Terminal], Loop]


def send(
    prepared: Prepared,
    term: Terminal,
    turn: Turn | None = None,
    tools: OpenLoop | None = None,
    mock_url: str | None = None,
) -> None:
    """Send a prepared exchange and stream its reply. ``tools``: what opens the
    tool loop (``ToolLoop.open``) when mint runs the tools; ``mock_url``: the
    in-process mock gateway of --mock."""
    from mintcli.output.accumulate import Accumulator
    from mintcli.protocols import get_protocol
    from mintcli.storage.journal import Journal

    settings, request, state = prepared.settings, prepared.request, prepared.state
    protocol = get_protocol(settings.protocol)
    protocol.check_options(request.options, schema=request.schema is not None)
    api_key = settings.key()  # a missing key is told before any tool starts
    if state is not None and state.hidden:
        term.warn("the reply held a key this run does not have; [redacted] stands for it")
    loop: Loop | None = None
    if tools is not None:
        loop = tools(settings, request, state, term)  # MCP servers start now
        request = loop.request
    with loop or nullcontext():
        base_url = mock_url or settings.base_url
        url = join_url(base_url, protocol.chat_path)
        headers = protocol.headers(api_key)
        if settings.dry_run:
            from mintcli.base.sanitize import redact_headers
            from mintcli.request.attach import shorten

            shown = {
                "method": "POST",
                "url": redact_url(url),
                "headers": redact_headers({**headers, "Content-Type": "application/json"}),
                "body": shorten(protocol.build_body(request)),  # attachments: the first bytes
            }
            # a key typed into -o or an attachment URL is not shown either
            term.write(orjson.dumps(term.secrets.redact_json(shown), option=orjson.OPT_INDENT_2))
            term.write(b"\n")
            return
        if settings.verbose:
            from mintcli.request.attach import describe

            for line in describe(request.messages):
                term.diag(f"> {line}")
        run = Run(settings, request, prepared.shown, prepared.pending, url, turn)
        if loop is not None:
            loop.run(run, base_url, headers)
            return
        acc = Accumulator()
        journal = None
        if state is not None:
            for event in state.events():
                acc.add(event)
            acc.end_attempt()
            if settings.journal:
                journal = Journal.reopen(state, term.secrets)
        elif settings.journal:
            journal = Journal.start(settings, request, prepared.pending, secrets=term.secrets)
        _stream(run, base_url, headers, term, acc, journal, state)


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
    from mintcli.wire.transport import Transport

    settings = run.settings
    config = run_config(run, headers, journal, state)
    transport, recorder = Transport.open(settings, base_url, term, settings.record)
    sink = _sink(settings, term)
    cut = False
    try:
        chat_run = ChatRun(
            config,
            transport=transport,
            sink=sink,
            term=term,
            journal=journal,
            acc=acc,
            saved_after=run.pending is not None,
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
    # A Ctrl-C before any words of the answer came (reasoning only) leaves nothing
    # to save: an assistant message without text would break the conversation.
    # The journal of a whole reply goes only once it is saved: a kill or a full
    # disk meanwhile leaves it for --resume, which saves it without asking again.
    try:
        save_exchange(run, reply, term, cut=cut, kept=not cut or reply.has_words)
    except BaseException as error:
        if journal is not None and not cut:
            journal.close(remove=False)
            if isinstance(error, MintError) and journal.exists:
                note = f"the reply is kept; save it with: mint chat --resume {journal.id}"
                error.notes.append(note)
        raise
    if journal is not None:
        journal.close(remove=True)
    if extract_mode(settings) and not cut:
        from mintcli.render.extract import require_block

        require_block(reply, settings.extract_last)
