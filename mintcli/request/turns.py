"""The new turns of an exchange besides the prompt text: tool results
(``--tool-result``), the attachments of the user message (``-a``), and who
reads stdin when several options could.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mintcli.base.capped import read_named
from mintcli.errors import UsageError

if TYPE_CHECKING:
    from mintcli.base.terminal import Terminal
    from mintcli.options.settings import ChatSettings
    from mintcli.request.attach import Attachment


def stdin_reader(settings: ChatSettings, words: tuple[str, ...]) -> str | None:
    """The one option that reads stdin explicitly (None: the prompt may read it
    as usual). Two of them, or one with --no-stdin, is a usage error."""
    users = []
    if settings.messages == "-":
        users.append("--messages -")
    users += ["-a -"] * list(settings.attach).count("-")
    users += [f"--tool-result {v}" for v in settings.tool_result if v.partition("=")[2] == "@-"]
    if "-" in words:
        users.append("the '-' prompt word")
    if len(users) > 1:
        raise UsageError(f"stdin cannot be both {users[0]} and {users[1]}")
    if users and settings.no_stdin:
        raise UsageError(f"{users[0]} reads stdin, but --no-stdin was given")
    return users[0] if users else None


def load_attachments(
    settings: ChatSettings, words: tuple[str, ...], term: Terminal
) -> list[Attachment]:
    from mintcli.request.attach import load_attachment

    if "-" in settings.attach and not [w for w in words if w != "-"]:
        raise UsageError("-a - reads the attachment from stdin: give the prompt as arguments")
    return [load_attachment(spec, term.stdin) for spec in settings.attach]


def user_message(prompt: str, attachments: list[Attachment], saved: bool) -> dict[str, Any]:
    """The new user message: the prompt, after its attachments (the order the
    providers recommend). ``saved``: with attachments by reference."""
    if not attachments:
        return {"role": "user", "content": prompt}
    parts = [a.stored_part() if saved else a.wire_part() for a in attachments]
    return {"role": "user", "content": [*parts, {"type": "text", "text": prompt}]}


def tool_messages(
    values: tuple[str, ...], history: list[dict[str, Any]], term: Terminal, continued: bool
) -> list[dict[str, Any]]:
    """``--tool-result CALL_ID=VALUE`` as tool messages, one for each call the
    last reply of the history made, in the order it made them. A continued
    conversation whose last reply made calls needs their results (both APIs
    refuse a request that leaves a call unanswered)."""
    last = history[-1] if history else {}
    calls = last.get("tool_calls") if last.get("role") == "assistant" else None
    ids = [str(c.get("id")) for c in calls or () if isinstance(c, dict)]
    if not values:
        if continued and ids:
            raise UsageError(
                f"the last reply made tool calls ({', '.join(ids)}): send their results "
                "with --tool-result CALL_ID=RESULT, one for each"
            )
        return []
    if not ids:
        raise UsageError(
            "--tool-result: the last reply of the conversation made no tool call "
            "(continue one with -c or --conversation ID)"
        )
    results: dict[str, str] = {}
    for value in values:
        call_id, sep, result = value.partition("=")
        if not sep or not call_id:
            raise UsageError(f"--tool-result expects CALL_ID=JSON or CALL_ID=@FILE, got {value!r}")
        if call_id not in ids:
            made = ", ".join(ids)
            raise UsageError(f"--tool-result {call_id}: the last reply made no such call ({made})")
        if call_id in results:
            raise UsageError(f"--tool-result {call_id} is given twice")
        results[call_id] = _result_text(call_id, result, term)
    missing = [i for i in ids if i not in results]
    if missing:
        raise UsageError(
            f"the last reply made {len(ids)} tool calls: give a --tool-result for each "
            f"(missing: {', '.join(missing)})"
        )
    return [{"role": "tool", "tool_call_id": i, "content": results[i]} for i in ids]


def _result_text(call_id: str, result: str, term: Terminal) -> str:
    if not result.startswith("@"):
        return result
    data = read_named(result[1:], f"--tool-result {call_id}={result}", term.stdin)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"--tool-result {call_id}={result}: not UTF-8 text") from None
