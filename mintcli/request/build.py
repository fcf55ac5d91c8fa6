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
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from mintcli.base.capped import TEXT_BYTES, over, read_at_most, read_named
from mintcli.errors import UsageError
from mintcli.options.kinds import not_utf8
from mintcli.request.model import ChatRequest, JSONDict

if TYPE_CHECKING:
    from mintcli.base.terminal import Terminal
    from mintcli.options.settings import ChatSettings
    from mintcli.session.turn import Turn
    from mintcli.storage.conversations import Pending
    from mintcli.storage.journal import JournalState


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
    """The exchange to send: a new one for the prompt (argv, stdin), the
    earlier messages (a continued conversation or --messages), tool results and
    attachments; or, with --resume, the journal's. Usage errors come here,
    before anything is sent."""
    from mintcli.base.capped import read_json
    from mintcli.request import attach, messages, schema, tools
    from mintcli.storage import conversations

    options = parse_options(settings.option)  # checked even for --resume, which sends the journal's
    if settings.resume is not None:
        return _resumed(settings, words)

    # What can be told from the command line alone.
    continued = turn.continued if turn is not None else None
    continuing = continued is not None or settings.continue_last or settings.conversation
    if settings.continue_last and settings.conversation is not None:
        raise UsageError("give either -c/--continue or --conversation ID, not both")
    if any(not_utf8(w) for w in words):
        raise UsageError("the prompt is not valid UTF-8 text")
    readers = ["--messages -"] if settings.messages == "-" else []  # who reads stdin: one at most
    readers += ["-a -"] * list(settings.attach).count("-")
    readers += [f"--tool-result {v}" for v in settings.tool_result if v.partition("=")[2] == "@-"]
    readers += ["the '-' prompt word"] if "-" in words else []
    if len(readers) > 1:
        raise UsageError(f"stdin cannot be both {readers[0]} and {readers[1]}")
    if readers and settings.no_stdin:
        raise UsageError(f"{readers[0]} reads stdin, but --no-stdin was given")
    if continuing and settings.messages is not None:
        raise UsageError("--messages cannot be combined with -c or --conversation")
    if "-" in settings.attach and not [w for w in words if w != "-"]:
        raise UsageError("-a - reads the attachment from stdin: give the prompt as arguments")
    for value in settings.tool_result:
        call_id, sep, _ = value.partition("=")
        if not sep or not call_id:
            raise UsageError(f"--tool-result expects CALL_ID=JSON or CALL_ID=@FILE, got {value!r}")

    # The conversation continued, which keeps its model and protocol.
    if continued is None and continuing:
        try:
            continued = conversations.find(settings.conversation)
        finally:
            for note in conversations.take_notices():  # what an import of old files did
                term.warn(note)
    pending = None  # where the exchange is saved (--no-log: nowhere)
    if settings.log and not settings.dry_run:
        conversations.ensure_dir()  # a folder mint cannot use fails now, before anything is sent
        pending = conversations.Pending.start(continued, [])
    if continued is not None:
        last = continued.last
        kept = {
            k: last[k]
            for k in ("model", "protocol")
            if isinstance(last.get(k), str) and not settings.given(k)
            and not settings.given("profile")
        }  # fmt: skip
        settings = settings.replace(**kept)

    # Every input an option names, read once (attachments, then the JSON documents).
    files = [attach.load_attachment(spec, term.stdin) for spec in settings.attach]
    documents = [("--tool", v) for v in settings.tool] + [("--tools", v) for v in settings.tools]
    read = [(option, *read_json(value, option)) for option, value in documents]
    wanted = read_json(settings.schema, "--schema") if settings.schema is not None else None
    history_data = where = None
    if settings.messages is not None:
        where = "stdin" if settings.messages == "-" else settings.messages
        history_data = read_named(settings.messages, f"--messages {where}", term.stdin)
    given: dict[str, str] = {}
    for value in settings.tool_result:
        call_id, _, result = value.partition("=")
        if call_id in given:
            raise UsageError(f"--tool-result {call_id} is given twice")
        if result.startswith("@"):
            what = f"--tool-result {call_id}={result}"
            result = _text(read_named(result[1:], what, term.stdin), f"{what}: not UTF-8 text")
        given[call_id] = result

    # Then what they mean: tools, the schema, the conversation and the new turn.
    specs = tools.tools_from(read)
    choice = tools.check_tool_choice(settings.tool_choice, specs)
    reply_schema = schema.check_schema(*wanted) if wanted is not None else None
    if reply_schema is not None:
        schema.check_alone(specs, choice)
    if continued is not None:
        history, where = continued.messages, f"conversation {continued.id}"
        results = messages.tool_results(given, history, True)
    elif history_data is not None:
        history = messages.load_messages(history_data, str(where))
        where, results = f"--messages {where}", messages.tool_results(given, history, False)
    else:
        history, where, results = [], "", messages.tool_results(given, [], False)
    # stdin is the prompt's unless an option reads it, or tool results are the new turn
    use_stdin = not settings.no_stdin and readers in ([], ["the '-' prompt word"])
    use_stdin = use_stdin and not (results and not words)
    prompt = _prompt(words, term, use_stdin, settings.stdin_timeout)
    saved, wire = messages.conversation(history, results, prompt, files, settings.system, continued)
    request = ChatRequest(
        model=settings.model,
        messages=attach.resolve_messages(wire, where),  # what the conversation keeps by reference
        max_tokens=settings.max_tokens,
        temperature=settings.temperature,
        tools=specs,
        tool_choice=choice,
        options=options,
        schema=reply_schema,
    )
    if pending is not None:
        pending = replace(pending, messages=saved)
    return Prepared(settings, request, saved, pending)


def parse_options(values: tuple[str, ...]) -> JSONDict:
    """``-o KEY=VALUE``: VALUE is JSON when it parses as JSON, else a string."""
    out: JSONDict = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"-o/--option expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key.strip()] = value
    return out


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


def _resumed(settings: ChatSettings, words: tuple[str, ...]) -> Prepared:
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
