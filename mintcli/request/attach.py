"""``-a/--attach FILE|URL|-``: images and PDFs sent with the prompt.

A file (or stdin) is recognised by its first bytes, whatever its name says:
PNG, JPEG, GIF, WebP or PDF; anything else, a missing file or one over
:data:`MAX_BYTES` is a usage error naming it, before anything is sent. A URL
is sent as a URL (the provider fetches it): a path ending in ``.pdf`` is a
document, anything else an image.

In the request, attachments are content parts of the user message in mint's
own (OpenAI) shape: ``image_url`` with a data URL or the URL, ``file`` with
``file_data`` for a PDF; ``protocols/`` converts them (Anthropic ``image`` and
``document`` blocks).

A conversation keeps a file attachment by reference, as a part of its own::

    {"type": "attachment", "attachment": {"path", "media_type", "size", "sha256"}}

which ``--messages`` also reads: :func:`resolve_messages` reads the file again
and checks it is the same one (a moved, deleted or changed file is an error).
Attachments read from stdin have no file to point to and are kept inline.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from mintcli.base.capped import read_file_at_most
from mintcli.errors import UsageError

MAX_BYTES = 20 * 1024 * 1024  # per attachment: 20 MiB
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_KNOWN = "a PNG, JPEG, GIF or WebP image or a PDF"
REFERENCE = "attachment"  # the type of a stored reference part


def sniff(head: bytes) -> str | None:
    """The media type of a file from its first bytes, or None."""
    for magic, media in _MAGIC:
        if head.startswith(magic):
            return media
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if b"%PDF-" in head[:1024]:  # the header may follow a little junk
        return "application/pdf"
    return None


@dataclass(frozen=True)
class Attachment:
    """One attachment, read and recognised."""

    name: str  # as the user gave it
    media_type: str
    data: bytes | None = None  # None for a URL
    path: str | None = None  # the absolute path of a file
    url: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data or b"").hexdigest()

    def wire_part(self) -> dict[str, Any]:
        """The content part sent (mint's OpenAI shape)."""
        pdf = self.media_type == "application/pdf"
        if self.data is None:
            if pdf:
                return {"type": "file", "file": {"file_url": self.url}}
            return {"type": "image_url", "image_url": {"url": self.url}}
        url = f"data:{self.media_type};base64,{base64.b64encode(self.data).decode()}"
        if pdf:
            return {"type": "file", "file": {"filename": Path(self.name).name, "file_data": url}}
        return {"type": "image_url", "image_url": {"url": url}}

    def stored_part(self) -> dict[str, Any]:
        """The part a conversation keeps: a reference to a file, else the wire part."""
        if self.path is None or self.data is None:
            return self.wire_part()
        ref = {
            "path": self.path,
            "media_type": self.media_type,
            "size": len(self.data),
            "sha256": self.sha256,
        }
        return {"type": REFERENCE, REFERENCE: ref}


def _is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def _recognised(name: str, data: bytes) -> str:
    media = sniff(data[:1024])
    if media is None:
        what = "is empty" if not data else f"is not {_KNOWN} (recognised by content)"
        raise UsageError(f"-a {name}: {what}")
    return media


def _too_big(name: str, size: int) -> UsageError:
    return UsageError(f"-a {name}: {size:,} bytes is over the limit of {MAX_BYTES:,} (20 MiB)")


def load_attachment(spec: str, stdin: BinaryIO) -> Attachment:
    """Read and recognise one ``-a`` value (exit 2 naming it when unusable)."""
    if spec == "-":
        data = stdin.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise _too_big("- (stdin)", len(data))
        return Attachment("stdin", _recognised("- (stdin)", data), data)
    if not spec.strip():
        raise UsageError("-a: the path is empty")
    if _is_url(spec):
        pdf = spec.split("?")[0].split("#")[0].lower().endswith(".pdf")
        return Attachment(spec, "application/pdf" if pdf else "image", url=spec)
    path = Path(spec).expanduser()
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise UsageError(f"-a {spec}: is a directory")
        if size > MAX_BYTES:
            raise _too_big(spec, size)
        read = read_file_at_most(path, MAX_BYTES)
    except OSError as exc:
        raise UsageError(f"-a {spec}: {exc.strerror or exc}") from None
    if read is None:  # it grew since the stat, or stat knew no size (a device, a pipe)
        raise UsageError(f"-a {spec}: over the limit of {MAX_BYTES:,} bytes (20 MiB)")
    data = read
    return Attachment(spec, _recognised(spec, data), data, path=str(path.resolve()))


def resolve_messages(messages: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """The messages with every stored reference replaced by the file's content
    part, after checking the file is still there and unchanged."""
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(_is_reference(p) for p in content):
            parts = [_resolve(p, where) if _is_reference(p) else p for p in content]
            message = {**message, "content": parts}
        out.append(message)
    return out


def _is_reference(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == REFERENCE


def _resolve(part: dict[str, Any], where: str) -> dict[str, Any]:
    ref = part.get(REFERENCE)
    path = ref.get("path") if isinstance(ref, dict) else None
    if (
        not isinstance(ref, dict)
        or not isinstance(path, str)
        or not isinstance(ref.get("sha256"), str)
    ):
        raise UsageError(f"{where}: an attachment reference needs a path and a sha256")
    try:
        data = read_file_at_most(Path(path), MAX_BYTES)
    except FileNotFoundError:
        raise UsageError(
            f"{where}: the attachment {path} is gone (moved or deleted since it was "
            "attached); put it back, or start a new conversation"
        ) from None
    except OSError as exc:
        raise UsageError(f"{where}: the attachment {path}: {exc.strerror or exc}") from None
    if data is None:
        raise UsageError(f"{where}: the attachment {path} is over the limit of 20 MiB")
    if hashlib.sha256(data).hexdigest() != ref["sha256"]:
        raise UsageError(
            f"{where}: the attachment {path} has changed since it was attached "
            "(its sha256 differs); restore it, or start a new conversation"
        )
    media = str(ref.get("media_type") or _recognised(path, data))
    return Attachment(path, media, data, path=path).wire_part()


# -- showing requests: attachments shortened, never megabytes of base64 -----------------

_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]+")
_LONG = 256  # characters; shorter values are shown whole
_HEAD = 24  # characters of base64 kept


def shorten(value: Any) -> Any:
    """A copy of a request body with every long base64 payload (a data URL, an
    Anthropic base64 source) cut to its first characters and a note of its size."""
    if isinstance(value, dict):
        return {k: shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten(v) for v in value]
    if isinstance(value, str) and len(value) > _LONG:
        prefix, sep, payload = value.partition(";base64,")
        if sep and prefix.startswith("data:"):
            return f"{prefix};base64,{_brief(payload)}"
        if _BASE64.fullmatch(value):
            return _brief(value)
    return value


def _brief(payload: str) -> str:
    size = len(payload) * 3 // 4 - payload[-2:].count("=")
    return f"{payload[:_HEAD]}… [{size:,} bytes as {len(payload):,} base64 characters]"


def part_url(part: Any) -> str | None:
    """The data URL or URL of an attachment part (image_url or file), else None."""
    if not isinstance(part, dict):
        return None
    if part.get("type") == "image_url":
        return str((part.get("image_url") or {}).get("url", ""))
    if part.get("type") == "file":
        file = part.get("file") or {}
        return str(file.get("file_data") or file.get("file_url") or "")
    return None


def describe(messages: list[dict[str, Any]]) -> list[str]:
    """One line per attachment in the messages, for -v."""
    lines = []
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            url = part_url(part)
            if url is not None:
                lines.append("attachment: " + (shorten(url) if url.startswith("data:") else url))
    return lines
