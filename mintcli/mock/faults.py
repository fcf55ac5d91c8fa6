"""Fault specs for the mock: ``kind=N`` plus modifiers, comma separated.

Kinds (one per spec):
  status=CODE     answer with HTTP CODE and a JSON error body in the protocol's shape
  drop=N          after N content pieces, cut the TCP connection mid-body
  stall=N         after N pieces, send nothing more (until the client gives up)
  error=N         after N pieces, an in-stream error event, then end the stream
  malformed=N     after N pieces, a data line that is not JSON, then end the stream
  truncate=N      after N pieces, end the response cleanly without its terminator
Modifiers:
  times=K         only the first K requests that meet this spec get the fault
  retry_after=S   Retry-After header (seconds) on a status fault
  retry_after_ms=MS  retry-after-ms header on a status fault
  error_type=T    error type for status/error faults (default depends on the status)
  message=TEXT    error message
Example: ``status=429,retry_after=1,times=2`` or ``drop=5,times=3``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("status", "drop", "stall", "error", "malformed", "truncate")
_INT_KEYS = {*KINDS, "times", "retry_after_ms"}
MAX_WAIT = 1e9  # the longest retry_after (seconds) a fault takes: 31 years


class FaultSpecError(ValueError):
    """A fault spec that cannot be understood."""


@dataclass(frozen=True)
class Fault:
    kind: str
    value: int
    times: int | None = None
    retry_after: float | None = None
    retry_after_ms: int | None = None
    error_type: str | None = None
    message: str | None = None
    spec: str = ""


def parse_fault(spec: str | dict[str, Any]) -> Fault:
    if isinstance(spec, dict):
        items = {str(k): str(v) for k, v in spec.items()}
        canonical = ",".join(f"{k}={v}" for k, v in items.items())
    elif isinstance(spec, str):
        canonical = spec.strip()
        items = {}
        for part in canonical.split(","):
            key, sep, value = part.strip().partition("=")
            if not sep:
                raise FaultSpecError(f"fault {spec!r}: expected key=value, got {part!r}")
            items[key.strip()] = value.strip()
    else:
        raise FaultSpecError(f"fault must be a string or an object, not {type(spec).__name__}")
    kinds = [k for k in items if k in KINDS]
    if len(kinds) != 1:
        raise FaultSpecError(f"fault {canonical!r}: give exactly one of {', '.join(KINDS)}")
    known = {*KINDS, "times", "retry_after", "retry_after_ms", "error_type", "message"}
    unknown = sorted(set(items) - known)
    if unknown:
        raise FaultSpecError(f"fault {canonical!r}: unknown key {unknown[0]!r}")
    values: dict[str, Any] = {}
    for key, raw in items.items():
        try:
            if key in _INT_KEYS:
                values[key] = int(raw)
                if values[key] < 0:
                    raise ValueError
            elif key == "retry_after":
                values[key] = float(raw)
                if not 0 <= values[key] <= MAX_WAIT:  # inf and nan too: no header can say them
                    raise ValueError
            else:
                values[key] = raw
        except ValueError:
            bound = f"from 0 to {MAX_WAIT:.0f}" if key == "retry_after" else ">= 0"
            raise FaultSpecError(f"fault {canonical!r}: {key} needs a number {bound}") from None
    kind = kinds[0]
    if kind == "status" and not 400 <= values["status"] <= 599:
        raise FaultSpecError(f"fault {canonical!r}: status must be 400-599")
    return Fault(
        kind=kind,
        value=values[kind],
        times=values.get("times"),
        retry_after=values.get("retry_after"),
        retry_after_ms=values.get("retry_after_ms"),
        error_type=values.get("error_type"),
        message=values.get("message"),
        spec=canonical,
    )
