"""Reading a response body whatever compression the server chose.

mint asks for none (``Accept-Encoding: identity``): compression would make a
server or a proxy hold pieces of a stream back. A server that compresses
anyway is read here, inflated in bounded pieces.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import httpx

from mintcli.errors import ProtocolError

INFLATE_PIECE = 64 * 1024  # the most one compressed read may inflate to at a time


def body_pieces(raw: httpx.Response) -> Iterator[bytes]:
    """The body as bytes. mint asks for no compression; a server that
    compresses anyway (gzip, deflate) is inflated here, never more than
    INFLATE_PIECE at a time (a small body may inflate to gigabytes), and
    a body that does not decode is a protocol error, not a crash."""
    coding = raw.headers.get("content-encoding", "").strip().lower()
    if coding in ("", "identity"):
        return raw.iter_bytes()
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise ProtocolError(
            f"the server compressed its reply with {coding!r}, which mint did not ask for "
            "and cannot read"
        )
    return _inflate(raw.iter_raw(), coding)


def _inflate(pieces: Iterator[bytes], coding: str) -> Iterator[bytes]:
    # gzip has its header and trailer; deflate is zlib-wrapped (32 + MAX_WBITS
    # takes a zlib or a gzip header, as servers mix them up).
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in coding else 32 + zlib.MAX_WBITS)
    try:
        for piece in pieces:
            data = piece
            while data and not inflater.eof:
                out = inflater.decompress(data, INFLATE_PIECE)
                data = inflater.unconsumed_tail
                if out:
                    yield out
        rest = inflater.flush(INFLATE_PIECE)
    except zlib.error as exc:
        raise ProtocolError(
            f"the reply says Content-Encoding: {coding} but does not decode as such ({exc})"
        ) from None
    if rest:
        yield rest
