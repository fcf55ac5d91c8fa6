"""``mint chat``: from settings to a finished run.

cli.py resolves the settings; prompt.py builds the request; this module wires
the protocol, transport, journal, sink and runner together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from mintcli.errors import ConfigError, UsageError
from mintcli.request import ChatRequest, join_url
from mintcli.settings import ChatSettings, Common
from mintcli.terminal import Terminal

if TYPE_CHECKING:
    from mintcli.accumulate import Accumulator
    from mintcli.journal import Journal, JournalState

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


def run_chat(settings: ChatSettings, words: tuple[str, ...], term: Terminal) -> None:
    from mintcli.accumulate import Accumulator
    from mintcli.journal import Journal
    from mintcli.prompt import build_request
    from mintcli.protocols import get_protocol

    state: JournalState | None = None
    if settings.resume is not None:
        settings, state = _resume(settings, words)
        request = ChatRequest.from_json(state.header["request"])
    else:
        # Usage errors (no prompt, a bad tool file) come before a missing key.
        request = build_request(settings, words, term)
    protocol = get_protocol(settings.protocol)
    protocol.check_options(request.options)
    api_key = require_key(settings, term)
    term.escape_stdout = term.stdout_isatty and settings.escape

    with maybe_mock(settings.mock) as mock_url:
        base_url = mock_url or settings.base_url
        url = join_url(base_url, protocol.chat_path)
        headers = protocol.headers(api_key)
        if settings.dry_run:
            _show_request(url, headers, protocol.build_body(request), term)
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
            journal = Journal.prepare(
                {
                    "protocol": settings.protocol,
                    "base_url": settings.base_url,
                    "mock": settings.mock,
                    "format": settings.format,
                    "request": request.as_json(),
                }
            )
        _stream(settings, request, base_url, headers, term, acc, journal, state)


def _resume(settings: ChatSettings, words: tuple[str, ...]) -> tuple[ChatSettings, JournalState]:
    """The journal a --resume continues, and the settings it was written with
    (where the command line does not say otherwise)."""
    from mintcli.journal import find

    if words or settings.messages:
        raise UsageError("--resume continues a saved reply; it takes no prompt or --messages")
    state = find(settings.resume or None)
    if state.locked:
        raise UsageError(f"reply {state.id} is still being written by another mint process")
    header = state.header
    kept = {k: header[k] for k in ("protocol", "format") if not settings.given(k) and header.get(k)}
    settings = replace(settings, **kept)
    if not settings.given("base_url") and not settings.mock:
        if header.get("mock"):
            settings = replace(settings, mock=True)
        else:
            settings = replace(settings, base_url=header["base_url"])
    return settings, state


def _show_request(url: str, headers: dict[str, str], body: object, term: Terminal) -> None:
    """--dry-run: the request as it would be sent, key redacted."""
    from mintcli.sanitize import redact_headers

    shown = {
        "method": "POST",
        "url": url,
        "headers": redact_headers({**headers, "Content-Type": "application/json"}),
        "body": body,
    }
    term.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2) + b"\n")


def _stream(
    settings: ChatSettings,
    request: ChatRequest,
    base_url: str,
    headers: dict[str, str],
    term: Terminal,
    acc: Accumulator,
    journal: Journal | None,
    state: JournalState | None,
) -> None:
    from mintcli.protocols import get_protocol
    from mintcli.record import Recorder
    from mintcli.retry import RetryPolicy
    from mintcli.runner import ChatRun, RunConfig
    from mintcli.sinks import SINKS, RunInfo
    from mintcli.transport import Transport

    protocol = get_protocol(settings.protocol)
    check = None
    if request.schema is not None:
        from mintcli.schema import compile_checker

        check = compile_checker(request.schema)
    config = RunConfig(
        protocol=protocol,
        url=join_url(base_url, protocol.chat_path),
        headers=headers,
        request=request,
        policy=RetryPolicy(settings.max_retries, settings.retry_base, settings.retry_max),
        info=RunInfo(
            protocol=settings.protocol,
            model=request.model,
            messages=list(request.messages),
            journal=journal.id if journal is not None else None,
            resumed=state.id if state is not None else None,
            schema=request.schema is not None,
        ),
        timeout=settings.timeout,
        stats=settings.stats,
        check=check,
    )
    recorder = Recorder(Path(settings.record), term.secrets) if settings.record else None
    verbose = term.diag if settings.verbose else None
    transport = Transport(base_url, settings, verbose=verbose, recorder=recorder)
    sink = SINKS[settings.format](term, settings.reasoning)
    try:
        ChatRun(config, transport=transport, sink=sink, term=term, journal=journal, acc=acc).run()
    finally:
        transport.close()
        if recorder is not None:
            recorder.close()
