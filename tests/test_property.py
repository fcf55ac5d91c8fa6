"""Property: whatever a server puts in an event, mint ends in a clean error or a
reply, never a crash, and what arrived before the bad event is still printed.

Real recorded streams of both protocols are damaged one field at a time (any
field, any depth, replaced by a value of another type) and run through the
whole in-process pipeline: SSE framing, the protocol decoder, the runner, the
accumulator and every output format. Seeded and bounded, so CI runs the same
examples every time.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import offline_run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mintcli.base.terminal import Terminal
from mintcli.errors import MintError
from mintcli.output.sinks import SINKS
from mintcli.protocols import get_protocol
from mintcli.wire.sse import SSEDecoder, SSEEvent

DATA = Path(__file__).parent / "data"
STREAMS = {
    "openai": ["openai_poem.sse", "openai_tools.sse"],
    "anthropic": ["anthropic_poem.sse", "anthropic_tools.sse"],
}


def frames(name: str) -> list[SSEEvent]:
    decoder = SSEDecoder()
    return decoder.feed((DATA / name).read_bytes()) + decoder.flush()


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a JSON value (the value itself included)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def put(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    value[path[0]] = put(value[path[0]], path[1:], new)
    return value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, list[SSEEvent], int]:
    protocol = draw(st.sampled_from(sorted(STREAMS)))
    events = frames(draw(st.sampled_from(STREAMS[protocol])))
    candidates = [i for i, e in enumerate(events) if e.data.startswith(b"{")]
    at = draw(st.sampled_from(candidates))
    obj = orjson.loads(events[at].data)
    where = draw(st.sampled_from(paths(obj)))
    new = draw(json_values)
    data = orjson.dumps(put(obj, where, new))
    events[at] = SSEEvent(events[at].event, data, events[at].id)
    return protocol, events, at


def run_pipeline(protocol_name: str, events: list[SSEEvent], fmt: str) -> tuple[bytes, Any]:
    """Feed the events one read each; returns stdout and the error raised, if any."""
    out = io.BytesIO()
    term = Terminal(io.BytesIO(), out, io.StringIO(), False, False, False, False)
    run = offline_run(protocol_name, SINKS[fmt](term, True), term)
    error: MintError | None = None
    try:
        run.sink.start(run.config.info)
        for event in events:
            run._on_read([event])
        run._finish(None)
    except MintError as exc:  # anything else fails the test
        error = exc
        run._finish(exc)
    return out.getvalue(), error


def text_before(protocol_name: str, events: list[SSEEvent]) -> str:
    """The text mint must have printed from the undamaged events."""
    decoder = get_protocol(protocol_name).decoder()
    pieces = []
    for event in events:
        for e in decoder.decode(event):
            if type(e).__name__ == "TextDelta":
                pieces.append(e.text)  # type: ignore[union-attr]
    return "".join(pieces)


@pytest.mark.parametrize("fmt", ["text", "jsonl", "json", "raw"])
@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(case=damaged())
def test_a_damaged_event_is_a_clean_error_or_a_reply(
    fmt: str, case: tuple[str, list[SSEEvent], int]
) -> None:
    protocol, events, at = case
    out, error = run_pipeline(protocol, events, fmt)
    if error is not None:
        assert int(error.exit_code) in (4, 5, 6, 8), error  # a protocol or server error
    if fmt == "text":
        assert out.decode().startswith(text_before(protocol, events[:at]))
