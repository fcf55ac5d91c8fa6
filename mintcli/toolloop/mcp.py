"""A small MCP client over stdio: JSON-RPC 2.0, one message per line.

mint speaks the few methods it needs itself (``server/discover``, else
``initialize`` and ``notifications/initialized``; ``tools/list`` with its
cursor, ``tools/call``, ``notifications/cancelled``) instead of importing the
official SDK, whose client costs about 0.65 s to import (pydantic, anyio);
this module costs a few milliseconds (see the design note in
docs/architecture.md).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import orjson

from mintcli.base.sanitize import clip
from mintcli.errors import UsageError
from mintcli.toolloop.jsonrpc import problem as jsonrpc_problem
from mintcli.toolloop.proc import CUT_NOTE, Capped, Outcome, decode
from mintcli.toolloop.unrunnable import Unrunnable

if TYPE_CHECKING:
    from mintcli.toolloop.watchdog import Watchdog

PROTOCOL_VERSION = "2025-06-18"  # asked for in the initialize handshake
# The revisions with the initialize handshake that mint can speak: the methods it
# uses (tools/list, tools/call, notifications/cancelled) are the same in all. A
# server may answer initialize with another version than the one asked for; the
# client disconnects from one it does not know (the lifecycle's version negotiation).
HANDSHAKE_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
# The stateless revision: no handshake; a server says it speaks it in its answer
# to server/discover, and every request then carries the version in _meta.
STATELESS_VERSION = "2026-07-28"
CLIENT_INFO = {"name": "mint", "version": "1"}
START_TIMEOUT = 30.0  # the probe, initialize and tools/list together
# A server of an earlier revision answers server/discover with an error at once;
# one that stays silent is taken for one after this long.
PROBE_TIMEOUT = 5.0
# One message from a server, in bytes: a longer line is an error, not memory. A
# result is cut to --tool-output-max (default 1 MiB of text) anyway, and a tools/list
# page of 128 tools is far smaller; 16 MiB is the cap on one SSE event too. Reading
# it costs about twice its size at the peak (the line, then its parsed strings).
LINE_MAX = 16 << 20
STDERR_LINE = 500  # bytes kept of one line of a server's stderr (the last 20 lines are kept)
MAX_TOOLS = 128  # the most tools OpenAI's Chat Completions accepts in one request
SHUTDOWN_WAIT = 2.0  # after closing its stdin, as the official SDK waits
KILL_WAIT = 0.5  # after SIGTERM


class ServerGone(Exception):
    """The server exited, closed its stdout, or sent something that is not JSON-RPC."""


class McpServer:
    """One MCP server process and the requests in flight to it."""

    def __init__(self, command: str, env: dict[str, str], watchdog: Watchdog | None = None) -> None:
        try:
            self.argv = shlex.split(command)
        except ValueError as exc:
            raise Unrunnable("mcp", command, str(exc)) from None
        if not self.argv:
            raise UsageError("--mcp: the command is empty")
        self.command = command
        self.name = server_name(self.argv)
        self._ids = itertools.count(1)
        self._waiting: dict[int, list[Any]] = {}  # id -> [event, response]
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._gone: str | None = None
        self._stderr: deque[bytes] = deque(maxlen=20)
        self.stuck = False
        self.meta: dict[str, Any] | None = None  # the _meta of every request (stateless)
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the command
            reason = getattr(exc, "strerror", None) or exc
            raise Unrunnable("mcp", command, f"cannot start {self.argv[0]}: {reason}") from None
        self.watchdog = watchdog
        if watchdog is not None:  # a server that ignores the end of its stdin dies with mint too
            watchdog.add(self.proc.pid)
        for target in (self._read_stdout, self._read_stderr):
            threading.Thread(target=target, daemon=True, name="mint-mcp").start()

    # -- the wire ----------------------------------------------------------------------
    def _read_stdout(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        closed = reason = "the server closed its stdout"
        try:
            while True:
                line = stdout.readline(LINE_MAX + 1)
                if not line:
                    break
                if len(line) > LINE_MAX:
                    reason = f"the server sent a line longer than {LINE_MAX >> 20} MiB"
                    break
                if line.isspace():  # (strip would copy a long line)
                    continue
                try:
                    message = orjson.loads(line)
                except orjson.JSONDecodeError:
                    reason = f"the server sent something that is not JSON: {decode(line[:80])!r}"
                    break
                del line  # not held while the next line is awaited
                # a batch (an array of messages) is the 2025-03-26 revision's
                batch = message if isinstance(message, list) and message else [message]
                problem = next(filter(None, map(self._dispatch, batch)), None)
                if problem is not None:
                    reason = f"the server sent something that is not JSON-RPC ({problem})"
                    break
        except (OSError, ValueError):
            pass
        else:
            # It broke the protocol (else it closed its stdout): no shutdown wait for
            # one that may be blocked writing the rest of what mint stopped reading.
            self.stuck = self.stuck or reason is not closed
        self._fail(reason)

    def _read_stderr(self) -> None:
        stderr = self.proc.stderr
        assert stderr is not None
        whole = True  # the piece before ended its line
        with contextlib.suppress(OSError, ValueError):
            # in bounded pieces: a line without end must not fill memory
            while piece := stderr.readline(STDERR_LINE):
                if whole:
                    self._stderr.append(piece if piece.endswith(b"\n") else piece + b"\n")
                whole = piece.endswith(b"\n")

    def _dispatch(self, message: Any) -> str | None:
        """Hand on one message; what is wrong with it when it is no JSON-RPC 2.0
        message at all (jsonrpc.py)."""
        wrong = jsonrpc_problem(message)
        if wrong is not None:
            return wrong
        if "method" in message:
            if "id" in message:  # a request from the server (ping, ...): answer it
                reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
                if message["method"] == "ping":
                    reply["result"] = {}
                else:
                    reply["error"] = {"code": -32601, "message": "method not found"}
                with contextlib.suppress(ServerGone):
                    self._send(reply)
            return None  # notifications (logging, progress, list_changed) are not needed
        ident = message.get("id")
        with self._lock:  # mint's ids are ints (a float or a string is no answer of mint's)
            slot = self._waiting.pop(ident, None) if type(ident) is int else None
        if slot is not None:
            slot[1] = message
            slot[0].set()
        return None  # an answer to no request of mint's (one it gave up on) is dropped

    def _fail(self, reason: str) -> None:
        with self._lock:
            if self._gone is None:
                self._gone = reason
            waiting, self._waiting = self._waiting, {}
        for slot in waiting.values():
            slot[0].set()

    def _send(self, message: dict[str, Any]) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        data = orjson.dumps(message) + b"\n"
        try:
            with self._write_lock:
                stdin.write(data)
                stdin.flush()
        except (OSError, ValueError):
            raise ServerGone(self._gone or "the server closed its stdin") from None

    def request(self, method: str, params: dict[str, Any], timeout: float) -> Any:
        """The result of one request; ServerGone, TimeoutError, or an error
        answer as ``RuntimeError(message)``."""
        ident = next(self._ids)
        if self.meta is not None:
            params = {**params, "_meta": self.meta}
        slot: list[Any] = [threading.Event(), None]
        with self._lock:
            if self._gone is not None:
                raise ServerGone(self._gone)
            self._waiting[ident] = slot
        self._send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params})
        if not slot[0].wait(timeout):
            with self._lock:
                self._waiting.pop(ident, None)
            with contextlib.suppress(ServerGone):
                self._send(
                    {
                        "jsonrpc": "2.0",
                        "method": "notifications/cancelled",
                        "params": {"requestId": ident, "reason": "timeout"},
                    }
                )
            raise TimeoutError
        response = slot[1]
        if response is None:
            raise ServerGone(self._gone or "the server exited")
        if "error" in response:
            error = response["error"]
            text = error.get("message") if isinstance(error, dict) else None
            raise RuntimeError(str(text or error))
        return response.get("result")

    # -- MCP ---------------------------------------------------------------------------
    def start(self) -> list[dict[str, Any]]:
        """Open the session (the stateless revision, or the initialize handshake
        of the earlier ones) and list the server's tools (UsageError when it cannot)."""
        deadline = time.monotonic() + START_TIMEOUT
        try:
            if not self._stateless():
                answer = self.request(
                    "initialize",
                    {
                        "protocolVersion": PROTOCOL_VERSION,
                        "capabilities": {},
                        "clientInfo": CLIENT_INFO,
                    },
                    max(0.1, deadline - time.monotonic()),
                )
                _check_version(answer)
                self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            tools: list[dict[str, Any]] = []
            cursor: str | None = None
            pages = 0
            while True:
                params = {"cursor": cursor} if cursor else {}
                result = self.request("tools/list", params, max(0.1, deadline - time.monotonic()))
                page = result.get("tools") if isinstance(result, dict) else None
                if not isinstance(page, list):
                    raise ServerGone("its tools/list answer has no list of tools")
                tools += [t for t in page if isinstance(t, dict)]
                pages += 1
                if len(tools) > MAX_TOOLS or pages > MAX_TOOLS:
                    raise ServerGone(f"it lists more than {MAX_TOOLS} tools (or pages without end)")
                cursor = result.get("nextCursor")
                if not isinstance(cursor, str) or not cursor:
                    return tools
        except TimeoutError:
            self.close()
            raise UsageError(
                f"MCP server {self.command!r} did not answer in time ({START_TIMEOUT:g} s to "
                "start and list its tools)"
            ) from None
        except (ServerGone, RuntimeError) as exc:
            self.close()
            raise UsageError(f"MCP server {self.command!r}: {exc}{self._stderr_tail()}") from None

    def _stateless(self) -> bool:
        """Whether the server speaks the stateless revision, asked with
        server/discover (the probe its stdio backward compatibility describes):
        an error answer, silence, or an answer without that version is a server
        of an earlier revision; one that exits or sends garbage is no server."""
        meta = {
            "io.modelcontextprotocol/protocolVersion": STATELESS_VERSION,
            "io.modelcontextprotocol/clientCapabilities": {},
        }
        probe = {"_meta": {**meta, "io.modelcontextprotocol/clientInfo": CLIENT_INFO}}
        try:
            result = self.request("server/discover", probe, PROBE_TIMEOUT)
        except (RuntimeError, TimeoutError):
            return False
        versions = result.get("supportedVersions") if isinstance(result, dict) else None
        if isinstance(versions, list) and STATELESS_VERSION in versions:
            self.meta = meta
            return True
        return False

    def _stderr_tail(self) -> str:
        time.sleep(0.05)  # let its last words arrive
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(0.5)
        status = self.proc.poll()
        exited = f"; it exited with status {status}" if status is not None else ""
        tail = decode(b"".join(self._stderr)).strip().splitlines()
        return exited + (f" (its stderr: {clip(tail[-1], 200)})" if tail else "")

    def call(self, name: str, arguments: Any, timeout: float, limit: int) -> Outcome:
        started = time.monotonic()
        try:
            result = self.request("tools/call", {"name": name, "arguments": arguments}, timeout)
        except TimeoutError:
            self.stuck = True  # at the end, do not wait for it to finish that call
            outcome = Outcome("", True, error=f"the tool did not answer within {timeout:g} s")
        except ServerGone as exc:
            outcome = Outcome("", True, error=f"the MCP server failed: {exc}")
        except RuntimeError as exc:
            outcome = Outcome("", True, error=f"the MCP server refused the call: {exc}")
        else:
            outcome = _outcome(result, limit)
        outcome.duration_ms = int((time.monotonic() - started) * 1000)
        return outcome

    def close(self) -> None:
        """Close stdin, give the server a moment, then end its process group."""
        proc = self.proc
        with contextlib.suppress(OSError, ValueError):
            if proc.stdin is not None:
                proc.stdin.close()
        try:
            proc.wait(KILL_WAIT if self.stuck else SHUTDOWN_WAIT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(KILL_WAIT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.watchdog is not None:
            self.watchdog.remove(proc.pid)


def _check_version(answer: Any) -> None:
    """The initialize answer names a revision mint speaks (ServerGone if not)."""
    version = answer.get("protocolVersion") if isinstance(answer, dict) else None
    if version not in HANDSHAKE_VERSIONS:
        said = f"version {clip(repr(version), 40)}" if version is not None else "no version"
        raise ServerGone(
            f"it answered initialize with protocol {said}; mint speaks "
            f"{', '.join(HANDSHAKE_VERSIONS)} and {STATELESS_VERSION}"
        )


LAUNCHERS = ("python", "node", "npx", "uvx", "uv", "deno", "bun", "sh", "bash", "pipx")


def server_name(argv: list[str]) -> str:
    """A short name for a server, to prefix its tools with when two servers offer
    the same name: the program, or for a launcher (python, npx, ...) the script
    or package it runs; without directory or extension."""
    word = argv[0]
    if os.path.basename(word).rstrip("0123456789.") in LAUNCHERS:
        word = next((w for w in argv[1:] if not w.startswith("-")), word)
    return os.path.splitext(os.path.basename(word))[0] or "mcp"


def _outcome(result: Any, limit: int) -> Outcome:
    """A tools/call result: its text content is the output; isError an error."""
    if not isinstance(result, dict):
        return Outcome("", True, error="the MCP server answered without a result object")
    if result.get("resultType", "complete") != "complete":  # it asks the user for input
        kind = str(result.get("resultType"))[:40]
        return Outcome("", True, error=f"the tool asked for more ({kind}), which mint cannot give")
    parts: list[str] = []
    content = result.get("content")
    for item in content if isinstance(content, list) else ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "text" and isinstance(item.get("text"), str):
            parts.append(item["text"])
        else:  # images, audio, resources: named, not passed on
            parts.append(f"[{item.get('type')} content: {item.get('mimeType', 'no type')}]")
    if not parts and result.get("structuredContent") is not None:
        parts.append(orjson.dumps(result["structuredContent"]).decode())
    data = Capped(limit)  # the parts joined by newlines, never all in one string
    for n, part in enumerate(parts):
        data.add(b"\n" if n else b"")
        data.add(part.encode())
    outcome = Outcome(decode(data.value()), truncated=data.dropped > 0)
    if outcome.truncated:
        outcome.output += f"\n{CUT_NOTE}{limit} bytes; {data.dropped} more dropped]"
    if result.get("isError"):
        outcome.is_error = True
        outcome.error = "the tool reported an error"
    return outcome
