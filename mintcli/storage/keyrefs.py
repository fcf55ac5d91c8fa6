"""The run's secrets (the API key) kept out of the journal, in a form --resume undoes.

A server may echo the key inside the reply. stdout is data and gets it as it
came, so a ``--resume`` must print it again to match an uninterrupted run; the
journal on disk must not hold it. Where a record's text holds a secret, or
may hold part of one (a read ending with its start, which the next read may
complete; owed stdout bytes beginning with its end), the text is written as a
list of parts: a string is text as received, ``[fp, start, end]`` stands for
the characters ``start:end`` of the secret whose fingerprint is ``fp``
(a fourth item says how it was written: "j" inside a JSON string, as in a
tool call; "b" as the Latin-1 text of its UTF-8 bytes, as in owed bytes).
A tool call holding a secret is written as ``{"j": parts}`` of its JSON text.
The reader puts the secret back when the resuming run has it (the same key),
else writes ``[redacted]`` once in its place. A start or end of a secret
shorter than :data:`SECRET_PART` at a record's edge is written as it is, as
everywhere mint cuts text; a whole secret never is.

The hot path: a read's text is joined to the last ``len(key) - 1`` characters
of the text before; when that does not hold the key's first four characters
(which a whole key and an end of the text that starts it both begin with),
the record is written unchanged. That is one substring search, a join and a
slice per read.
"""

from __future__ import annotations

from typing import Any

import orjson

from mintcli.base.sanitize import REDACTED, SECRET_PART, Secrets

# (position in the text, end, fingerprint, offset in the secret, form code)
Span = tuple[int, int, str, int, str]


def fingerprint(value: str) -> str:
    """Names a secret in a journal without saying it (48 bits of a hash)."""
    import hashlib

    data = b"mint journal secret\0" + value.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()[:12]


def lookup(secrets: Secrets | None) -> dict[str, str]:
    """Fingerprint -> secret, for the reader (a --resume has the run's key)."""
    return {fingerprint(v): v for v in secrets.values} if secrets is not None else {}


def _json_form(value: str) -> str:
    return orjson.dumps(value).decode()[1:-1]


def _latin(form: str) -> str:
    """A form as it appears in owed stdout bytes kept as Latin-1 text."""
    return form.encode("utf-8", "surrogateescape").decode("latin-1")


def _form(value: str, code: str) -> str:
    form = _json_form(value) if "j" in code else value
    return _latin(form) if "b" in code else form


class KeyGuard:
    """Turns journal records into ones without the secrets, per record as it is
    written. Text and reasoning are streams: the last ``len(secret) - 1``
    characters of each are carried over to the next read, so that a secret
    split between reads is found whole."""

    def __init__(self, secrets: Secrets) -> None:
        self.secrets = secrets
        values = secrets.values
        # The first characters of each secret: a text without any holds neither
        # a secret nor an end that a reference must stand for (shorter parts of
        # a secret are written as they are).
        self._starts = [v[:SECRET_PART] for v in values]
        self._room = max(map(len, values), default=1) - 1
        self._carry = ["", ""]  # the ends of the text and the reasoning so far
        self._fps: dict[str, str] | None = None

    def lookup(self) -> dict[str, str]:
        return lookup(self.secrets)

    def seed(self, text: str, reasoning: str) -> None:
        """A reopened journal: the ends of what it holds, which the next reads may complete."""
        room = self._room
        self._carry = [text[max(0, len(text) - room) :], reasoning[max(0, len(reasoning) - room) :]]

    def record(self, rec: dict[str, Any]) -> dict[str, Any]:
        t = rec.get("t")
        if t is not None:
            rec["t"] = self._stream(0, t)
            if len(rec) == 1:
                return rec  # nearly every record: one read's text
        if (r := rec.get("r")) is not None:
            rec["r"] = self._stream(1, r)
        if (calls := rec.get("c")) is not None:
            rec["c"] = [self._call(call) for call in calls]
        if o := rec.get("o"):
            rec["o"] = self._owed(o)
        return rec

    # -- the three kinds of text -------------------------------------------------------
    def _stream(self, which: int, piece: str) -> str | list[Any]:
        carry = self._carry[which]
        joined = carry + piece
        self._carry[which] = joined[-self._room :]
        for start in self._starts:
            if start in joined:
                return self._parts(joined, len(carry), self._spans(joined, ""), piece)
        return piece

    def _call(self, call: dict[str, Any]) -> dict[str, Any]:
        """A tool call, whole: its JSON text as parts when a secret is inside."""
        text = orjson.dumps(call).decode()
        spans = self._spans(text, "j", ends=False)
        return call if not spans else {"j": self._parts(text, 0, spans, text)}

    def _owed(self, owed: str) -> str | list[Any]:
        """stdout's unwritten bytes (Latin-1): a secret whole, or cut at either end,
        as text or inside JSON (the text, jsonl and json formats)."""
        spans = self._spans(owed, "b", heads=True) + self._spans(owed, "jb", heads=True)
        return self._parts(owed, 0, spans, owed)

    # -- finding the secrets -----------------------------------------------------------
    def _forms(self, code: str) -> list[tuple[str, str, str]]:
        """(fingerprint, form, code) for each secret: as it is written in the text
        searched (``code``: "j" in JSON, "b" as Latin-1 text of its UTF-8)."""
        if self._fps is None:
            self._fps = {v: fingerprint(v) for v in self.secrets.values}
        return [(fp, _form(value, code), code) for value, fp in self._fps.items()]

    def _spans(self, text: str, code: str, *, ends: bool = True, heads: bool = False) -> list[Span]:
        spans: list[Span] = []
        for fp, form, c in self._forms(code):
            at = text.find(form)
            while at >= 0:  # overlapping ones too
                spans.append((at, at + len(form), fp, 0, c))
                at = text.find(form, at + 1)
            longest = range(min(len(form) - 1, len(text)), SECRET_PART - 1, -1)
            # the longest end of the text that starts the secret
            if ends and (k := next((k for k in longest if text.endswith(form[:k])), 0)):
                spans.append((len(text) - k, len(text), fp, 0, c))
            # the longest start of the text that ends the secret
            if heads and (k := next((k for k in longest if text.startswith(form[-k:])), 0)):
                spans.append((0, k, fp, len(form) - k, c))
        return spans

    @staticmethod
    def _parts(text: str, start: int, spans: list[Span], plain: str) -> str | list[Any]:
        """``text[start:]`` with the spans as references (``plain`` when none falls there)."""
        parts: list[Any] = []
        at = start
        for pos, end, fp, off, code in sorted(spans):
            if end <= at:
                continue
            s = max(pos, at)
            if s > at:
                parts.append(text[at:s])
            parts.append([fp, off + s - pos, off + end - pos, *([code] if code else [])])
            at = end
        if not parts:
            return plain
        if at < len(text):
            parts.append(text[at:])
        return parts


def resolve(value: Any, keys: dict[str, str], missing: set[str] | None = None) -> str | None:
    """The text of journaled parts (or a plain string), the secrets put back from
    ``keys``; an unknown one is ``[redacted]`` where its start was. None: not
    parts mint writes. Fingerprints not in ``keys`` are added to ``missing``."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        return None
    out: list[str] = []
    for part in value:
        if isinstance(part, str):
            out.append(part)
            continue
        if not (
            isinstance(part, list)
            and 3 <= len(part) <= 4
            and isinstance(part[0], str)
            and type(part[1]) is int
            and type(part[2]) is int
            and (len(part) == 3 or isinstance(part[3], str))
        ):
            return None
        secret = keys.get(part[0])
        if secret is None:
            if missing is not None:
                missing.add(part[0])
            out.append(REDACTED if part[1] == 0 else "")
        else:
            out.append(_form(secret, part[3] if len(part) == 4 else "")[part[1] : part[2]])
    return "".join(out)


def resolve_call(call: Any, keys: dict[str, str], missing: set[str] | None = None) -> Any:
    """A journaled tool call (a dict, or ``{"j": parts}``); None when it is neither."""
    if not isinstance(call, dict):
        return None
    if "j" not in call:
        return call
    text = resolve(call["j"], keys, missing)
    try:
        obj = orjson.loads(text) if text is not None else None
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def plain(rec: dict[str, Any], keys: dict[str, str], missing: set[str]) -> list[Any] | None:
    """A record's text, reasoning, tool calls and owed bytes with the secrets put
    back (None where absent); None when one of them is not what mint writes."""
    out: list[Any] = []
    for name in ("t", "r", "o"):
        value = rec.get(name)
        if value is not None:
            value = resolve(value, keys, missing)
            if value is None and name != "o":  # owed bytes of another shape: ignored
                return None
        out.append(value)
    calls = rec.get("c")
    if calls is not None:
        if not isinstance(calls, list):
            return None
        calls = [resolve_call(x, keys, missing) for x in calls]
        if None in calls:
            return None
    return [*out, calls]
