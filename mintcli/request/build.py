"""Request assembly in one pass: from a run's settings and argv words to a
:class:`Prepared` exchange, the finished request handed down to the run.

:func:`prepare` reads each input once, in this order, and checks it as it
comes: the conversation continued (``-c``/``--conversation``, or a session's),
tool definitions and ``--tool-choice``, who reads stdin, the history
(``--messages``), attachments (``-a``), tool results (``--tool-result``), the
prompt (argv and stdin), then the messages, the request and ``--schema``.
:func:`resume` gives the same for ``--resume``, from the journal's header.

Rules of the prompt (also in the README and man page):
* argv words are joined with spaces; a ``-`` word stands for stdin at that place.
* If stdin is not a terminal and ``--no-stdin`` was not given, stdin is read too:
  argv is the instruction and stdin the material, joined as
  ``INSTRUCTION + "\\n\\n" + MATERIAL``.
* With a prompt in argv, mint waits at most ``--stdin-timeout`` seconds (default
  1) for stdin to deliver its first byte or end; a stdin that stays silent (an
  idle pipe left open by a CI runner) is ignored with a warning. Writing ``-``
  makes mint wait for stdin as long as it takes.
* Without a prompt in argv, stdin is the prompt and is read to its end.
"""

from __future__ import annotations

import select
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from mintcli.base.capped import TEXT_BYTES, over, read_at_most, read_named
from mintcli.errors import UsageError
from mintcli.options.kinds import not_utf8
from mintcli.request.model import ChatRequest, parse_options

if TYPE_CHECKING:
    from mintcli.base.terminal import Terminal
    from mintcli.options.settings import ChatSettings
    from mintcli.session.turn import Turn
    from mintcli.storage.conversations import Pending
    from mintcli.storage.journal import JournalState

USAGE = "Usage: mint chat [OPTIONS] [PROMPT]..."


@dataclass(frozen=True)
class Prepared:
    """What one exchange sends, and where it is saved."""

    settings: ChatSettings  # as it runs: a continued conversation keeps its model and protocol
    request: ChatRequest
    shown: list[dict[str, Any]]  # the conversation before the reply, as it is saved
    pending: Pending | None  # saved when the reply finishes (None: --no-log)
    state: JournalState | None = None  # --resume: the journal it continues


def prepare(
    settings: ChatSettings, words: tuple[str, ...], term: Terminal, turn: Turn | None = None
) -> Prepared:
    """A new exchange: the request for the prompt (argv, stdin), the earlier
    messages (a continued conversation or --messages), tool results and
    attachments. Usage errors come here, before anything is sent."""
    from mintcli.request.attach import load_attachment, resolve_messages
    from mintcli.request.messages import (
        build_messages,
        called_ids,
        load_messages,
        tool_messages,
        user_message,
    )
    from mintcli.request.tools import check_tool_choice, load_tools

    # The conversation continued, which keeps its model and protocol.
    continued = turn.continued if turn is not None else None
    if continued is None and (settings.continue_last or settings.conversation is not None):
        from mintcli.storage.conversations import find, take_notices

        if settings.continue_last and settings.conversation is not None:
            raise UsageError("give either -c/--continue or --conversation ID, not both")
        try:
            continued = find(settings.conversation)
        finally:
            for note in take_notices():  # an import of old conversation files says what it did
                term.warn(note)
    if continued is not None:
        last = continued.last
        kept = {
            k: last[k]
            for k in ("model", "protocol")
            if isinstance(last.get(k), str) and not settings.given(k)
            and not settings.given("profile")
        }  # fmt: skip
        settings = settings.replace(**kept)

    tools = load_tools(settings.tool, settings.tools)
    tool_choice = check_tool_choice(settings.tool_choice, tools)
    if any(not_utf8(w) for w in words):
        raise UsageError("the prompt is not valid UTF-8 text")

    # Who reads stdin: one option at most, and none with --no-stdin.
    readers = ["--messages -"] if settings.messages == "-" else []
    readers += ["-a -"] * list(settings.attach).count("-")
    readers += [f"--tool-result {v}" for v in settings.tool_result if v.partition("=")[2] == "@-"]
    readers += ["the '-' prompt word"] if "-" in words else []
    if len(readers) > 1:
        raise UsageError(f"stdin cannot be both {readers[0]} and {readers[1]}")
    if readers and settings.no_stdin:
        raise UsageError(f"{readers[0]} reads stdin, but --no-stdin was given")

    # The history: a continued conversation's messages, or --messages.
    history: list[dict[str, Any]] = []
    where = ""
    if continued is not None:
        if settings.messages is not None:
            raise UsageError("--messages cannot be combined with -c or --conversation")
        history, where = continued.messages, f"conversation {continued.id}"
    elif settings.messages is not None:
        source = "stdin" if settings.messages == "-" else settings.messages
        data = read_named(settings.messages, f"--messages {source}", term.stdin)
        history, where = load_messages(data, source), f"--messages {source}"

    if "-" in settings.attach and not [w for w in words if w != "-"]:
        raise UsageError("-a - reads the attachment from stdin: give the prompt as arguments")
    attachments = [load_attachment(spec, term.stdin) for spec in settings.attach]

    # Tool results: one for each call the last reply made (both APIs refuse a
    # request that leaves a call unanswered).
    ids = called_ids(history)
    results: list[dict[str, Any]] = []
    if not settings.tool_result and continued is not None and ids:
        raise UsageError(
            f"the last reply made tool calls ({', '.join(ids)}): send their results "
            "with --tool-result CALL_ID=RESULT, one for each"
        )
    if settings.tool_result:
        if not ids:
            raise UsageError(
                "--tool-result: the last reply of the conversation made no tool call "
                "(continue one with -c or --conversation ID)"
            )
        given: dict[str, str] = {}
        for value in settings.tool_result:
            call_id, sep, result = value.partition("=")
            if not sep or not call_id:
                raise UsageError(
                    f"--tool-result expects CALL_ID=JSON or CALL_ID=@FILE, got {value!r}"
                )
            if call_id not in ids:
                made = ", ".join(ids)
                raise UsageError(
                    f"--tool-result {call_id}: the last reply made no such call ({made})"
                )
            if call_id in given:
                raise UsageError(f"--tool-result {call_id} is given twice")
            if result.startswith("@"):
                what = f"--tool-result {call_id}={result}"
                result = _text(read_named(result[1:], what, term.stdin), f"{what}: not UTF-8 text")
            given[call_id] = result
        results = tool_messages(given, ids)

    # The prompt: argv, and stdin unless an option reads it or tool results are the new turn.
    use_stdin = not settings.no_stdin and readers in ([], ["the '-' prompt word"])
    if results and not words:
        use_stdin = False
    prompt = _prompt(words, term, use_stdin, settings.stdin_timeout)
    if prompt is None and (attachments or (continued is not None and not results)):
        raise UsageError(
            "no prompt: give it as arguments or on stdin"
            + (" (-a attaches files to a prompt)" if attachments else ""),
            usage=USAGE,
        )
    if prompt is None and not history:
        raise UsageError(
            "no prompt: give it as arguments, on stdin, or with --messages", usage=USAGE
        )

    # The messages twice: as saved (attachments by reference) and as sent.
    saved_user = user_message(prompt, attachments, saved=True) if prompt is not None else None
    wire_user = user_message(prompt, attachments, saved=False) if prompt is not None else None
    saved = build_messages([*history, *results], settings.system, saved_user)
    wire = build_messages(resolve_messages(history, where) + results, settings.system, wire_user)
    if not any(m.get("role") != "system" for m in wire):
        raise UsageError("--messages holds no user message and no prompt was given")
    request = ChatRequest(
        model=settings.model,
        messages=wire,
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        tools=tools,
        tool_choice=tool_choice,
        options=parse_options(settings.option),
    )
    if settings.schema is not None:
        from mintcli.request.schema import load_schema, with_schema

        request = with_schema(request, load_schema(settings.schema))
    pending = None
    if settings.log and not settings.dry_run:
        from mintcli.storage.conversations import Pending, ensure_dir

        ensure_dir()  # a folder mint cannot use fails now, before anything is sent
        pending = Pending.start(continued, saved)
    return Prepared(settings, request, saved, pending)


def _text(data: bytes, error: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(error) from None


def _prompt(words: tuple[str, ...], term: Terminal, use_stdin: bool, timeout: float) -> str | None:
    """The user prompt from argv and stdin (the rules above), or None when there is none."""
    if "-" in words:
        if not use_stdin:
            raise UsageError("'-' means stdin, but --no-stdin was given")
        # Joined with the other words like a word: the line end that ends
        # stdin's last line does not belong in the middle of a sentence.
        material = _stdin(term.stdin).rstrip("\r\n")
        return " ".join(material if w == "-" else w for w in words)
    instruction = " ".join(words)
    material = ""
    if use_stdin and not term.stdin_isatty:
        if not instruction or _readable(term.stdin, timeout):
            material = _stdin(term.stdin)
        else:
            term.warn(
                f"stdin sent nothing within {timeout:g}s, so it was not read "
                "(give '-' to wait for it, or --no-stdin to silence this)"
            )
    material = material if material.strip() else ""
    if instruction and material:
        return f"{instruction}\n\n{material}"
    return instruction or material or None


def _stdin(stream: BinaryIO) -> str:
    data = read_at_most(stream, TEXT_BYTES)
    if data is None:
        raise UsageError(f"stdin is {over(TEXT_BYTES)}")
    return _text(data, "stdin is not UTF-8 text")


def _readable(stream: BinaryIO, timeout: float) -> bool:
    """Whether stdin delivers a byte (or its end) within ``timeout`` seconds."""
    try:
        ready, _, _ = select.select([stream.fileno()], [], [], timeout)
    except (AttributeError, OSError, ValueError):
        return True  # not a real file: reading it will not block
    return bool(ready)


def resume(settings: ChatSettings, words: tuple[str, ...]) -> Prepared:
    """The exchange a ``--resume`` continues: its journal, request and
    conversation, and the settings it was written with (where the command line
    does not say otherwise)."""
    from mintcli.base.sanitize import redact_url
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
        stored = header.get("base_url") or settings.base_url
        if header.get("mock"):
            settings = settings.replace(mock=True)
        elif ":***@" in stored and redact_url(settings.base_url) != stored:
            # the journal keeps no password: only the configured URL can give it back
            raise UsageError(
                f"the reply was sent to {stored}, whose password mint does not store: "
                "give it again with --base-url (or MINT_BASE_URL)"
            )
        elif ":***@" not in stored:
            settings = settings.replace(base_url=stored)
    pending = None
    try:
        request = ChatRequest.from_json(header["request"])
        if not isinstance(request.model, str) or not isinstance(request.messages, list):
            raise TypeError("not a request")
        if settings.log and header.get("log"):
            from mintcli.storage.conversations import Pending, ensure_dir

            ensure_dir()
            pending = Pending.from_json(header["log"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UsageError(f"journal {state.id} is damaged (its header is not mint's)") from None
    shown = pending.messages if pending is not None else list(request.messages)
    return Prepared(settings, request, shown, pending, state)
