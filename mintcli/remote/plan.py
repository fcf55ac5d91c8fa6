"""From the input to request files: the input's hash (stdin is first copied
to a file, since the results are joined to the input in a second pass), one
request body per item, and the items cut into parts at the provider's limits."""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, BinaryIO

from mintcli.base.capped import TEXT_BYTES, MiB, over
from mintcli.batch.items import Item, Reader
from mintcli.errors import MintError, UsageError, write_failed
from mintcli.protocols import get_protocol
from mintcli.remote.job import Job, Part
from mintcli.remote.providers import Provider

BLOCK = 1 << 20
# The most of stdin copied for a remote batch: about four full Anthropic batches
# (256 MB each) or five full OpenAI batch files (200 MB each), far more than one
# job of a pipe should hold in the state directory; a file is read in place,
# uncopied, and has no such cap.
SPOOL_BYTES = 1024 * MiB


def custom_id(item: Item, tag: str) -> str:
    """The item's name in a batch: its index, which is unique and maps back,
    and the job's tag, which tells this job's batches from any other's; it
    fits both providers' rules (Anthropic: ``^[a-zA-Z0-9_-]{1,64}$``)."""
    return f"mint-{item.index}-{tag}"


def request_body(item: Item, protocol: str) -> dict[str, Any] | str:
    """The body of the item's request, or why it cannot be sent."""
    if item.request is None:
        return item.error or "the line cannot be used"
    if item.protocol != protocol:
        return (
            f"line {item.line}: the item asks for protocol {item.protocol}; a remote batch "
            f"sends every item with --protocol {protocol}"
        )
    try:
        body = get_protocol(protocol).build_body(item.request)
    except MintError as exc:
        return f"line {item.line}: {exc.message}"
    body.pop("stream", None)  # a batch answers each request with one whole reply
    body.pop("stream_options", None)
    return body


class Digest:
    """The sha256 of the input's bytes, and how many lines it has (the last
    may lack its newline): no item of the input has an index past that, which
    bounds what a job file may say it sent (jobcheck.check_items)."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.newlines = 0
        self.last = b"\n"

    def feed(self, block: bytes) -> None:
        self.sha.update(block)
        self.newlines += block.count(b"\n")
        self.last = block[-1:]

    @property
    def lines(self) -> int:
        return self.newlines + (self.last != b"\n")

    def hexdigest(self) -> str:
        return self.sha.hexdigest()


def digest_of(stream: BinaryIO) -> Digest:
    """The digest of a seekable file, read to its end and rewound."""
    digest = Digest()
    try:
        while block := stream.read(BLOCK):
            digest.feed(block)
        stream.seek(0)
    except OSError as exc:
        raise UsageError(f"cannot read the input: {exc.strerror or exc}") from None
    return digest


def hashed(stream: BinaryIO, spool_dir: Path) -> tuple[BinaryIO, Digest, Path | None]:
    """The input as a seekable file, its digest, and the copy
    made of a pipe or a terminal (``spool_dir/input-PID.spool``, 0600, read
    as it is copied; the job keeps it for 'mint batch fetch'). The copy is
    capped (:data:`SPOOL_BYTES`, and each line at TEXT_BYTES as the input's
    reader caps it), and removed when it fails or is interrupted."""
    if _regular(stream):
        return stream, digest_of(stream), None
    digest = Digest()
    spool = spool_dir / f"input-{os.getpid()}.spool"
    fd = os.open(spool, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    copy: IO[bytes] = os.fdopen(fd, "w+b")
    try:
        lines = _LineCap()
        while True:
            try:
                block = stream.read(BLOCK)
            except OSError as exc:
                raise UsageError(f"cannot read the input: {exc.strerror or exc}") from None
            if not block:
                break
            lines.feed(block)
            digest.feed(block)
            try:
                copy.write(block)
            except OSError as exc:
                raise write_failed(f"a copy of the input ({spool})", exc) from None
        copy.seek(0)
    except BaseException:  # an error, Ctrl-C or SIGTERM (signals_as_errors): no copy left
        copy.close()
        spool.unlink(missing_ok=True)
        raise
    return copy, digest, spool  # type: ignore[return-value]


class _LineCap:
    """Counts the bytes and lines copied from a pipe: past TEXT_BYTES in one
    line, or SPOOL_BYTES in all, the copy stops with a usage error."""

    def __init__(self) -> None:
        self.total = 0
        self.number = 1  # the line being read, from 1
        self.length = 0  # its bytes so far

    def feed(self, block: bytes) -> None:
        self.total += len(block)
        if self.total > SPOOL_BYTES:
            raise UsageError(
                f"the input on stdin is {over(SPOOL_BYTES)} for a remote batch; "
                "give a larger input as a file (mint batch --remote FILE reads it in place)"
            )
        first = block.find(b"\n")
        # A line that ends in this block: its head is in the blocks before. The
        # lines after it are shorter than a block, far below the cap.
        if self.length + (len(block) if first < 0 else first + 1) > TEXT_BYTES:
            raise UsageError(f"input line {self.number} is {over(TEXT_BYTES)}")
        if first < 0:
            self.length += len(block)
        else:
            self.number += block.count(b"\n")
            self.length = len(block) - block.rfind(b"\n") - 1


def _regular(stream: BinaryIO) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False


def build_parts(job: Job, provider: Provider, reader: Reader, part_size: int | None) -> None:
    """Write the request files of ``reader``'s items, a new part whenever one
    would pass the provider's limits (or ``part_size``); OpenAI takes one
    model per file, so each model has parts of its own."""
    most = min(provider.max_requests, part_size or provider.max_requests)
    open_parts: dict[str, tuple[Part, IO[bytes]]] = {}
    try:
        for item in reader:
            body = request_body(item, job.protocol)
            if isinstance(body, str):
                continue  # an error line, written with the results
            line = provider.request_line(custom_id(item, job.tag), body)
            key = str(body.get("model")) if provider.one_model else ""
            current = open_parts.get(key)
            if current is not None and (
                current[0].count >= most or current[0].size + len(line) > provider.max_bytes
            ):
                _close(job, *current)
                current = None
            if current is None:
                part = Part(len(job.parts), key or None, 0, 0)
                job.parts.append(part)
                fd = os.open(job.part_file(part), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                current = open_parts[key] = (part, os.fdopen(fd, "wb"))
            current[1].write(line)
            part = current[0]
            part.count += 1
            part.size += len(line)
            if part.ranges and part.ranges[-1][1] == item.index:
                part.ranges[-1][1] += 1
            else:
                part.ranges.append([item.index, item.index + 1])
    except OSError as exc:
        _close_quietly(open_parts.values())
        raise write_failed("a request file", exc) from None
    except BaseException:
        _close_quietly(open_parts.values())
        raise
    for part, out in open_parts.values():
        _close(job, part, out)


def _close(job: Job, part: Part, out: IO[bytes]) -> None:
    """Close a request file. Its last lines reach the disk only now (the file
    object buffers them), so a full disk shows here: name the file."""
    try:
        out.close()
    except OSError as exc:
        raise write_failed(f"the request file {job.part_file(part)}", exc) from None


def _close_quietly(parts: Iterable[tuple[Part, IO[bytes]]]) -> None:
    for _, out in parts:  # on the way out of a failure that is already being reported
        with contextlib.suppress(OSError):
            out.close()
