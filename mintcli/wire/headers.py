"""What mint reads in a response's headers besides its type: the wait a server
asks for (``Retry-After``, ``retry-after-ms``), and a redirect's ``Location``,
which mint never follows and never lets httpx interpret either."""

from __future__ import annotations

import email.utils
import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """``retry-after-ms`` (milliseconds), else ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return _wait(float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _wait(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _wait(seconds: float) -> float:
    """A server's wait hint as seconds; "inf" or "nan" is no usable hint."""
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(seconds)
    return max(0.0, seconds)


# Where a 3xx response's Location header is kept (see unfollowed).
LOCATION = "mint.location"


def unfollowed(raw: httpx.Response) -> None:
    """An httpx response hook. mint follows no redirect (the key would go along),
    yet httpx reads a 3xx's Location to prepare the next request all the same,
    and a Location that is not a URL it can use (control bytes, a bad port,
    ``javascript:...``) raised an error there that mint took for a network
    failure and retried. The value is moved aside, for the error message and -v."""
    if 300 <= raw.status_code < 400 and "location" in raw.headers:
        raw.extensions = {**raw.extensions, LOCATION: raw.headers["location"]}
        del raw.headers["location"]


def response_headers(raw: httpx.Response) -> list[tuple[str, str]]:
    """The response's headers as the server sent them (a Location put back)."""
    items = list(raw.headers.items())
    if LOCATION in raw.extensions:
        items.append(("location", raw.extensions[LOCATION]))
    return items
