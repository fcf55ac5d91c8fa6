"""The option table, continued: the settings of the commands that work on this
machine only, ``mint mock`` and the commands over what mint keeps (``mint
journal``, ``mint log``). settings.py holds the rest and names these too."""

from __future__ import annotations

from mintcli.options import kinds
from mintcli.options.rows import CONVERSATIONS, FAULTS, OTHER, OUTPUT, SERVER, Settings, arg, flag

# fmt: off

class MockSettings(Settings):
    host: str = arg(
        "127.0.0.1", "--host", metavar="HOST", section=SERVER,
        help="Address to listen on (an IPv6 address such as ::1 works too).")
    port: int = arg(
        0, "--port", kind=kinds.Integer(0, 65535), metavar="PORT", section=SERVER,
        help="Port (0 picks a free one).")
    script: str | None = arg(
        None, "--script", metavar="FILE", complete="file", section=SERVER,
        help="JSON/JSONL rules: canned replies, tool calls, faults.")
    log: str | None = arg(
        None, "--log", metavar="FILE", complete="file", section=SERVER,
        help="Append one JSON line per request received.")
    piece_chars: int = arg(
        4, "--piece-chars", kind=kinds.Integer(1), metavar="N", section=SERVER,
        help="Characters per streamed piece.")
    delay: float = arg(
        0.0, "--delay", kind=kinds.Number(0.0), metavar="SECONDS", section=SERVER,
        help="Seconds between pieces.")
    first_byte_delay: float = arg(
        0.0, "--first-byte-delay", kind=kinds.Number(0.0), metavar="SECONDS", section=SERVER,
        help="Seconds before a response starts.")
    replay: str | None = arg(
        None, "--replay", metavar="FILE", complete="file", section=SERVER,
        help="Serve the responses of a 'mint chat --record' file, in order, byte for byte.")
    pace: bool = flag(
        "--pace", section=SERVER,
        help="With --replay, send each chunk at its recorded time.")
    lenient: bool = flag(
        "--lenient", section=SERVER,
        help="Accept requests the real APIs reject (no request validation).")
    fault: str | None = arg(
        None, "--fault", metavar="SPEC", section=FAULTS,
        help="Inject a fault in every response, e.g. drop=5 or status=503,times=2.")
    ids: bool = arg(
        True, "--ids", kind=kinds.BOOLEAN, off_flag="--no-ids", section=FAULTS,
        help="Number the SSE events (id:) so that clients can continue with Last-Event-ID.")
    ignore_last_event_id: bool = flag(
        "--ignore-last-event-id", section=FAULTS,
        help="Answer a request carrying Last-Event-ID with a fresh reply.")
    batch_delay: float = arg(
        2.0, "--batch-delay", kind=kinds.Number(0.0), metavar="SECONDS", section=FAULTS,
        help="How long a remote batch (/batches, /messages/batches) takes to end.")
    batch_fault: str | None = arg(
        None, "--batch-fault", metavar="SPEC", section=FAULTS,
        help="Faults of remote batches, comma-separated: invalid, errored=N, expired=N, "
        "garbled=N, stuck, poll500=N, cut, hold=upload|create|poll|download.")
    debug: bool = flag(
        "--debug", env=True, section=OTHER,
        help="Show a traceback on internal errors.")


class ListSettings(Settings):
    format: str = arg(
        "text", "-f", "--format", kind=kinds.Choice(("text", "json")), section=OUTPUT,
        help="Output format.")


class RemoveSettings(Settings):
    all: bool = flag(
        "--all", section=OTHER,
        help="Remove every unfinished reply.")


class LogRemoveSettings(Settings):
    all: bool = flag(
        "--all", section=OTHER,
        help="Remove every saved conversation.")


class LogRange(Settings):
    since: str | None = arg(
        None, "--since", metavar="WHEN", kind=kinds.When(), section=CONVERSATIONS,
        help="Only exchanges from then on: a date, a local time or an age "
        "(2026-12-01, 2026-12-01T09:30, 7d, 24h).")
    until: str | None = arg(
        None, "--until", metavar="WHEN", kind=kinds.When(), section=CONVERSATIONS,
        help="Only exchanges before then (a date alone: up to the end of that day).")


class SearchSettings(LogRange):
    format: str = arg(
        "text", "-f", "--format", kind=kinds.Choice(("text", "json", "jsonl")), section=OUTPUT,
        help="Output format: text (ID, time, model, role, snippet per line), json (one "
        "array) or jsonl (one object per line).")
    model: str | None = arg(
        None, "-m", "--model", metavar="MODEL", complete="model", section=CONVERSATIONS,
        help="Only exchanges with this model.")
    limit: int = arg(
        20, "-n", "--limit", kind=kinds.Integer(1), metavar="N", section=OUTPUT,
        help="At most N hits, the newest.")


class StatsSettings(LogRange):
    format: str = arg(
        "text", "-f", "--format", kind=kinds.Choice(("text", "json")), section=OUTPUT,
        help="Output format.")
    by: str = arg(
        "day", "--by", kind=kinds.Choice(("day", "week", "model")), section=OUTPUT,
        help="One row per model and day, per model and week (from Monday), or per model.")
# fmt: on
