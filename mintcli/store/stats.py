"""``mint log stats``: requests and tokens per model, per day, week or overall."""

from __future__ import annotations

import sqlite3
from typing import Any

PERIODS = {
    "day": "date(time, 'unixepoch', 'localtime')",
    # the Monday that starts the week
    "week": "date(time, 'unixepoch', 'localtime', 'weekday 0', '-6 days')",
}


def within(
    column: str, since: float | None, until: float | None
) -> tuple[list[str], list[object]]:
    """The conditions (and their parameters) that keep ``column`` in [since, until)."""
    where: list[str] = ["1"]
    params: list[object] = []
    for value, test in ((since, ">="), (until, "<")):
        if value is not None:
            where.append(f"{column} {test} ?")
            params.append(value)
    return where, params


def stats(
    conn: sqlite3.Connection, by: str, since: float | None, until: float | None
) -> list[dict[str, Any]]:
    """One row per model (and per day or week): requests, input and output tokens.
    A copy of an exchange (in a forked conversation) is the same request: not counted."""
    period = PERIODS.get(by)
    where, params = within("time", since, until)
    where.append("copy_of IS NULL")
    columns = f"{period} AS period, model" if period else "model"
    groups = "period, model" if period else "model"
    rows = conn.execute(
        f"SELECT {columns}, count(*), coalesce(sum(input_tokens), 0),"
        f" coalesce(sum(output_tokens), 0) FROM exchanges WHERE {' AND '.join(where)}"
        f" GROUP BY {groups} ORDER BY {groups}",
        params,
    ).fetchall()
    out = []
    for row in rows:
        values = list(row)
        item: dict[str, Any] = {by: values.pop(0)} if period else {}
        model, requests, input_tokens, output_tokens = values
        item.update(model=model, requests=requests, input_tokens=input_tokens,
                    output_tokens=output_tokens)  # fmt: skip
        out.append(item)
    return out
