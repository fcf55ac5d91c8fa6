"""``mint batch --remote``: plan, submit, wait, download, write.

Every step first looks at the job file (job.py) and does only what it does
not record as done, so that ``--resume`` after a kill anywhere carries on
from there: request files are written before anything is sent, an upload or
a batch id is saved the moment it exists, a download lands under its name
only when whole, and result lines go to the -O file in input order, where
--resume finds the ones already written.
"""

from __future__ import annotations

import shutil
import time
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

from mintcli.base.terminal import Terminal, signals_as_errors
from mintcli.batch.command import USAGE, _open_input, _output_path
from mintcli.batch.items import Defaults, Reader
from mintcli.batch.progress import clock, plural
from mintcli.batch.results import FileOutput, Output, lock_output, read_previous
from mintcli.errors import Interrupted, ItemsFailed, RequestRejected, UsageError
from mintcli.options.settings import BatchSettings
from mintcli.protocols import get_protocol
from mintcli.remote.api import Api
from mintcli.remote.collect import CUSTOM_ID, Written, capped_lines, download_cap, write_all
from mintcli.remote.job import (
    Job,
    job_id,
    jobs_dir,
    kept_settings,
    load,
    lock_job,
    without_userinfo,
)
from mintcli.remote.jobcheck import check_items
from mintcli.remote.plan import Digest, build_parts, hashed
from mintcli.remote.providers import Provider, Status, get_provider

FIRST_POLL = 1.0  # seconds before the first poll; then half as long again each time


def run_remote(settings: BatchSettings, source: str | None, term: Terminal) -> None:
    from mintcli.cli.chat import maybe_mock

    if settings.unordered:
        raise UsageError("--unordered is for local batches; --remote writes in input order")
    if (settings.resume or settings.retry_failed) and not settings.output:
        flag = "--retry-failed" if settings.retry_failed else "--resume"
        raise UsageError(f"{flag} needs -O FILE: the results of the earlier run", usage=USAGE)
    defaults = Defaults.from_settings(settings)
    stream = _open_input(source, term)
    spool: Path | None = None
    try:
        path = _output_path(settings.output, stream)
        api_key = settings.key()
        with ExitStack() as stack:
            # Until the job takes the copy of stdin, Ctrl-C or SIGTERM end here too,
            # through the finally below that removes it (attach has its own).
            with signals_as_errors():
                data, digest, spool = hashed(stream, jobs_dir())
                if data is not stream:
                    stack.callback(data.close)
                named = None if spool is not None else str(Path(source or "-").resolve())
                mock_url = stack.enter_context(maybe_mock(settings.mock))
                url = mock_url or settings.base_url
                remote = Remote(settings, term, url, api_key, defaults, path)
                stack.callback(remote.api.close)
                job = remote.job_for(data, digest, named, spool)
                spool = None  # the job keeps it, or it is gone
            remote.attach(job, data)
    finally:
        if spool is not None:
            spool.unlink(missing_ok=True)
        if stream is not term.stdin:
            stream.close()


class Remote:
    def __init__(
        self,
        settings: BatchSettings,
        term: Terminal,
        base_url: str,
        api_key: str,
        defaults: Defaults,
        path: Path | None,
    ) -> None:
        self.settings = settings
        self.term = term
        self.defaults = defaults
        self.path = path
        self.base_url = base_url
        self.provider: Provider = get_provider(settings.protocol, term.secrets.redact)
        warn = None if settings.quiet else term.warn
        headers = get_protocol(settings.protocol).headers(api_key)
        self.api = Api(base_url, settings, headers, warn, term.diag if settings.verbose else None)
        self.started = time.monotonic()
        self._downloads: dict[int, tuple[str, ...]] = {}  # part -> its results, once ended
        # What sends the failed items again ('mint batch fetch' sets its own).
        self.retry = "the same command with --resume --retry-failed"

    def job_for(
        self, stream: BinaryIO, digest: Digest, named: str | None, spool: Path | None
    ) -> Job:
        """The unfinished job of this input and -O (with --resume), or a new one."""
        settings = self.settings
        resume = settings.resume or settings.retry_failed
        output = str(self.path.resolve()) if self.path else None
        base_url = without_userinfo(self.base_url)
        ident = job_id(digest.hexdigest(), output, settings.protocol, base_url)
        lock_job(ident)  # held (its fd open) until mint exits
        if self.path is not None:
            lock_output(self.path)
        directory = jobs_dir() / ident
        job = load(directory / "job.json")
        if job is not None:
            check_items(job, digest.hexdigest(), digest.lines)
        if job is not None and not job.finished and not resume:
            raise UsageError(
                f"this input already has an unfinished remote job (batches: "
                f"{', '.join(job.batches()) or 'none created yet'}); add --resume to "
                "re-attach to it, or cancel it with 'mint batch cancel ID...'",
                usage=USAGE,
            )
        if job is not None and not job.finished:
            if spool is not None:
                spool.unlink()
            if settings.retry_failed and not settings.quiet:
                self.term.note("an unfinished remote job comes first; --retry-failed after it")
            return job
        shutil.rmtree(directory, ignore_errors=True)  # a finished job's leftovers
        directory.mkdir(mode=0o700)
        if spool is not None:
            named = str(spool.replace(directory / "input.jsonl"))
        job = Job(ident, directory, settings.protocol, digest.hexdigest(), output, base_url, named)
        job.settings = kept_settings(settings)
        try:
            return self._plan(stream, job, resume)
        except BaseException:  # nothing is sent before the plan is saved: leave no half job
            shutil.rmtree(directory, ignore_errors=True)
            raise

    def attach(self, job: Job, stream: BinaryIO) -> None:
        """Carry the job on from where its file says it is. Ctrl-C or SIGTERM
        stop mint, not the remote batches: the note says how to re-attach."""
        try:
            with signals_as_errors():
                written = self._steps(job, stream)
        except Interrupted as error:
            error.notes.append(_rest(job))
            raise
        finally:
            self.term.clear_status()
        if written is not None:
            self._finish(job, *written)

    def _steps(self, job: Job, stream: BinaryIO) -> tuple[Written, int] | None:
        try:
            self._submit(job)
        except RequestRejected:
            if not job.batches():  # nothing remote to re-attach to: start afresh next time
                shutil.rmtree(job.dir, ignore_errors=True)
            raise
        if self.settings.no_wait:
            for batch in job.batches():
                self.term.write(batch.encode() + b"\n")
            return None
        self._wait(job)
        while not self._fetch(job):  # a batch found again was not this job's: send anew
            self._submit(job)
            self._wait(job)
        stream.seek(0)
        return self._write(job, stream)

    def _plan(self, stream: BinaryIO, job: Job, resume: bool) -> Job:
        """A new job: its request files and its job file, before anything is sent."""
        job.append = resume
        reader = Reader(stream, self.defaults, self.settings.shard)
        if resume and self.path is not None:
            previous = read_previous(self.path, self.settings.retry_failed)
            reader.done, reader.failed = previous.done, previous.failed
        build_parts(job, self.provider, reader, self.settings.part_size)
        job.save()
        return job

    def _submit(self, job: Job) -> None:
        for part in job.parts:
            if part.batch is None:
                self.provider.submit(self.api, job.id, part, job.part_file(part), job.save)

    def _wait(self, job: Job) -> None:
        """Poll every part until it ends, each less often as time goes by."""
        wait = min(FIRST_POLL, self.settings.poll)
        statuses: dict[int, Status] = {}
        while True:
            for part in job.parts:
                if part.ended:
                    continue
                assert part.batch is not None
                status = self.provider.status(self.api, part.batch)
                statuses[part.n] = status
                if status.state != part.state or status.ended:
                    part.state, part.ended = status.state, status.ended
                    part.problem = status.problem
                    if status.ended:
                        self._downloads[part.n] = status.downloads
                    job.save()
            self._progress(job, statuses)
            if all(part.ended for part in job.parts):
                return
            time.sleep(wait)
            wait = min(wait * 1.5, self.settings.poll)

    def _progress(self, job: Job, statuses: dict[int, Status]) -> None:
        if not self.term.stderr_isatty:
            return
        done = sum(s.done for s in statuses.values())
        failed = sum(s.failed for s in statuses.values())
        total = sum(s.total for s in statuses.values()) or sum(p.count for p in job.parts)
        states = sorted({p.state or "submitted" for p in job.parts})
        elapsed = clock(time.monotonic() - self.started)
        self.term.show_status(
            f"mint batch --remote: {done}/{total} done, {failed} failed, "
            f"{'/'.join(states)}, {elapsed}"
        )

    def _fetch(self, job: Job) -> bool:
        """Download every part's results; False when a part found again after a
        kill turns out not to be this job's batch (it is then to be sent anew)."""
        for part in job.parts:
            if part.fetched and all((job.dir / name).exists() for name in part.results):
                continue  # (a finished job's results are removed once written)
            assert part.batch is not None
            downloads = self._downloads.get(part.n)
            if downloads is None:  # resumed after the batch ended: ask again where
                downloads = self.provider.status(self.api, part.batch).downloads
            names = []
            for k, source in enumerate(downloads):
                name = f"part-{part.n}.out-{k}"
                self.api.download(source, job.dir / name, download_cap(part.count))
                names.append(name)
            if part.found and not _ours(job, [job.dir / name for name in names]):
                # Another batch of the same size may be the one the stopped run
                # made: look again, past this one, before sending the part anew.
                self.term.warn(
                    f"{part.batch} is not this job's batch after all; looking again for part "
                    f"{part.n}'s (or sending it anew)"
                )
                for name in names:
                    (job.dir / name).unlink(missing_ok=True)
                part.rejected.append(part.batch)
                part.batch, part.state = None, None
                part.found = part.ended = False
                self._downloads.pop(part.n, None)
                job.save()
                return False
            part.results, part.fetched = names, True
            job.save()
        return True

    def _write(self, job: Job, stream: BinaryIO) -> tuple[Written, int]:
        """Every result line; after a kill while writing, only the missing ones."""
        reader = Reader(stream, self.defaults, self.settings.shard)
        skipped_failed = 0
        output: Output
        if self.path is None:
            output = Output(self.term)
        else:
            append = job.append or job.writing
            if append:
                previous = read_previous(self.path, False)
                reader.done, reader.failed = previous.done, previous.failed
            job.writing = True
            job.save()
            output = FileOutput(self.term, self.path, append=append)
        try:
            written = write_all(job, self.provider, reader, output, self.defaults.schema)
        finally:
            output.close()
        skipped_failed = reader.skipped_failed
        return written, skipped_failed

    def _finish(self, job: Job, written: Written, skipped_failed: int) -> None:
        if written.unreadable:
            lines = plural(written.unreadable, "line")
            self.term.warn(f"{lines} of the batch results could not be read")
        job.finished = True
        job.save()
        for part in job.parts:  # the results are in the -O file now
            job.part_file(part).unlink(missing_ok=True)
            (job.dir / "input.jsonl").unlink(missing_ok=True)
            for name in part.results:
                (job.dir / name).unlink(missing_ok=True)
        if self.term.stderr_isatty and not self.settings.quiet:
            self.term.note(
                f"remote batch: {written.succeeded} succeeded, {written.failed} failed, "
                f"in {len(job.parts)} batch(es); {clock(time.monotonic() - self.started)}"
            )
        failed = written.failed + skipped_failed
        if failed:
            error = ItemsFailed(f"{plural(failed, 'item')} failed; their result lines say why")
            if self.path:
                error.notes.append(f"to retry them: {self.retry}")
            raise error


def _ours(job: Job, files: list[Path]) -> bool:
    """Whether the results hold this job's custom_ids (they end with its tag)."""
    ending = f"-{job.tag}".encode()
    for path in files:
        with path.open("rb") as fh:
            for _, line, _ in capped_lines(fh):
                found = CUSTOM_ID.search(line)
                if found is not None:
                    return found.group(1).endswith(ending)
    return False


def _rest(job: Job) -> str:
    batches = ", ".join(job.batches()) or "none created yet"
    return (
        f"the remote batches ({batches}) go on; the same command with --resume re-attaches to them"
    )
