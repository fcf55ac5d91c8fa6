"""The smaller commands: models, mock, journal."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import orjson

from mintcli.base.sanitize import REDACTED
from mintcli.base.terminal import Terminal
from mintcli.errors import MintError
from mintcli.options.settings import MockSettings, ModelsSettings
from mintcli.protocols import list_models
from mintcli.request.model import join_url
from mintcli.storage.paths import cache_dir, private_dir


def run_models(settings: ModelsSettings, term: Terminal) -> None:
    from urllib.parse import urlencode

    from mintcli.cli.chat import maybe_mock
    from mintcli.protocols import get_protocol
    from mintcli.wire.transport import Transport

    protocol = get_protocol(settings.protocol)
    key = settings.key()
    with maybe_mock(settings.mock) as mock_url:
        base_url = mock_url or settings.base_url
        url = join_url(base_url, "/models")
        transport = Transport(base_url, settings, verbose=term.diag if settings.verbose else None)

        def fetch(params: dict[str, str]) -> Any:
            query = ("&" if "?" in url else "?") + urlencode(params) if params else ""
            return transport.get_json(url + query, protocol.headers(key))

        try:
            listed, incomplete = list_models(fetch, protocol.name)
        finally:
            transport.close()
    models = term.secrets.redact_json(listed)  # a key sent back as an id
    # An id the key was redacted from names no model: shown, never offered by Tab.
    kept = [m["id"] for m, raw in zip(models, listed, strict=True) if m["id"] == raw["id"]]
    save_models_cache(kept)
    if settings.format == "json":
        term.write(orjson.dumps(models) + b"\n")
    else:
        term.write("".join(f"{m['id']}\n" for m in models).encode())
    if incomplete:
        term.warn(f"{incomplete}; {len(models)} listed")


def run_mock(settings: MockSettings) -> None:
    from mintcli.errors import UsageError
    from mintcli.mock import MockScriptError, serve_main

    try:
        serve_main(settings)
    except MockScriptError as exc:
        raise UsageError(str(exc)) from None


def run_completion(shell: str, term: Terminal) -> None:
    """The committed completion script, shipped inside the package."""
    from importlib.resources import files

    name = {"bash": "mint.bash", "zsh": "_mint", "fish": "mint.fish"}[shell]
    term.write((files("mintcli") / "completions" / name).read_bytes())


def run_journal_list(fmt: str, term: Terminal) -> None:
    from mintcli.storage.journal import unfinished

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
        return
    lines = []
    for s in states:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.header.get("created", 0)))
        model = s.header.get("request", {}).get("model", "?")
        status = "running" if s.locked else (s.failure or "unfinished")
        preview = " ".join(s.text.split())[:40]
        lines.append(f"{s.id}\t{created}\t{model}\t{len(s.text)} chars\t{status}\t{preview}\n")
    term.write("".join(lines).encode())


def run_journal_show(ident: str, term: Terminal) -> None:
    from mintcli.storage.journal import find_reply

    state = find_reply(ident)
    term.write(state.text.encode())


def run_journal_rm(ident: str | None, all_: bool, term: Terminal) -> None:
    from mintcli.errors import UsageError
    from mintcli.storage.journal import find_reply, unfinished

    if all_ == bool(ident):
        raise UsageError("give either an ID or --all")
    targets = unfinished() if all_ else [find_reply(ident)]
    for state in targets:
        if state.locked:
            term.warn(f"{state.id} is being written by a running mint; left alone")
            continue
        state.path.unlink(missing_ok=True)


def run_complete(what: str, term: Terminal) -> None:
    """Candidates for shell completion, one per line; nothing when unknown.

    Model ids come from a server and the other names from files: a word with
    a control or format character (an escape sequence, a newline, a bidi
    override) is dropped, not escaped, since an escaped form would complete
    to a name that does not exist. Shell syntax in the rest is the completion
    script's to keep inert (it quotes every word)."""
    from mintcli.options import config
    from mintcli.storage import conversations, journal

    if what == "models":
        names = config.configured("model", "models")
        names += read_models_cache()
    elif what == "profiles":
        names = config.profile_names()
    elif what == "journals":
        names = [s.id for s in journal.unfinished()]
    elif what == "conversations":
        names = conversations.ids_to_complete()
    else:
        names = []
    words = (n for n in dict.fromkeys(names) if n and n.isprintable())
    term.write("".join(f"{n}\n" for n in words).encode())


def _models_cache() -> Path:
    return cache_dir() / "models"


def save_models_cache(names: list[str]) -> None:
    """Remember the last answer of ``mint models`` for completing ``-m``."""
    with contextlib.suppress(OSError, MintError):
        path = _models_cache()
        private_dir(path.parent)
        # 0600, never through a symbolic link: a new file, then renamed over the old
        temporary = path.with_name(f".models.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write("".join(f"{n}\n" for n in names).encode("utf-8", "surrogateescape"))
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)


def read_models_cache() -> list[str]:
    from mintcli.base.capped import CONFIG_BYTES, open_unwaited, read_at_most

    try:
        with open_unwaited(_models_cache()) as fh:  # Tab must never wait on a FIFO
            data = read_at_most(fh, CONFIG_BYTES)
        text = (data or b"").decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    # one id a line (an id may hold a space); an id the key was redacted from
    # (in a cache an older mint wrote) names no model
    names = (line.strip() for line in text.splitlines())
    return [n for n in names if n and REDACTED not in n]
