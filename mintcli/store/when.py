"""``--since`` / ``--until`` values of ``mint log search|stats``: a date or a
time in local time (``2026-12-01``, ``2026-12-01T09:30``, ``2026-12-01 09:30:15``)
or an age (``90m``, ``24h``, ``7d``, ``2w``). A date alone given to ``--until``
means the end of that day. The value read is kept as given; :func:`instant`
turns it into a Unix time when the command runs."""

from __future__ import annotations

import re
import time

from mintcli.kinds import Kind

_AGE = re.compile(r"(\d+)([mhdw])")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)


class When(Kind):
    """A date, a local time or an age (see the module's docstring)."""

    def from_text(self, raw: str) -> str:
        instant(raw, end_of_day=False)  # raises ValueError with what is expected
        return raw


def instant(value: str, *, end_of_day: bool) -> float:
    from datetime import datetime, timedelta  # only when a command reads the value

    text = value.strip()
    if age := _AGE.fullmatch(text):
        return time.time() - int(age.group(1)) * _UNITS[age.group(2)]
    for fmt in _FORMATS:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if end_of_day and fmt == _FORMATS[0]:
            moment += timedelta(days=1)
        return moment.timestamp()
    raise ValueError("must be a date (2026-12-01), a local time (2026-12-01T09:30) or an age (7d)")
