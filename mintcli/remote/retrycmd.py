"""The command that sends again the failed items of a job 'mint batch fetch'
wrote: fetch only collects what was sent, and "the same command with
--resume --retry-failed" would be fetch again, which resends nothing. The
command is the submitting run's, rebuilt from what the job file records
(its input, its -O file, the settings that made its requests), each word
quoted for a POSIX shell so that it can be pasted as it is.

Only what differs from the fetch run's own settings is named (the retry runs
where fetch ran, with the same environment and config file), plus what fetch
was given on its command line. A setting the job had unset but the
environment sets (MINT_SYSTEM, say) has no flag to unset it: not named.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from mintcli.options import kinds
from mintcli.options.settings import BatchSettings


def retry_command(job: Any, settings: BatchSettings) -> str:
    """The words of the command, quoted; then how its input is given."""
    from mintcli.remote.job import KEPT, with_kept, without_userinfo

    kept = with_kept(settings, job.settings)
    words = ["mint", "batch", "--remote", "--resume", "--retry-failed"]
    if settings.mock:
        words.append("--mock")
    elif settings.given("base_url"):
        words += ["--base-url", without_userinfo(settings.base_url)]  # where fetch went
    if settings.given("profile") and settings.profile:
        words += ["--profile", settings.profile]
    for name in KEPT:
        value = getattr(kept, name)
        if value == getattr(settings, name) and not settings.given(name):
            continue
        words += _flag(name, value)
    output = settings.output or job.output
    if output:  # (without -O there is nothing to retry into: no hint is given)
        words += ["-O", _relative(output)]
    stdin = job.input is None or job.input == str(job.dir / "input.jsonl")
    if not stdin:
        words.append(_relative(job.input))
    command = " ".join(shell_word(word) for word in words)
    return command + (", with the same input on stdin" if stdin else "")


def _flag(name: str, value: Any) -> list[str]:
    row = BatchSettings.rows[name]
    flag = row.flags[-1]  # the long one
    if value is None or value is False or value == ():
        return []  # no flag turns a setting off
    if isinstance(row.kind, kinds.Flag):
        return [flag]
    if isinstance(row.kind, kinds.Many):
        return [word for one in value for word in (flag, one)]
    if isinstance(row.kind, kinds.Shard):
        return [flag, row.kind.show(value)]
    return [flag, repr(value) if isinstance(value, float) else str(value)]


def _relative(path: str) -> str:
    """``path`` from the current directory when it is under it (shorter to
    read), never a word that starts with a dash (an option's look)."""
    try:
        shown = os.path.relpath(path)
    except ValueError:
        return path
    if shown.startswith(".."):
        return path
    return "./" + shown if shown.startswith("-") else shown


def shell_word(text: str) -> str:
    """``text`` as one word of a POSIX shell. Printable text is single-quoted
    when it needs it; text with control characters (or bytes that are not
    UTF-8, which Python holds as lone surrogates) goes in ``$'...'``, which
    bash, zsh and ksh read back, so that no raw control byte reaches the
    terminal and the line can still be pasted."""
    if text.isprintable():
        return shlex.quote(text)
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\\'":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8: that byte again
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "$'" + "".join(out) + "'"
