"""The results: downloaded files joined to the input, one result line per
item in input order.

Results files are unordered. They are not loaded: one pass notes where each
custom_id's line starts (an offset per item, so memory grows with the number
of items, never with the size of the replies), then each item's line is read
from disk when its turn comes. A reply goes through the protocol's decoder
for a whole JSON reply (``reply_events``), as ``mint chat`` does with a
gateway that does not stream.

What a server sends is bounded twice. A download stops at
:func:`download_cap` (1 MiB per request of the part, plus one longest line:
no model writes a reply near 1 MiB, about 250,000 tokens, so a results file
past it is not results). A line is read with a cap of LINE_MAX, the most
``mint chat`` reads of one whole JSON reply: a longer line is skipped in
pieces, never held, and its item (when its custom_id is in the part read)
gets an error line with exit 8's code; the batch goes on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from mintcli.batch.items import Item, Reader
from mintcli.batch.results import Output, bad_line, error_object, result_line
from mintcli.errors import ExitCode, MintError, ProtocolError
from mintcli.output.accumulate import Accumulator
from mintcli.protocols import get_protocol
from mintcli.remote.job import Job, Part
from mintcli.remote.plan import custom_id, request_body
from mintcli.remote.providers import Outcome, Provider
from mintcli.wire.transport import MAX_BODY_BYTES

CUSTOM_ID = re.compile(rb'"custom_id"\s*:\s*"(mint-[0-9]+-[0-9a-f]+)"')  # the ids plan.py gives
LINE_MAX = MAX_BODY_BYTES  # the longest results line read (16 MiB)
PER_REQUEST = 1 << 20  # what one request's results may take, on average, in a download
SKIP = 1 << 20  # the piece a too long line is skipped by


def download_cap(requests: int) -> int:
    """The most bytes one results file of a part of ``requests`` may hold."""
    return requests * PER_REQUEST + LINE_MAX


def capped_lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """(offset, line, whole) for each line of ``fh``: a line longer than
    LINE_MAX comes as its first LINE_MAX + 1 bytes and ``whole`` False, the
    rest skipped without being held."""
    offset = 0
    while line := fh.readline(LINE_MAX + 1):
        start = offset
        offset += len(line)
        whole = len(line) <= LINE_MAX or line.endswith(b"\n")
        while not whole and (rest := fh.readline(SKIP)):
            offset += len(rest)
            if rest.endswith(b"\n"):
                break
        yield start, line, whole


def too_long(cid: str) -> ProtocolError:
    return ProtocolError(
        f"the result line of {cid} is over {LINE_MAX >> 20} MiB, more than mint reads of one reply"
    )


@dataclass
class Written:
    succeeded: int = 0
    failed: int = 0
    unreadable: int = 0  # lines of the results that could not be read


class Results:
    """Where every item's result line is, across the parts' downloaded files."""

    def __init__(self, job: Job, provider: Provider) -> None:
        self.job = job
        self.provider = provider
        self.files: list[IO[bytes]] = []
        self.where: dict[str, tuple[int, int]] = {}  # custom_id -> (file, offset)
        self.part_of: dict[int, Part] = dict(job.sent())  # item index -> the part that sent it
        self.unreadable = 0  # lines of the results files that are not results
        for part in job.parts:
            for name in part.results:
                self._index(part, job.dir / name)

    def _index(self, part: Part, path: Any) -> None:
        number = len(self.files)
        fh = path.open("rb")
        self.files.append(fh)
        for offset, line, whole in capped_lines(fh):
            # The key found without parsing the line (a JSON string holds no bare
            # quote, so this is the key itself); parsed only when it is not there.
            found = CUSTOM_ID.search(line)
            if found is not None:
                self.where[found.group(1).decode()] = (number, offset)
            elif not whole:
                self.unreadable += 1  # too long to read, and whose it is is unknown
            elif line.strip():
                try:
                    self.where[self.provider.outcome(line).custom_id] = (number, offset)
                except MintError:
                    self.unreadable += 1  # its item gets an error line: no result

    def outcome(self, cid: str) -> Outcome | None:
        found = self.where.get(cid)
        if found is None:
            return None
        fh = self.files[found[0]]
        fh.seek(found[1])
        line = fh.readline(LINE_MAX + 1)
        try:
            if len(line) > LINE_MAX and not line.endswith(b"\n"):
                raise too_long(cid)
            return self.provider.outcome(line)
        except MintError:  # a line with an item's custom_id that is not a result after all
            self.unreadable += 1
            raise

    def close(self) -> None:
        for fh in self.files:
            fh.close()


def write_all(
    job: Job, provider: Provider, reader: Reader, output: Output, schema: Any = None
) -> Written:
    """Every item's result line, in input order, to ``output``."""
    results = Results(job, provider)
    protocol = get_protocol(job.protocol)
    checker = None
    if schema is not None:
        from mintcli.request.schema import compile_checker

        checker = compile_checker(schema)
    written = Written()
    try:
        for item in reader:
            line, ok = _result(item, job, results, protocol, checker)
            output.write(line)
            written.succeeded += ok
            written.failed += not ok
    finally:
        results.close()
    written.unreadable = results.unreadable
    return written


def _result(
    item: Item, job: Job, results: Results, protocol: Any, checker: Any
) -> tuple[bytes, bool]:
    if item.request is None:
        return bad_line(item), False
    cid = custom_id(item, job.tag)
    part = results.part_of.get(item.index)
    if part is None:  # never sent: say why
        body = request_body(item, job.protocol)
        reason = body if isinstance(body, str) else "the item was not sent"
        return result_line(item, None, 0, error_object(ExitCode.USAGE, reason)), False
    batch = part.batch
    redact = results.provider.redact  # the key out of the server's words, as a local batch
    try:
        outcome = results.outcome(cid)
    except MintError as error:  # a results line that is not one
        failure = error_object(error.exit_code, redact(error.message))
        return result_line(item, None, 1, failure, {"batch": batch, "state": "missing"}), False
    if outcome is None:
        if part.problem:
            failure = error_object(ExitCode.REJECTED, f"the remote batch failed: {part.problem}")
            remote = {"batch": batch, "state": "failed"}
        else:
            message = f"the remote batch {batch} ended ({part.state}) without a result for it"
            failure = error_object(ExitCode.SERVER, message)
            remote = {"batch": batch, "state": "missing"}
        return result_line(item, None, 1, failure, remote), False
    remote = {"batch": batch, "state": outcome.state}
    if outcome.body is None:
        return result_line(item, None, 1, outcome.error, remote), False
    acc = Accumulator()
    try:
        acc.extend(protocol.reply_events(outcome.body, item.request))
        if (refused := acc.refused()) is not None:  # as mint chat: exit 12's error
            raise refused
        acc.end_attempt()
        reply = acc.reply()
        if checker is not None:
            reply.parsed = checker(reply.text)
    except MintError as error:
        failure = error_object(error.exit_code, redact(error.message))
        return result_line(item, acc.reply(), 1, failure, remote), False
    return result_line(item, reply, 1, None, remote), True
