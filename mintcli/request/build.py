"""Request assembly in one pass: from a run's settings and argv words to a
:class:`Prepared` exchange, the finished request handed down to the run.

:func:`prepare` goes once through, in this order: what the command line alone
can tell (who reads stdin, options that exclude each other, ``-o``); the
conversation continued (``-c``/``--conversation``, or a session's) and where
the exchange is saved; every input an option names, read once with a cap
(``-a``, the ``--tool``/``--tools``/``--schema`` documents, ``--messages``,
``--tool-result @FILE``); then what they mean (tools, the schema, the history
and tool results), the prompt (argv and stdin), and last the messages, built
here in two forms: as sent, and as a conversation saves them. (``--resume``
prepares a journal's exchange instead: ``run/resume.py``.)

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
    from mintcli.request.attach import Attachment
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
    from mintcli.request import attach, schema, tools
    from mintcli.storage import conversations

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
    options = parse_options(settings.option)
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
        results = tool_results(given, history, True)
    elif history_data is not None:
        history = load_messages(history_data, str(where))
        where, results = f"--messages {where}", tool_results(given, history, False)
    else:
        history, where, results = [], "", tool_results(given, [], False)
    # stdin is the prompt's unless an option reads it, or tool results are the new turn
    use_stdin = not settings.no_stdin and readers in ([], ["the '-' prompt word"])
    use_stdin = use_stdin and not (results and not words)
    prompt = _prompt(words, term, use_stdin, settings.stdin_timeout)
    saved, wire = conversation(history, results, prompt, files, settings.system, continued)
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


# -- the messages, in the OpenAI shape mint keeps them in --------------------------------

USAGE = "Usage: mint chat [OPTIONS] [PROMPT]..."
_ROLES = {"system", "developer", "user", "assistant", "tool"}


def load_messages(data: bytes, source: str) -> list[dict[str, Any]]:
    """Validate a ``--messages`` document: a JSON array of OpenAI-shape messages."""
    try:
        messages = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"--messages {source}: not valid JSON ({exc})") from None
    return check_messages(messages, f"--messages {source}")


def check_messages(messages: Any, source: str) -> list[dict[str, Any]]:
    """A list of OpenAI-shape messages, checked; ``source`` names it in errors."""
    if not isinstance(messages, list):
        raise UsageError(f"{source}: expected a JSON array of messages")
    for i, msg in enumerate(messages):
        where = f"{source}: message {i}"
        if not isinstance(msg, dict):
            raise UsageError(f"{where} is not an object")
        role = msg.get("role")
        if role not in _ROLES:
            raise UsageError(f"{where} has an unknown role {role!r}")
        content = msg.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise UsageError(f"{where}: content must be a string, a list of parts or null")
        for part in content if isinstance(content, list) else ():
            _check_part(part, where)
        if role == "tool" and not msg.get("tool_call_id"):
            raise UsageError(f"{where}: a tool message needs tool_call_id")
        calls = msg.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            raise UsageError(f"{where}: tool_calls must be a list of tool calls")
        for call in calls or ():
            if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
                raise UsageError(f"{where}: each tool call needs a function object")
    return messages


def _check_part(part: Any, where: str) -> None:
    """A content part in OpenAI shape (or a block of the other protocol, passed on)."""
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise UsageError(f"{where}: each content part must be an object with a type")
    if part["type"] == "text" and not isinstance(part.get("text"), str):
        raise UsageError(f"{where}: a text part needs its text")
    if part["type"] == "image_url":
        image = part.get("image_url")
        if not isinstance(image, dict) or not isinstance(image.get("url"), str):
            raise UsageError(f"{where}: an image_url part needs image_url.url")


def build_messages(
    history: list[dict[str, Any]], system: str | None, user: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """``--system`` replaces any system message of the history; the new user
    message, if any, comes last."""
    messages = [
        m for m in history if system is None or m.get("role") not in ("system", "developer")
    ]
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    if user is not None:
        messages.append(user)
    return messages


def user_message(prompt: str, attachments: list[Attachment], saved: bool) -> dict[str, Any]:
    """The new user message: the prompt, after its attachments (the order the
    providers recommend). ``saved``: with attachments by reference."""
    if not attachments:
        return {"role": "user", "content": prompt}
    parts = [a.stored_part() if saved else a.wire_part() for a in attachments]
    return {"role": "user", "content": [*parts, {"type": "text", "text": prompt}]}


def tool_results(
    given: dict[str, str], history: list[dict[str, Any]], continued: bool
) -> list[dict[str, Any]]:
    """``--tool-result CALL_ID=...`` (the results already read) as tool messages,
    one for each call the last reply of the history made, in the order it made
    them. A continued conversation whose last reply made calls needs their
    results (both APIs refuse a request that leaves a call unanswered); those
    the conversation holds already are not given again."""
    from mintcli.store.model import last_calls

    made, answered = last_calls(history)
    ids = [i for i in (str(c.get("id")) for c in made) if i not in answered]
    if not given:
        if continued and ids:
            raise UsageError(
                f"the last reply made tool calls ({', '.join(ids)}): send their results "
                "with --tool-result CALL_ID=RESULT, one for each"
            )
        return []
    if not ids:
        raise UsageError(
            "--tool-result: the last reply of the conversation made no tool call "
            + ("left without a result " if made else "")
            + "(continue one with -c or --conversation ID)"
        )
    for call_id in given:
        if call_id in answered:
            raise UsageError(f"--tool-result {call_id}: the conversation holds its result already")
        if call_id not in ids:
            listed = ", ".join(ids)
            raise UsageError(
                f"--tool-result {call_id}: the last reply made no such call ({listed})"
            )
    missing = [i for i in ids if i not in given]
    if missing:
        raise UsageError(
            f"the last reply made {len(made)} tool calls: give a --tool-result for each "
            f"(missing: {', '.join(missing)})"
        )
    return [{"role": "tool", "tool_call_id": i, "content": given[i]} for i in ids]


def conversation(
    history: list[dict[str, Any]],
    results: list[dict[str, Any]],
    prompt: str | None,
    attachments: list[Attachment],
    system: str | None,
    continued: object | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The messages up to the reply twice: as a conversation saves them
    (attachments by reference) and as they are sent. ``continued``: the
    conversation continued, if any, which needs a new turn."""
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
    saved_user = user_message(prompt, attachments, saved=True) if prompt is not None else None
    wire_user = user_message(prompt, attachments, saved=False) if prompt is not None else None
    saved = build_messages([*history, *results], system, saved_user)
    wire = build_messages([*history, *results], system, wire_user)
    if not any(m.get("role") != "system" for m in wire):
        raise UsageError("--messages holds no user message and no prompt was given")
    return saved, wire
