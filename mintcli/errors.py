"""mint's one exception tree.

Every failure that reaches the user is a :class:`MintError`. Each class carries
the exit code it maps to, and whether a retry may help. Foreign exceptions
(httpx, OSError, JSON errors) are translated into this tree at one seam each
(see ``transport.py``); the command boundary in ``cli.py`` turns a MintError
into one ``mint: error: ...`` line and its exit code.
"""

from __future__ import annotations

import enum


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
    BROKEN_PIPE = 141
    INTERRUPTED = 130
    TERMINATED = 143


class MintError(Exception):
    """Base of every error mint reports to the user."""

    exit_code: ExitCode = ExitCode.INTERNAL
    retryable: bool = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Seconds the server asked us to wait (Retry-After / retry-after-ms), if any.
        self.retry_after = retry_after

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


class HTTPStatusError(MintError):
    """The server answered with a non-2xx status."""

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status


class RequestRejected(HTTPStatusError):
    """4xx other than 408/429 (409 is retried but still maps to exit 4)."""

    exit_code = ExitCode.REJECTED

    def __init__(self, message: str, *, status: int, retry_after: float | None = None) -> None:
        super().__init__(message, status=status, retry_after=retry_after)
        self.retryable = status == 409


class ServerError(HTTPStatusError):
    """5xx, or an error the server reported inside the stream."""

    exit_code = ExitCode.SERVER
    retryable = True


class RateLimited(HTTPStatusError):
    exit_code = ExitCode.RATE_LIMITED
    retryable = True


class InStreamError(MintError):
    """An error object sent inside a 200 stream (OpenAI ``{"error":...}``, Anthropic
    ``event: error``). Overloaded and server-side kinds are retryable."""

    def __init__(self, message: str, *, kind: str, exit_code: ExitCode, retryable: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.exit_code = exit_code
        self.retryable = retryable


class NetworkError(MintError):
    """Connection refused, DNS failure, reset, idle timeout, 408."""

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


class Interrupted(MintError):
    """Ctrl-C (SIGINT) or SIGTERM."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(
        self, message: str = "interrupted", *, signal_exit: ExitCode = ExitCode.INTERRUPTED
    ) -> None:
        super().__init__(message)
        self.exit_code = signal_exit
