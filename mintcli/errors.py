"""mint's one exception tree, its exit codes, and the tables that classify failures.

Every failure mint reports is a :class:`MintError` raised where it happens. Each
class carries its exit code and whether a retry may help. Foreign exceptions
(httpx, OSError, JSON errors) are translated where they enter: httpx's in
``wire.transport.mapped_errors``, the rest in the module that calls the foreign code.
Nothing below the command line prints an error: ``mintcli.cli.main`` catches every
MintError, broken pipe and interrupt and turns it into one ``mint: error: ...``
line and the exit code.

The two classification tables are pure functions: :func:`error_for_status`
(an HTTP status) and :func:`error_for_stream` (an error object inside a 200
stream).
"""

from __future__ import annotations

import enum
import errno


class ExitCode(enum.IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFIG = 3
    REJECTED = 4
    SERVER = 5
    RATE_LIMITED = 6
    NETWORK = 7
    PROTOCOL = 8
    ITEMS_FAILED = 9
    SCHEMA = 10  # 9 is taken by mint batch (items failed)
    WRITE_FAILED = 11
    REFUSED = 12  # 11 is a local write failure
    STEP_LIMIT = 13  # the tool loop reached --max-steps
    NO_CODE_BLOCK = 14
    INTERRUPTED = 130
    BROKEN_PIPE = 141
    TERMINATED = 143

    @property
    def meaning(self) -> str:
        """One line for the README, the man page and ``--help``."""
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.INTERNAL: "internal error (a bug; run with --debug for a traceback)",
    ExitCode.USAGE: (
        "usage error: bad option, no prompt, unreadable or malformed input file, "
        "or an output file another mint is writing"
    ),
    ExitCode.CONFIG: "configuration error or missing API key",
    ExitCode.REJECTED: "request rejected: HTTP 4xx other than 408 and 429",
    ExitCode.SERVER: "server error: HTTP 5xx or an error reported inside the stream",
    ExitCode.RATE_LIMITED: "rate limited: HTTP 429",
    ExitCode.NETWORK: "network failure or timeout",
    ExitCode.PROTOCOL: (
        "protocol error: malformed or truncated stream, an answer that is not HTTP, or a redirect"
    ),
    ExitCode.ITEMS_FAILED: "some items of a batch failed (their result lines say why)",
    ExitCode.SCHEMA: "the reply is not JSON, or not valid against --schema",
    ExitCode.WRITE_FAILED: (
        "a local write failed: disk full, I/O error, or stdout, -O, the journal, "
        "--record or the log database not writable"
    ),
    ExitCode.REFUSED: "the model refused (a refusal instead of an answer)",
    ExitCode.STEP_LIMIT: "tool loop reached --max-steps (the model still called tools)",
    ExitCode.NO_CODE_BLOCK: "-x/--extract: the reply has no fenced code block",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
    ExitCode.BROKEN_PIPE: "stdout closed early (for example by head)",
    ExitCode.TERMINATED: "terminated (SIGTERM)",
}


def exit_status_help() -> str:
    """The exit codes as a section of ``--help`` (click's \\b keeps the rows as they are)."""
    rows = "".join(f"\n  {int(code):<4}{code.meaning}" for code in ExitCode)
    return f"\n\n\b\nExit status:{rows}"


class MintError(Exception):
    """Base of every error mint reports to the user."""

    exit_code: ExitCode = ExitCode.INTERNAL
    retryable: bool = False
    # The reply itself arrived whole (the failure is about what it says), so
    # there is nothing to --resume.
    reply_complete: bool = False
    # The failure lies in the setup (the key, the address, the certificates), not
    # in one request: every other request would fail the same way. mint batch
    # stops at the first one instead of failing each item alike.
    setup: bool = False

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        retryable: bool | None = None,
        setup: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        # Seconds the server asked us to wait (Retry-After / retry-after-ms), if any.
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable
        if setup is not None:
            self.setup = setup
        # Lines printed after the error line (``mint: ...``), such as how to resume.
        self.notes: list[str] = []

    def __str__(self) -> str:
        return self.message


class UsageError(MintError):
    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, usage: str | None = None) -> None:
        super().__init__(message)
        # A "Usage: ..." line to print above the error, when it helps.
        self.usage = usage


class ConfigError(MintError):
    exit_code = ExitCode.CONFIG
    setup = True


class RequestRejected(MintError):
    """The server refused the request itself (4xx other than 408/429)."""

    exit_code = ExitCode.REJECTED


class ServerError(MintError):
    """The server failed: a 5xx, or an error it reported inside the stream."""

    exit_code = ExitCode.SERVER
    retryable = True


class RateLimited(MintError):
    exit_code = ExitCode.RATE_LIMITED
    retryable = True


class NetworkError(MintError):
    """Connection refused, DNS failure, reset, idle timeout, HTTP 408."""

    exit_code = ExitCode.NETWORK
    retryable = True


class RunTimeout(MintError):
    """The whole-run deadline (--timeout) passed. Never retried."""

    exit_code = ExitCode.NETWORK


class ProtocolError(MintError):
    """The stream was not what the protocol promises (bad JSON, wrong content type)."""

    exit_code = ExitCode.PROTOCOL


class TruncatedStream(ProtocolError):
    """The stream ended cleanly but before its terminator."""

    retryable = True


class SchemaMismatch(MintError):
    """The finished reply is not JSON, or not valid against ``--schema``."""

    exit_code = ExitCode.SCHEMA
    reply_complete = True


class WriteFailed(MintError):
    """A file mint writes (stdout, -O, the journal, --record, a saved
    conversation) refused the bytes: a full disk, an I/O error, a closed fd."""

    exit_code = ExitCode.WRITE_FAILED
    # Of a write to stdout that failed part of the way: the bytes that did not
    # get out, which the journal keeps so that --resume prints them first.
    unprinted = b""


# Errors of a write that found no room or a broken device (exit 11), as
# opposed to a place mint may not use at all (a configuration error, exit 3).
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG})


def write_failed(what: str, exc: OSError) -> WriteFailed:
    """The one wording of a failed local write: what, and the system's reason."""
    return WriteFailed(f"cannot write {what}: {exc.strerror or exc}")


class Refused(MintError):
    """The model refused: OpenAI's ``refusal`` text, Anthropic's ``stop_reason:
    "refusal"``. The reply arrived whole; asking again the same way would not help."""

    exit_code = ExitCode.REFUSED
    reply_complete = True


class StepLimit(MintError):
    """The tool loop reached --max-steps and the model still called tools."""

    exit_code = ExitCode.STEP_LIMIT
    reply_complete = True  # every reply arrived whole: nothing to resume
class NoCodeBlock(MintError):
    """``-x``/``--extract-last``: the finished reply holds no fenced code block."""

    exit_code = ExitCode.NO_CODE_BLOCK
    reply_complete = True


class ItemsFailed(MintError):
    """mint batch: the batch ran, and some of its items failed."""

    exit_code = ExitCode.ITEMS_FAILED


class Interrupted(MintError):
    """Ctrl-C (SIGINT) or SIGTERM."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(
        self, message: str = "interrupted", *, signal_exit: ExitCode = ExitCode.INTERRUPTED
    ) -> None:
        super().__init__(message)
        self.exit_code = signal_exit


# -- classification ----------------------------------------------------------------------

_KEY_HINT = " (check the API key: --api-key, MINT_API_KEY or api_key in the config)"


def error_for_status(
    status: int, message: str | None, retry_after: float | None = None
) -> MintError:
    """A non-2xx HTTP answer as a mint error, quoting the server's own message.

    429 is rate limiting; 408 a network timeout; 409 (a conflict that a new
    attempt may not meet) and every 5xx are retried; other 4xx are final."""
    from http import HTTPStatus

    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "error"
    text = f"HTTP {status} {reason}" + (f": {message}" if message else "")
    if status == 429:
        return RateLimited(text, retry_after=retry_after)
    if status == 408:
        return NetworkError(text, retry_after=retry_after)
    if 400 <= status < 500:
        if status in (401, 403):
            text += _KEY_HINT
        # A refused key refuses every request; a 403 may be about one model only.
        return RequestRejected(
            text, retry_after=retry_after, retryable=status == 409, setup=status == 401
        )
    if status >= 500:
        return ServerError(text, retry_after=retry_after)
    return ProtocolError(f"unexpected HTTP status {status}" + (f": {message}" if message else ""))


_REJECTED_KINDS = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "billing_error",
    }
)


def error_for_stream(kind: str | None, message: str | None) -> MintError:
    """An error object sent inside a 200 stream (OpenAI ``{"error": ...}``,
    Anthropic ``event: error``) as a mint error. Rate limits are exit 6, a
    refused request exit 4; overloaded, server-side and unknown kinds mean the
    server failed mid-answer, which a new attempt may well fix (exit 5)."""
    kind = kind or "error"
    text = f"server error in stream: {message or kind}"
    lowered = kind.lower()
    if "rate_limit" in lowered:
        return RateLimited(text)
    if lowered in _REJECTED_KINDS:
        return RequestRejected(text)
    return ServerError(text)
