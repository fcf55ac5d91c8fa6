"""Reading what a batch service answers: its ids, its figures and its lists,
none of them trusted.

An id from the server (a batch, an uploaded file, an output or error file) is
printed (``--no-wait`` prints the batch ids for ``ids=$(...)`` and then
``mint batch status $ids``), stored in the job file and put into URL paths.
So it must be one plain token: a letter or digit, then letters, digits and
``_ . : = -``, at most 200 characters (OpenAI's ``batch_...``/``file-...``,
Anthropic's ``msgbatch_...`` and a proxy's long opaque or base64 ids all fit).
Anything else (a space, which a shell splits into options; a slash or
``://``, which would reach another path or host; a control character) is the
server breaking the protocol: exit 8.

A list (batches, files) is read page after page, but a list that never ends
(``has_more`` always true, the cursor ignored) must not keep mint asking for
ever: a page that brings no id not seen before ends the reading, and so does
the cap of MAX_PAGES pages. Either way the search could not finish, which
:class:`Unfinished` says; each caller decides what that costs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from mintcli.errors import ProtocolError
from mintcli.remote.api import Api

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:=-]{0,199}")
PAGE = 100  # entries asked for per page
# A search looks back only to a few minutes before the create or upload it is
# about (providers.SKEW): 100 pages of 100 are 10,000 batches or files made in
# those minutes, far past any account's real pace, and 100 calls are still
# seconds. A list longer than that is a list that does not end.
MAX_PAGES = 100


class Unfinished(ProtocolError):
    """A list that could not be read to its end (it repeats itself, or it
    goes on past MAX_PAGES pages)."""


def segment(value: str) -> str:
    """An id as one segment of a URL path. Every id mint puts in a path was
    checked to be a plain token where it entered (the server's answer, the
    job file, the command line), and a plain token needs no quoting; it is
    quoted all the same, so that nothing in it can ever reach another path."""
    from urllib.parse import quote

    return quote(value, safe=":=")


def plain_id(value: str, what: str) -> str:
    """``value`` if it is one plain token (see the module's docstring)."""
    if ID.fullmatch(value) is None:
        shown = value if len(value) <= 80 else value[:80] + "..."
        raise ProtocolError(
            f"the server gave a {what} id that is not a plain token ({shown!r}): "
            "mint neither prints nor uses it"
        )
    return value


def string(obj: Any, key: str, what: str) -> str:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"the {what} object has no {key}")
    return value


def ident(obj: Any, what: str, key: str = "id") -> str:
    """The id under ``key`` of a service's object, checked to be a plain token."""
    return plain_id(string(obj, key, what), what)


def count(counts: Any, key: str) -> int:
    """A figure of ``request_counts`` (0 when it is missing or not a number)."""
    value = counts.get(key) if isinstance(counts, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def epoch(value: Any) -> float | None:
    """An RFC 3339 time (Anthropic's created_at) as seconds since the epoch."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def listed(api: Api, path: str, after: str, what: str) -> Iterator[dict[str, Any]]:
    """Every entry of a list (batches, files), newest first, page after page
    (``after``: the query parameter that names the last one seen). Raises
    :class:`Unfinished` when the list does not end."""
    last: str | None = None
    seen: set[str] = set()
    query = "&" if "?" in path else "?"
    for _ in range(MAX_PAGES):
        page = api.call("GET", f"{path}{query}limit={PAGE}" + (f"&{after}={last}" if last else ""))
        data = page.get("data") if isinstance(page, dict) else None
        if not isinstance(data, list):
            raise ProtocolError(f"the list at {path} is not a list")
        entries = [e for e in data if isinstance(e, dict)]
        ids = [ident(e, what) for e in entries]
        if entries and seen.issuperset(ids):
            raise Unfinished(
                f"the list at {path} repeats itself (has_more, but the page after "
                f"{last} brings nothing new)"
            )
        seen.update(ids)
        yield from entries
        if not data or not page.get("has_more"):
            return
        last = ident(data[-1], what)
    raise Unfinished(f"the list at {path} did not end after {MAX_PAGES} pages of {PAGE}")


def newest(
    api: Api, path: str, since: float, wanted: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any] | None:
    """The newest entry of an OpenAI list that ``wanted`` accepts, looked for back
    to the first one created before ``since``."""
    for entry in listed(api, path, "after", what):
        if wanted(entry):
            return entry
        created = entry.get("created_at")
        if isinstance(created, (int, float)) and created < since:
            return None
    return None
