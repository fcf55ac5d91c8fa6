"""One exchange with the gateway, as ``mint chat`` and the tool loop run it:
the run's settings and request (:class:`Run`), the runner's configuration,
the transport, the journal header, and saving the finished exchange.

Imports mint's request, settings and terminal modules; the runner, transport,
protocol and conversation modules are imported when used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mintcli.base.sanitize import redact_url
from mintcli.base.terminal import Terminal
from mintcli.options.settings import ChatSettings
from mintcli.request.model import ChatRequest, join_url

if TYPE_CHECKING:
    from mintcli.output.accumulate import Reply
    from mintcli.run.runner import RunConfig
    from mintcli.session.turn import Turn
    from mintcli.storage.conversations import Pending
    from mintcli.storage.journal import Journal, JournalState
    from mintcli.wire.record import Recorder
    from mintcli.wire.transport import Transport


@dataclass(frozen=True)
class Run:
    """What one run of mint chat streams, and where its exchange is saved."""

    settings: ChatSettings
    request: ChatRequest
    shown: list[dict[str, Any]]  # the conversation before the reply, for --format json
    pending: Pending | None  # saved when the reply finishes (None: --no-log)
    turn: Turn | None = None  # a turn of an interactive session (session/)
    host: str | None = None  # the gateway's host name, kept with the exchange
    started: float = field(default_factory=time.monotonic)  # for the exchange's duration


def host(base_url: str) -> str | None:
    from urllib.parse import urlsplit

    return urlsplit(base_url).hostname


def notices(term: Terminal) -> None:
    """What the log database has to say (an import of old conversation files)."""
    from mintcli.storage.conversations import take_notices

    for note in take_notices():
        term.warn(note)


def extract_mode(settings: ChatSettings) -> str | None:
    """-x/--extract-last: which fenced code block is the output, if any."""
    return "last" if settings.extract_last else "first" if settings.extract else None


def journal_header(
    settings: ChatSettings, request: ChatRequest, pending: Pending | None
) -> dict[str, Any]:
    """What a journal needs to continue the run (never the API key)."""
    return {
        "protocol": settings.protocol,
        "base_url": redact_url(settings.base_url),  # never a password
        "mock": settings.mock,
        "format": settings.format,
        "request": request.as_json(),
        "log": pending.as_json() if pending is not None else None,
    }


def run_config(
    run: Run,
    base_url: str,
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
        url=join_url(base_url, protocol.chat_path),
        headers=headers,
        request=request,
        policy=RetryPolicy(settings.max_retries, settings.retry_base, settings.retry_max),
        info=RunInfo(
            protocol=settings.protocol,
            model=request.model,
            messages=run.shown,
            journal=journal.id if journal is not None else None,
            resumed=state.id if state is not None else None,
            conversation=pending.id if pending is not None else None,
            schema=request.schema is not None,
            extract=extract_mode(settings),
        ),
        timeout=settings.timeout,
        stats=settings.stats,
        check=check,
    )


def open_transport(
    settings: ChatSettings, base_url: str, term: Terminal
) -> tuple[Transport, Recorder | None]:
    from mintcli.wire.transport import Transport

    recorder = None
    if settings.record:
        from mintcli.wire.record import Recorder  # only then: its module is not needed otherwise

        recorder = Recorder(Path(settings.record), term.secrets)
    verbose = term.diag if settings.verbose else None
    return Transport(base_url, settings, verbose=verbose, recorder=recorder), recorder


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

    settings, request, pending = run.settings, run.request, run.pending
    saved = None
    if pending is not None and kept:
        if chain:
            from dataclasses import replace

            pending = replace(pending, messages=[*pending.messages, *chain])
        exchange = {
            "model": reply.model or request.model,
            "protocol": settings.protocol,
            "usage": reply.usage,
            "finish_reason": reply.finish_reason,
            "host": run.host,
            "duration": round(time.monotonic() - run.started, 3),
            **({"cut": True} if cut else {}),
        }
        # the text in pieces: a long reply is never put together just to be saved
        text = reply.text_pieces() if reply.has_text else None
        try:
            saved = pending.save(assistant_message(reply, text=False), exchange, text)
        finally:
            notices(term)
        if saved != pending.id:
            term.warn(
                f"conversation {pending.id} was continued elsewhere while this reply "
                f"streamed; this exchange is saved as conversation {saved}"
            )
        elif settings.verbose:
            term.note(f"saved as conversation {saved}")
    if run.turn is not None:
        whole = [*run.shown, *(chain or ()), assistant_message(reply)]
        run.turn.ended(whole if kept else None, saved, cut)
    return saved
