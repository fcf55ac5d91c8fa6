"""The local job file: what a remote batch job has done so far, so that a
killed run re-attaches instead of paying twice.

One directory per job under ``$XDG_STATE_HOME/mint/batches/`` (0700), named
by a hash of the input's bytes, the -O file, the protocol and the base URL.
It holds ``job.json`` (0600, no key: written whole to a temporary file and
renamed over the old one, so it is always one complete version), the request
file of each part (``part-N.jsonl``), each part's downloaded results
(``part-N.out-K``) and, for input from stdin, a copy of it (``input.jsonl``).
``job.json`` is written before anything is sent, and again the moment an id
(uploaded file, batch) exists, before the next request. ``batches/ID.lock``
keeps a second run off a job while one works on it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from mintcli.base.capped import open_unwaited
from mintcli.errors import ConfigError, write_failed
from mintcli.remote.jobcheck import check, damaged
from mintcli.storage.paths import lock_or_refuse, private_dir, state_dir

VERSION = 1
# The settings that decide how input lines become requests: 'mint batch fetch'
# reads the input again as the submitting run did.
KEPT = ("lines", "template", "shard", "protocol", "model", "system", "max_tokens",
        "temperature", "tool", "tools", "tool_choice", "option", "schema")  # fmt: skip


@dataclass
class Part:
    n: int
    model: str | None  # OpenAI: the model every request of the part names
    count: int  # requests
    size: int  # bytes of the request file
    # The items it holds, as [first, end) ranges of their index (custom_id mint-INDEX)
    ranges: list[list[int]] = field(default_factory=list)
    file: str | None = None  # the uploaded file's id (OpenAI)
    uploading: float | None = None  # when an upload was sent (its answer may never have come)
    batch: str | None = None  # the remote batch's id
    creating: float | None = None  # when a create was sent (its answer may never have come)
    state: str | None = None  # the provider's last word on the batch
    ended: bool = False
    problem: str | None = None  # why the whole batch failed
    results: list[str] = field(default_factory=list)  # downloaded files, in this directory
    fetched: bool = False  # every results file is downloaded
    found: bool = False  # the batch was found after a kill, not created: check it is ours
    rejected: list[str] = field(default_factory=list)  # batches found that were not ours


@dataclass
class Job:
    id: str
    dir: Path
    protocol: str
    input_sha256: str
    output: str | None
    base_url: str
    input: str | None = None  # the input file (stdin: a copy in this directory)
    settings: dict[str, Any] = field(default_factory=dict)  # how items were read (KEPT)
    # In every custom_id: a batch found again after a kill is checked to be this job's.
    tag: str = field(default_factory=lambda: os.urandom(4).hex())
    created: float = field(default_factory=time.time)
    parts: list[Part] = field(default_factory=list)
    append: bool = False  # the job's results go after those of an earlier run (--resume)
    writing: bool = False  # result lines have started to go to the output
    finished: bool = False  # every result line is written

    @property
    def path(self) -> Path:
        return self.dir / "job.json"

    def part_file(self, part: Part) -> Path:
        return self.dir / f"part-{part.n}.jsonl"

    def save(self) -> None:
        data = asdict(self)
        data["dir"] = str(self.dir)
        data["version"] = VERSION
        temporary = self.dir / "job.json.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            raise write_failed(f"the job file {self.path}", exc) from None

    def sent(self) -> Iterator[tuple[int, Part]]:
        """(item index, its part) for every item sent."""
        for part in self.parts:
            for first, end in part.ranges:
                for index in range(first, end):
                    yield index, part

    def batches(self) -> list[str]:
        return [p.batch for p in self.parts if p.batch]


def lock_job(ident: str) -> int:
    """One run per job at a time (two would both submit what neither has
    recorded yet): an flock on batches/ID.lock, held until the process ends."""
    lock = jobs_dir() / f"{ident}.lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise write_failed(f"the lock file {lock}", exc) from None
    lock_or_refuse(fd, "another mint batch --remote is working on this job; wait for it to end")
    return fd


def kept_settings(settings: Any) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in KEPT}


def with_kept(settings: Any, kept: dict[str, Any]) -> Any:
    """``settings`` as the job's submitting run had them (JSON made tuples lists)."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in kept.items() if k in KEPT}
    return settings.replace(**values)


def jobs_dir() -> Path:
    return private_dir(state_dir() / "batches")


def without_userinfo(url: str) -> str:
    """The base URL as the job file keeps it: no ``user:password@`` (no key on disk)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def job_id(input_sha256: str, output: str | None, protocol: str, base_url: str) -> str:
    key = "\0".join((input_sha256, output or "-", protocol, base_url))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def load(path: Path) -> Job | None:
    """The job in ``path`` (a job.json), or None when there is none or it is
    not one mint can read (an older format)."""
    try:
        with open_unwaited(path) as fh:  # a FIFO here must not hang 'mint batch status'
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ConfigError(f"the job file {path} is not a file; remove its directory")
            data: Any = orjson.loads(fh.read())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read the job file {path}: {exc}") from None
    if not isinstance(data, dict) or data.pop("version", None) != VERSION:
        return None
    data = check(data, path, KEPT)
    # The id is made of where the job reads and writes and whom it talks to:
    # an edit of any of these (another -O file, say) shows as a mismatch.
    made_of = (data["input_sha256"], data["output"], data["protocol"], data["base_url"])
    if data["id"] != job_id(*made_of):
        raise damaged(path, "id: not the hash of its input_sha256, output, protocol and base_url")
    data["parts"] = [Part(**p) for p in data["parts"]]
    return Job(**data)


def all_jobs() -> list[Job]:
    found = []
    for path in sorted(jobs_dir().glob("*/job.json")):
        job = load(path)
        if job is not None:
            found.append(job)
    return found


def find_batch(batch: str, base_url: str | None = None) -> tuple[Job, Part] | None:
    """The local job and part a remote batch id belongs to. Ids are the
    provider's, so two gateways may both have used one: an unfinished job
    comes first, then one of ``base_url``, then the newest."""
    found = [(job, part) for job in all_jobs() for part in job.parts if part.batch == batch]
    if not found:
        return None
    return max(found, key=lambda f: (not f[0].finished, f[0].base_url == base_url, f[0].created))
