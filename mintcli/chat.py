"""``mint chat``: from parsed options to a finished run.

cli.py declares the options; this module resolves settings, builds the request,
and wires transport, journal, sink and runner together.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from mintcli.errors import ConfigError, UsageError
from mintcli.kinds import not_utf8
from mintcli.prompt import StdinFacts, assemble_prompt, build_messages, load_messages
from mintcli.request import ChatRequest, ToolSpec
from mintcli.settings import ChatSettings, Common
from mintcli.terminal import Terminal

MOCK_KEY = "mock-key"


def parse_options(values: tuple[str, ...]) -> dict[str, Any]:
    """``-o KEY=VALUE``: VALUE is JSON when it parses as JSON, else a string."""
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-o/--option expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key.strip()] = value
    return out


def require_key(settings: Common) -> str:
    if settings.api_key:
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


def _request_from_header(request: dict[str, Any]) -> ChatRequest:
    return ChatRequest(
        model=request["model"],
        messages=request["messages"],
        max_tokens=request.get("max_tokens"),
        temperature=request.get("temperature"),
        tools=tuple(ToolSpec(**t) for t in request.get("tools", ())),
        tool_choice=request.get("tool_choice"),
        options=request.get("options") or {},
    )


def _request_to_header(request: ChatRequest) -> dict[str, Any]:
    return {
        "model": request.model,
        "messages": request.messages,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "tools": [
            {"name": t.name, "description": t.description, "parameters": t.parameters}
            for t in request.tools
        ],
        "tool_choice": request.tool_choice,
        "options": request.options,
    }


def build_request(
    settings: ChatSettings, words: tuple[str, ...], term: Terminal
) -> ChatRequest:
    from mintcli.tools import check_tool_choice, load_tools

    tools = load_tools(settings.tool, settings.tools)
    tool_choice = check_tool_choice(settings.tool_choice, tools)
    stdin = StdinFacts(term.stdin, term.stdin_isatty)
    history: list[dict[str, Any]] = []
    messages_src = settings.messages
    use_stdin = not settings.no_stdin
    if messages_src is not None:
        if messages_src == "-":
            if settings.no_stdin:
                raise UsageError("--messages - reads stdin, but --no-stdin was given")
            data, source = term.stdin.read(), "stdin"
            use_stdin = False
        else:
            try:
                data, source = Path(messages_src).expanduser().read_bytes(), messages_src
            except OSError as exc:
                raise UsageError(f"--messages {messages_src}: {exc.strerror or exc}") from None
        history = load_messages(data, source)
    if any(not_utf8(w) for w in words):
        raise UsageError("the prompt is not valid UTF-8 text")
    if "-" in words and messages_src == "-":
        raise UsageError("stdin cannot be both --messages - and the '-' prompt word")
    prompt = assemble_prompt(
        words,
        stdin,
        use_stdin=use_stdin,
        stdin_timeout=settings.stdin_timeout,
        warn=term.warn,
    )
    if prompt is None and not history:
        raise UsageError(
            "no prompt: give it as arguments, on stdin, or with --messages",
            usage="Usage: mint chat [OPTIONS] [PROMPT]...",
        )
    messages = build_messages(history, settings.system, prompt)
    if not any(m.get("role") != "system" for m in messages):
        raise UsageError("--messages holds no user message and no prompt was given")
    return ChatRequest(
        model=settings.model,
        messages=messages,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        tools=tools,
        tool_choice=tool_choice,
        options=parse_options(settings.option),
    )


def run_chat(settings: ChatSettings, words: tuple[str, ...], term: Terminal) -> None:
    from mintcli import journal as journal_mod
    from mintcli.accumulate import Accumulator
    from mintcli.events import ToolCall
    from mintcli.protocols import get_protocol
    from mintcli.retry import RetryPolicy
    from mintcli.runner import ChatRun
    from mintcli.sinks import JSONSink, make_sink
    from mintcli.transport import Transport, redact_headers

    resume_id = settings.resume
    state = None
    if resume_id is not None:
        if words or settings.messages:
            raise UsageError("--resume continues a saved reply; it takes no prompt or --messages")
        state = journal_mod.find(resume_id or None)
        if state.locked:
            raise UsageError(f"reply {state.id} is still being written by another mint process")
        header = state.header
        kept = {
            k: header[k] for k in ("protocol", "format") if not settings.given(k) and header.get(k)
        }
        settings = replace(settings, **kept)
        if not settings.given("base_url") and not settings.mock:
            if header.get("mock"):
                settings = replace(settings, mock=True)
            else:
                settings = replace(settings, base_url=header["base_url"])
        request = _request_from_header(header["request"])
    else:
        request = None

    protocol = get_protocol(settings.protocol)
    if request is None:
        # Usage errors (no prompt, a bad tool file) come before a missing key.
        request = build_request(settings, words, term)
    api_key = require_key(settings)

    with ExitStack() as stack:
        mock_url = stack.enter_context(maybe_mock(settings.mock))
        base_url = (mock_url or settings.base_url).rstrip("/")
        url = base_url + protocol.chat_path
        headers = protocol.headers(api_key)

        if settings.dry_run:
            shown = {
                "method": "POST",
                "url": url,
                "headers": redact_headers({**headers, "Content-Type": "application/json"}),
                "body": protocol.build_body(request),
            }
            term.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2) + b"\n")
            return

        acc = Accumulator()
        journal = None
        if state is not None:
            acc.text.append(state.text)
            acc.reasoning.append(state.reasoning)
            acc.tool_calls = [
                ToolCall(c["id"], c["name"], c["arguments"], c.get("arguments_error"))
                for c in state.tool_calls
            ]
            acc.usage.input_tokens = state.usage.get("input_tokens")
            acc.usage.output_tokens = state.usage.get("output_tokens")
            acc.finish_reason = state.finish_reason
            if settings.journal:
                journal = journal_mod.Journal.reopen(state.path)
        elif settings.journal:
            journal = journal_mod.Journal.create(
                {
                    "protocol": settings.protocol,
                    "base_url": settings.base_url,
                    "mock": settings.mock,
                    "format": settings.format,
                    "request": _request_to_header(request),
                }
            )

        verbose = term.diag if settings.verbose else None
        transport = Transport(url, settings, verbose=verbose)
        stack.callback(transport.close)
        sink = make_sink(settings.format, term, settings.reasoning)
        if isinstance(sink, JSONSink):
            sink.messages = list(request.messages)
            sink.meta = {"model": request.model, "protocol": settings.protocol}
        start_info: dict[str, Any] = {"protocol": settings.protocol, "model": request.model}
        if journal is not None:
            start_info["journal"] = journal.id
        if state is not None:
            start_info["resumed"] = state.id
        run = ChatRun(
            term=term,
            protocol=protocol,
            request=request,
            url=url,
            headers=headers,
            transport=transport,
            sink=sink,
            policy=RetryPolicy(settings.max_retries, settings.retry_base, settings.retry_max),
            journal=journal,
            acc=acc,
            resumed_from=state.id if state is not None else None,
            timeout=settings.timeout,
            stats=settings.stats,
            start_info=start_info,
        )
        run.run()
