"""``mint batch``: from settings to a finished batch.

Usage errors come first (flags, the input, the -O file), then the key; then
one transport (one httpx client, a kept-alive connection per worker) is shared
by every item, each run by the same runner as ``mint chat`` in a worker thread
(pool.py).
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from mintcli.base.terminal import Terminal, signals_as_errors
from mintcli.batch.items import Defaults, Item, Reader
from mintcli.batch.pacing import SharedPacer
from mintcli.batch.pool import Outcome, Pool
from mintcli.batch.progress import Progress, plural
from mintcli.batch.results import FileOutput, Output, ResultSink, lock_output, read_previous
from mintcli.errors import ExitCode, Interrupted, ItemsFailed, MintError, UsageError
from mintcli.options.settings import PROTOCOLS, BatchSettings
from mintcli.output.sinks import RunInfo
from mintcli.protocols import WireProtocol, get_protocol
from mintcli.request.model import join_url
from mintcli.run.retry import RetryPolicy
from mintcli.run.runner import ChatRun, RunConfig
from mintcli.wire.transport import Transport

if TYPE_CHECKING:
    from mintcli.output.accumulate import Reply
    from mintcli.toolloop.items import ItemTools

USAGE = "Usage: mint batch [OPTIONS] [INPUT|-]"


class ItemRunner:
    """Runs one item in a worker thread: the chat runner, streaming into a
    :class:`ResultSink`, over the shared transport and pacer."""

    def __init__(
        self,
        settings: BatchSettings,
        base_url: str,
        api_key: str,
        transport: Transport,
        pacer: SharedPacer,
        term: Terminal,
        schema: dict[str, Any] | None = None,
        tools: ItemTools | None = None,
    ) -> None:
        self.routes: dict[str, tuple[WireProtocol, str, dict[str, str]]] = {}
        for name in PROTOCOLS:  # an item may choose its protocol
            protocol = get_protocol(name)
            url = join_url(base_url, protocol.chat_path)
            self.routes[name] = (protocol, url, protocol.headers(api_key))
        self.policy = RetryPolicy(settings.max_retries, settings.retry_base, settings.retry_max)
        self.transport = transport
        self.pacer = pacer
        self.term = term
        self.quiet = settings.quiet
        self.tools = tools  # --tool-cmd / --mcp: each item is a tool loop
        self.extract = "last" if settings.extract_last else "first" if settings.extract else None
        self.check: Any = None
        if schema is not None:
            from mintcli.request.schema import compile_checker

            self.check = compile_checker(schema)  # compiled once, for every item

    def __call__(self, item: Item) -> Outcome:
        assert item.request is not None
        protocol, url, headers = self.routes[item.protocol]
        request = self.tools.offer(item.request) if self.tools is not None else item.request
        config = RunConfig(
            protocol=protocol,
            url=url,
            headers=headers,
            request=request,
            policy=self.policy,
            info=RunInfo(
                protocol=item.protocol,
                model=item.request.model,
                schema=self.check is not None,
                extract=self.extract,
            ),
            check=self.check,
        )
        sink = ResultSink(self.term, item, self.quiet)
        run = ChatRun(config, transport=self.transport, sink=sink, term=self.term, pacer=self.pacer)
        try:
            reply = run.stream()
            if self.tools is not None:
                self.tools.follow(reply, config, sink, self._stream_with(sink))
        except Interrupted:
            return Outcome(None)  # the batch stopped before the item started
        except MintError as error:
            if error.setup:
                return Outcome(None, stop=error)
            return Outcome(sink.line, failed=True)
        return Outcome(sink.line)

    def _stream_with(self, sink: ResultSink) -> Callable[[RunConfig], Reply]:
        """A further step of an item's tool loop: the same runner, sink and pacing."""

        def stream(config: RunConfig) -> Reply:
            run = ChatRun(
                config, transport=self.transport, sink=sink, term=self.term, pacer=self.pacer
            )
            return run.stream()

        return stream


def run_batch(settings: BatchSettings, source: str | None, term: Terminal) -> None:
    from mintcli.cli.chat import maybe_mock

    if (settings.resume or settings.retry_failed) and not settings.output:
        flag = "--retry-failed" if settings.retry_failed else "--resume"
        raise UsageError(f"{flag} needs -O FILE: the results of the earlier run", usage=USAGE)
    defaults = Defaults.from_settings(settings)
    stream = _open_input(source, term)
    try:
        path = _output_path(settings.output, stream)
        api_key = settings.key()
        with maybe_mock(settings.mock) as mock_url:
            base_url = mock_url or settings.base_url
            _run(settings, stream, path, base_url, api_key, defaults, term)
    finally:
        if stream is not term.stdin:
            stream.close()


def _run(
    settings: BatchSettings,
    stream: BinaryIO,
    path: Path | None,
    base_url: str,
    api_key: str,
    defaults: Defaults,
    term: Terminal,
) -> None:
    resume = settings.resume or settings.retry_failed
    if path:
        # Its fd stays open: the lock lasts until the process ends, after any
        # worker thread that may still be writing a line.
        lock_output(path)
    previous = read_previous(path, settings.retry_failed) if path and resume else None
    reader = Reader(stream, defaults, settings.shard)
    if previous is not None:
        reader.done, reader.failed = previous.done, previous.failed
    if previous is not None and previous.cut and not settings.quiet:
        term.note(f"{path}: removed a partial last line (the earlier run was killed mid-write)")
    output = FileOutput(term, path, append=resume) if path else Output(term)
    transport = Transport(
        base_url, settings, verbose=term.diag if settings.verbose else None, threads=True
    )
    stopping = threading.Event()
    pacer = SharedPacer(
        rpm=settings.rpm,
        cap=settings.retry_max,
        stopping=stopping,
        announce=None if settings.quiet else term.warn,
    )
    progress = Progress(term)
    tools = None
    if settings.tool_cmd or settings.mcp:
        from mintcli.toolloop.items import ItemTools

        tools = ItemTools(settings, term)  # a command that cannot run: exit 2 now
    pool = Pool(
        ItemRunner(settings, base_url, api_key, transport, pacer, term, defaults.schema, tools),
        output,
        concurrency=settings.concurrency,
        ordered=not settings.unordered,
        stopping=stopping,
        on_tick=progress.tick,
    )
    if term.stderr_isatty and _seekable(stream):
        pool.tally.total = reader.count()
    signals: list[int] = []

    def first_signal(signum: int) -> None:
        signals.append(signum)
        pool.stop()
        again = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
        term.note(
            f"stopping: no new items; {pool.tally.running} running ones finish first "
            f"({again} again to stop at once)"
        )

    ended = "cleanly"
    try:
        with signals_as_errors(first_signal):
            pool.run(iter(reader))
    except Interrupted as error:
        ended = "cut"  # a second signal
        if path:
            error.notes.append(_rest(path))
        raise
    except BaseException:
        ended = "broken"  # stdout closed (| head), a full disk, a bug: no summary
        raise
    finally:
        term.clear_status()
        output.close()
        if tools is not None:
            tools.close()
        if ended == "cleanly":
            transport.close()  # else worker threads may still be reading: exit instead
        if ended != "broken" and not settings.quiet:
            term.note(progress.summary(pool.tally, reader.skipped, reader.skipped_failed))
    _outcome(pool, signals, path, reader.skipped, reader.skipped_failed)


def _outcome(
    pool: Pool, signals: list[int], path: Path | None, skipped: int, skipped_failed: int
) -> None:
    """The batch's exit: a signal, a failure every item would meet, or items
    that failed (in this run, or in the earlier one whose results it skipped)."""
    if signals:
        error: MintError = (
            Interrupted("interrupted")
            if signals[0] == signal.SIGINT
            else Interrupted("terminated", signal_exit=ExitCode.TERMINATED)
        )
        if path:
            error.notes.append(_rest(path))
        raise error
    if pool.failure is not None:
        pool.failure.message = "the batch stopped: " + pool.failure.message
        if path:
            pool.failure.notes.append(_rest(path))
        raise pool.failure
    tally = pool.tally
    failed = tally.failed + skipped_failed
    if failed:
        error = ItemsFailed(
            f"{failed} of {plural(tally.finished + skipped, 'item')} failed; "
            "their result lines say why"
        )
        if path:
            error.notes.append("to retry them: the same command with --resume --retry-failed")
        raise error


def _rest(path: Path) -> str:
    return f"the same command with --resume does the rest (results so far are in {path})"


def _open_input(source: str | None, term: Terminal) -> BinaryIO:
    if source is None or source == "-":
        if source is None and term.stdin_isatty:
            raise UsageError(
                "no input: give a file of JSON lines (or - for stdin), or pipe it in",
                usage=USAGE,
            )
        return term.stdin
    try:
        return Path(source).expanduser().open("rb")
    except OSError as exc:
        raise UsageError(f"{source}: {exc.strerror or exc}") from None


def _output_path(output: str | None, stream: BinaryIO) -> Path | None:
    if not output:
        return None
    path = Path(output).expanduser()
    try:
        same = path.exists() and os.path.samestat(path.stat(), os.fstat(stream.fileno()))
    except (OSError, ValueError):
        same = False
    if same:
        raise UsageError(f"-O {output} is the input file; write the results somewhere else")
    return path


def _seekable(stream: BinaryIO) -> bool:
    """A regular file (which can be read twice), not a pipe or a terminal."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError):
        return False
