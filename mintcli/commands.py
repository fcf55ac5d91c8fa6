"""The smaller commands: models, mock, journal."""

from __future__ import annotations

import time
from typing import Any

import orjson

from mintcli.terminal import Terminal


def run_models(opts: dict[str, Any], term: Terminal) -> int:
    from mintcli.chat import maybe_mock, require_key, resolve_settings
    from mintcli.protocols import get_protocol
    from mintcli.transport import Timeouts, Transport

    settings = resolve_settings(opts)
    protocol = get_protocol(settings.protocol)
    key = require_key(settings, bool(opts.get("mock")))
    with maybe_mock(bool(opts.get("mock")), term) as mock_url:
        base = (mock_url or settings.base_url).rstrip("/")
        transport = Transport(
            Timeouts(connect=settings.connect_timeout, idle=settings.idle_timeout),
            base_url=base,
            verbose=term.diag if opts.get("verbose") else None,
        )
        try:
            body = transport.get_json(base + "/models", protocol.headers(key))
        finally:
            transport.close()
    models = protocol.parse_models(body)
    if opts.get("format") == "json":
        term.write(orjson.dumps(models) + b"\n")
    else:
        term.write("".join(f"{m['id']}\n" for m in models).encode())
    return 0


def run_mock(opts: dict[str, Any]) -> int:
    from pathlib import Path

    from mintcli.errors import UsageError
    from mintcli.mock import MockOptions, MockScriptError, serve_main

    try:
        options = MockOptions(
            piece_chars=opts["piece_chars"],
            delay=opts["delay"],
            first_byte_delay=opts["first_byte_delay"],
            fault=opts.get("fault"),
            script=Path(opts["script"]) if opts.get("script") else None,
        )
        code: int = serve_main(
            opts["host"], opts["port"], options, Path(opts["log"]) if opts.get("log") else None
        )
        return code
    except MockScriptError as exc:
        raise UsageError(str(exc)) from None


def run_journal_list(fmt: str, term: Terminal) -> int:
    from mintcli.journal import unfinished

    states = unfinished()
    if fmt == "json":
        rows = [
            {
                "id": s.id,
                "created": s.header.get("created"),
                "model": s.header.get("request", {}).get("model"),
                "protocol": s.header.get("protocol"),
                "received_chars": len(s.text),
                "running": s.locked,
                "error": s.failure,
            }
            for s in states
        ]
        term.write(orjson.dumps(rows) + b"\n")
        return 0
    lines = []
    for s in states:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.header.get("created", 0)))
        model = s.header.get("request", {}).get("model", "?")
        status = "running" if s.locked else (s.failure or "unfinished")
        preview = " ".join(s.text.split())[:40]
        lines.append(f"{s.id}\t{created}\t{model}\t{len(s.text)} chars\t{status}\t{preview}\n")
    term.write("".join(lines).encode())
    return 0


def run_journal_show(ident: str, term: Terminal) -> int:
    from mintcli.journal import find

    state = find(ident)
    term.write(state.text.encode())
    return 0


def run_journal_rm(ident: str | None, all_: bool, term: Terminal) -> int:
    from mintcli.errors import UsageError
    from mintcli.journal import find, unfinished

    if all_ == bool(ident):
        raise UsageError("give either an ID or --all")
    targets = unfinished() if all_ else [find(ident)]
    for state in targets:
        if state.locked:
            term.warn(f"{state.id} is being written by a running mint; left alone")
            continue
        state.path.unlink(missing_ok=True)
    return 0
