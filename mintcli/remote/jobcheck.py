"""A job file read back is checked field by field before mint acts on it.

The job file is mint's own, but it sits in the user's state directory where
anything may edit or damage it, and what it says is used: its ids go into URL
paths, its result names are joined to its directory (and removed), its item
ranges are walked one index at a time. So every field must have the type and
the shape mint writes: ids that are plain tokens (answers.ID), file names
mint makes itself, item ranges in order, apart and within the input (checked
once the input's line count is known: :func:`check_items`), settings that
their rows in the option table accept. Anything else is one configuration
error (exit 3) naming the file and the field.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

from mintcli.batch.progress import plural
from mintcli.errors import ConfigError
from mintcli.options import kinds
from mintcli.options.settings import PROTOCOLS, BatchSettings
from mintcli.remote.answers import ID

HEX = re.compile(r"[0-9a-f]+")
TEXT_MAX = 1 << 16  # a state or a problem: the provider's words, kept short


class Damaged(ValueError):
    """What is wrong with one field (``where`` names it, e.g. ``parts[0].batch``)."""


def damaged(path: Path, what: str) -> ConfigError:
    return ConfigError(f"the job file {path} is damaged ({what}); remove its directory")


def check(data: dict[str, Any], path: Path, kept: tuple[str, ...]) -> dict[str, Any]:
    """``data`` (a job.json's object, ``version`` taken out) with checked
    values, ``dir`` the directory it is in (never what the file says: a path
    there would have mint write and remove files elsewhere)."""
    try:
        return _check(data, path, kept)
    except Damaged as exc:
        raise damaged(path, str(exc)) from None


def _check(data: dict[str, Any], path: Path, kept: tuple[str, ...]) -> dict[str, Any]:
    fields = {
        "id": _hex(20), "dir": _text, "protocol": _choice(PROTOCOLS),
        "input_sha256": _hex(64), "output": _optional(_path), "base_url": _url,
        "input": _optional(_path), "settings": _dict, "tag": _hex(8), "created": _number,
        "parts": _list, "append": _bool, "writing": _bool, "finished": _bool,
    }  # fmt: skip
    _known(data, fields, "")
    if data["id"] != path.parent.name:
        raise Damaged(f"id: {data['id']} is not the name of its directory")
    data["dir"] = path.parent
    data["settings"] = _settings(data["settings"], kept)
    if data["settings"].get("protocol", data["protocol"]) != data["protocol"]:
        raise Damaged("settings.protocol: not the job's protocol")
    data["parts"] = [_part(n, part) for n, part in enumerate(data["parts"])]
    spans = sorted(r for p in data["parts"] for r in p["ranges"])
    for (_, end), (first, _) in itertools.pairwise(spans):
        if first < end:
            raise Damaged(f"parts: two parts hold item {first + 1}")  # (from 1, as lines)
    return data


def check_items(job: Any, sha256: str, lines: int) -> None:
    """The job is of this input (``sha256`` of its bytes), and every item it
    sent is one of the input's ``lines`` (an item is a line that is not
    blank): a range past them is a damaged file, which would otherwise have
    mint walk indices that no input has."""
    if job.input_sha256 != sha256:
        raise damaged(job.path, "input_sha256: not the hash of the input its name is made of")
    for part in job.parts:
        for _, end in part.ranges:
            if end > lines:
                of = plural(lines, "line")  # (items counted from 1 here, as lines are)
                raise damaged(job.path, f"parts[{part.n}].ranges: item {end} of an input of {of}")


def _part(n: int, data: Any) -> dict[str, Any]:
    where = f"parts[{n}]."
    ident = _optional(_id)
    fields = {
        "n": _int, "model": _optional(_text), "count": _int, "size": _int,
        "ranges": _list, "file": ident, "uploading": _optional(_number), "batch": ident,
        "creating": _optional(_number), "state": _optional(_text), "ended": _bool,
        "problem": _optional(_text), "results": _list, "fetched": _bool, "found": _bool,
        "rejected": _list,
    }  # fmt: skip
    if not isinstance(data, dict):
        raise Damaged(f"parts[{n}]: not an object")
    _known(data, fields, where)
    if data["n"] != n:
        raise Damaged(f"{where}n: {data['n']} where {n} was expected")
    total = 0
    previous = 0
    for first, end in (_range(r, where) for r in data["ranges"]):
        if first < previous:
            raise Damaged(f"{where}ranges: out of order")
        previous = end
        total += end - first
    if total != data["count"]:
        raise Damaged(f"{where}ranges: {plural(total, 'item')}, but count says {data['count']}")
    for k, name in enumerate(data["results"]):
        if name != f"part-{n}.out-{k}":  # the names mint gives its downloads, nothing else
            raise Damaged(f"{where}results: {_shown(name)} is not a name mint gives")
    for batch in data["rejected"]:
        _id(batch, f"{where}rejected")
    return data


def _range(value: Any, where: str) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(type(v) is int for v in value)
        or not 0 <= value[0] < value[1]
    ):
        raise Damaged(f"{where}ranges: {_shown(value)} is not a range of items")
    return value[0], value[1]


def _settings(data: Any, kept: tuple[str, ...]) -> dict[str, Any]:
    """The settings the submitting run read the input with, each as its row
    in the option table would take it from the config file."""
    if not isinstance(data, dict):
        raise Damaged("settings: not an object")
    rows = BatchSettings.rows
    checked: dict[str, Any] = {}
    for name, value in data.items():
        if name not in kept:
            raise Damaged(f"settings: unknown setting {_shown(name)}")
        row = rows[name]
        if value is None and row.default is None:
            checked[name] = None
            continue
        try:
            if isinstance(row.kind, kinds.Many):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError("must be a list of strings")
                checked[name] = tuple(value)
            elif isinstance(row.kind, kinds.Shard):
                if not isinstance(value, list) or not all(type(v) is int for v in value):
                    raise ValueError("must be K/N")
                checked[name] = row.kind.from_text("/".join(map(str, value)))
            else:
                checked[name] = row.kind.from_toml(value)
        except ValueError as exc:
            raise Damaged(f"settings.{name}: {exc}") from None
    return checked


def _known(data: dict[str, Any], fields: dict[str, Any], where: str) -> None:
    for name in data:
        if name not in fields:
            raise Damaged(f"{where}{_shown(name)}: not a field of a job file")
    for name, kind in fields.items():
        if name not in data:
            raise Damaged(f"{where}{name}: missing")
        kind(data[name], where + name)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _text(value: Any, where: str) -> None:
    if not isinstance(value, str) or len(value) > TEXT_MAX:
        raise Damaged(f"{where}: not a string")


def _path(value: Any, where: str) -> None:
    if not isinstance(value, str) or not value.startswith("/") or "\0" in value:
        raise Damaged(f"{where}: not an absolute path")


def _url(value: Any, where: str) -> None:
    try:
        kinds.Url().from_toml(value)
    except ValueError as exc:
        raise Damaged(f"{where}: {exc}") from None


def _id(value: Any, where: str) -> None:
    if not isinstance(value, str) or ID.fullmatch(value) is None:
        raise Damaged(f"{where}: {_shown(value)} is not a remote id")


def _bool(value: Any, where: str) -> None:
    if type(value) is not bool:
        raise Damaged(f"{where}: not true or false")


def _int(value: Any, where: str) -> None:
    if type(value) is not int or not 0 <= value <= kinds.MAX_INTEGER:
        raise Damaged(f"{where}: not a count")


def _number(value: Any, where: str) -> None:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise Damaged(f"{where}: not a number")


def _dict(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise Damaged(f"{where}: not an object")


def _list(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise Damaged(f"{where}: not a list")


def _hex(size: int) -> Any:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, str) or len(value) != size or HEX.fullmatch(value) is None:
            raise Damaged(f"{where}: not {size} hexadecimal digits")

    return check


def _choice(choices: tuple[str, ...]) -> Any:
    def check(value: Any, where: str) -> None:
        if value not in choices:
            raise Damaged(f"{where}: not one of {', '.join(choices)}")

    return check


def _optional(kind: Any) -> Any:
    def check(value: Any, where: str) -> None:
        if value is not None:
            kind(value, where)

    return check
