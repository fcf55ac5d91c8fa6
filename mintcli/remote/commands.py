"""``mint batch status|fetch|cancel ID...``: remote batches by their ids.

``status`` and ``cancel`` print one JSON line per batch (``batch``, ``state``,
``ended``, ``done``, ``failed``, ``total``). ``fetch`` finds the local job the
ids belong to (a ``--no-wait`` run made it), waits for its batches, downloads
their results and writes the job's result lines, as the run would have.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from mintcli.base.capped import open_unwaited
from mintcli.base.terminal import Terminal
from mintcli.batch.items import Defaults
from mintcli.batch.results import lock_output
from mintcli.errors import UsageError
from mintcli.options.settings import BatchSettings
from mintcli.protocols import get_protocol
from mintcli.remote.answers import ID
from mintcli.remote.api import Api
from mintcli.remote.job import Job, find_batch, lock_job, with_kept, without_userinfo
from mintcli.remote.jobcheck import check_items
from mintcli.remote.plan import digest_of
from mintcli.remote.providers import get_provider
from mintcli.remote.retrycmd import retry_command
from mintcli.remote.run import Remote

COMMANDS = ("status", "fetch", "cancel")


def run_command(settings: BatchSettings, name: str, ids: list[str], term: Terminal) -> None:
    from mintcli.cli.chat import maybe_mock

    if not ids:
        raise UsageError(f"mint batch {name} needs the id of at least one remote batch")
    for ident in ids:  # a path segment of the request, never more (answers.ID)
        if ID.fullmatch(ident) is None:
            raise UsageError(f"{ident!r} is not a remote batch id")
    api_key = settings.key()
    with maybe_mock(settings.mock) as mock_url:
        base_url = mock_url or settings.base_url
        if name == "fetch":
            _fetch(settings, ids, term, base_url, api_key)
            return
        for ident in ids:
            found = find_batch(ident, without_userinfo(base_url))
            protocol = found[0].protocol if found else _protocol_of(ident, settings.protocol)
            provider = get_provider(protocol, term.secrets.redact)
            headers = get_protocol(protocol).headers(api_key)
            api = Api(base_url, settings, headers, None if settings.quiet else term.warn)
            try:
                action = provider.cancel if name == "cancel" else provider.status
                status = action(api, ident)
            finally:
                api.close()
            line = {"batch": ident, "state": status.state, "ended": status.ended}
            line.update(done=status.done, failed=status.failed, total=status.total)
            term.write(orjson.dumps(line) + b"\n")


def _protocol_of(ident: str, default: str) -> str:
    """A batch no local job knows: Anthropic's ids start with msgbatch_."""
    return "anthropic" if ident.startswith("msgbatch_") else default


def _fetch(
    settings: BatchSettings, ids: list[str], term: Terminal, base_url: str, api_key: str
) -> None:
    jobs: dict[str, Job] = {}
    for ident in ids:
        found = find_batch(ident, without_userinfo(base_url))
        if found is None:
            raise UsageError(
                f"no local job sent the batch {ident}: 'mint batch fetch' needs the job "
                "file of the run that submitted it (on this machine)"
            )
        jobs[found[0].id] = found[0]
    if len(jobs) > 1:
        raise UsageError("these batches belong to different jobs: fetch one job at a time")
    job = next(iter(jobs.values()))
    if settings.retry_failed:  # it would only fetch again, and fail the same items again
        raise UsageError(
            "mint batch fetch collects what the job sent; to send its failed items again: "
            + retry_command(job, settings)
        )
    lock_job(job.id)  # held (its fd open) until mint exits
    if job.input is None:
        raise UsageError("the job does not say where its input is")
    source = Path(job.input)
    try:  # never waiting on a FIFO put there: it reads as empty, not the input
        stream = open_unwaited(source)
    except OSError as exc:
        raise UsageError(f"the job's input {source}: {exc.strerror or exc}") from None
    with stream:
        digest = digest_of(stream)
        if digest.hexdigest() != job.input_sha256:
            raise UsageError(f"the job's input {source} has changed since it was submitted")
        check_items(job, digest.hexdigest(), digest.lines)
        retry = retry_command(job, settings)
        settings = with_kept(settings, job.settings).replace(
            output=settings.output or job.output, no_wait=False
        )
        path = Path(settings.output).expanduser() if settings.output else None
        if path is not None:
            lock_output(path)
        remote = Remote(settings, term, base_url, api_key, Defaults.from_settings(settings), path)
        remote.retry = retry
        try:
            remote.attach(job, stream)
        finally:
            remote.api.close()
