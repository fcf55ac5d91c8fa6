"""Reading a request body off the connection (``headers``: lower-case names): ``Content-Length`` or
``Transfer-Encoding: chunked`` (RFC 9112 section 7.1). A body that cannot be
read whole leaves the connection out of step, so its Refusal closes it."""

from __future__ import annotations

from collections.abc import Mapping
from io import BufferedIOBase

from mintcli.mock.refusal import Refusal

_LINE = 65536  # longest chunk-size or trailer line taken


def _unreadable(why: str) -> Refusal:
    return Refusal(400, f"The request body could not be read: {why}.", close=True)


def read_body(rfile: BufferedIOBase, headers: Mapping[str, str]) -> bytes:
    if "chunked" in (headers.get("transfer-encoding") or "").lower():
        return _read_chunked(rfile)
    raw = headers.get("content-length")
    if raw is None:
        return b""
    try:
        length = int(raw)
        if length < 0:
            raise ValueError
    except ValueError:
        raise _unreadable(f"Content-Length {raw[:40]!r} is not a length") from None
    data = rfile.read(length) if length else b""
    if len(data) < length:
        raise _unreadable(f"it ended after {len(data)} of {length} bytes")
    return data


def _read_chunked(rfile: BufferedIOBase) -> bytes:
    parts: list[bytes] = []
    while True:
        line = rfile.readline(_LINE)
        if not line.endswith(b"\n"):
            raise _unreadable("a chunk size line is cut off")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
            if size < 0:
                raise ValueError
        except ValueError:
            raise _unreadable("a chunk size is not a hexadecimal number") from None
        if size == 0:
            break
        data = rfile.read(size)
        if len(data) < size or rfile.readline(_LINE).strip():
            raise _unreadable("a chunk is shorter than its size")
        parts.append(data)
    while True:  # trailer fields, up to the empty line
        line = rfile.readline(_LINE)
        if not line.endswith(b"\n"):
            raise _unreadable("the chunked body does not end")
        if not line.strip():
            return b"".join(parts)
