"""``--resume``: the exchange a journal left unfinished, prepared again from
its header (the request, the conversation it is saved into, and the settings
it ran with where the command line does not say otherwise); ``run/exchange.py``
then sends it with the journal's events already received.
"""

from __future__ import annotations

from mintcli.base.sanitize import Secrets, redact_url
from mintcli.errors import UsageError
from mintcli.options.settings import ChatSettings
from mintcli.request.build import Prepared
from mintcli.request.model import ChatRequest


def resume(settings: ChatSettings, words: tuple[str, ...], secrets: Secrets) -> Prepared:
    """The exchange a ``--resume`` continues: its journal (with the ``secrets``
    the server echoed put back), request and conversation, and the settings it
    was written with (where the command line does not say otherwise)."""
    from mintcli.storage.journal import find_reply

    new_input = (settings.messages, settings.continue_last, settings.conversation)
    if words or any(new_input) or settings.attach or settings.tool_result or settings.schema:
        raise UsageError(
            "--resume continues a saved reply; it takes no prompt, --messages, -c, "
            "--conversation, -a, --tool-result or --schema"
        )
    state = find_reply(settings.resume or None, secrets=secrets)
    if state.locked:
        raise UsageError(f"reply {state.id} is still being written by another mint process")
    header = state.header
    damaged = UsageError(f"journal {state.id} is damaged (its header is not mint's)")
    kept = {}
    for name in ("protocol", "format"):
        value = header.get(name)
        if value and not settings.given(name):
            try:  # checked as the option itself would check it
                kept[name] = ChatSettings.rows[name].kind.from_text(str(value))
            except ValueError:
                raise damaged from None
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
        raise damaged from None
    shown = pending.messages if pending is not None else list(request.messages)
    return Prepared(settings, request, shown, pending, state)
