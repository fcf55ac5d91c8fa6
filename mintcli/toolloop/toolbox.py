"""The runnable tools of a run: ``--tool-cmd`` commands and the tools of
``--mcp`` servers, under the names the model sees, and how to run a call."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from mintcli.base.events import ToolCall
from mintcli.base.sanitize import REDACTED, SECRET_PART, Secrets, clip
from mintcli.errors import UsageError
from mintcli.options.kinds import TOOL_NAME
from mintcli.request.model import ToolSpec
from mintcli.toolloop.mcp import MAX_TOOLS, McpServer
from mintcli.toolloop.proc import CUT_NOTE, Outcome, run_command
from mintcli.toolloop.unrunnable import Unrunnable
from mintcli.toolloop.watchdog import Watchdog

_BAD = re.compile(r"[^A-Za-z0-9_-]")
JOIN_AFTER_CANCEL = 2.0  # how long cancelled calls may take to notice
# The calls of one reply that run at once; the others wait for one to end. A
# reply may hold up to 1,024 calls (protocols/base.py), and each --tool-cmd
# call is a process: without this cap they would all start together. 16 keeps
# a reply's usual handful (or a dozen fetches) fully parallel.
MAX_RUNNING = 16


@dataclass(frozen=True)
class Runnable:
    """How to run one tool: a command (argv) or an MCP server's tool."""

    name: str  # as the model sees it
    argv: tuple[str, ...] = ()
    server: McpServer | None = None
    remote_name: str = ""  # the MCP server's own name for it


def parse_tool_cmd(value: str) -> tuple[str, list[str]]:
    """``NAME=COMMAND`` -> (name, argv); a command that cannot run is a usage
    error now, before anything is sent."""
    name, sep, command = value.partition("=")
    if not sep or not TOOL_NAME.match(name):
        raise UsageError(
            f"--tool-cmd expects NAME=COMMAND with NAME 1-64 letters, digits, '_' or '-' "
            f"(got {value!r})"
        )
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise Unrunnable("tool_cmd", value, str(exc)) from None
    if not argv:
        raise Unrunnable("tool_cmd", value, "the command is empty")
    program = argv[0]
    found = shutil.which(program) if "/" not in program else program
    if found is None or not os.path.isfile(found):
        raise Unrunnable("tool_cmd", value, f"{program}: command not found")
    if not os.access(found, os.X_OK):
        raise Unrunnable("tool_cmd", value, f"{program}: not executable")
    return name, argv


def wire_name(name: str, taken: set[str]) -> str:
    """An MCP tool name the API accepts (``^[a-zA-Z0-9_-]{1,64}$``), unique."""
    if TOOL_NAME.match(name) and name not in taken:
        return name
    base = _BAD.sub("_", name)[:55] or "tool"
    digest = hashlib.sha1(name.encode()).hexdigest()[:8]
    return base if TOOL_NAME.match(base) and base not in taken else f"{base}_{digest}"


def tool_env(secrets: list[str]) -> dict[str, str]:
    """mint's environment without the API key (by name or by value)."""
    env = {}
    for key, value in os.environ.items():
        if key == "MINT_API_KEY" or any(s and s in value for s in secrets):
            continue
        env[key] = value
    return env


class Toolbox:
    """Every runnable tool of the run, and the MCP servers behind some."""

    def __init__(self, secrets: list[str], shown: Secrets) -> None:
        self.tools: dict[str, Runnable] = {}
        self.specs: list[ToolSpec] = []  # tools the model is offered besides --tool ones
        self.servers: list[McpServer] = []
        self.env = tool_env(secrets)
        self.secrets = [s.encode() for s in secrets if s]
        self.shown = shown  # the terminal's secrets: redacted from every result
        self.notes: list[str] = []  # shown with -v
        self.warnings: list[str] = []  # always shown
        self.declared: set[str] = set()  # --tool definitions (some may have no command)
        self.watchdog = Watchdog()  # started with the first tool or server

    @classmethod
    def build(
        cls,
        tool_cmds: tuple[str, ...],
        mcp: tuple[str, ...],
        declared: tuple[ToolSpec, ...],
        secrets: list[str],
        shown: Secrets,
    ) -> Toolbox:
        box = cls(secrets, shown)
        box.declared = {t.name for t in declared}
        try:
            box._add_commands(tool_cmds, declared)
            box._add_servers(mcp, declared)
        except BaseException:
            box.close()
            raise
        if len(declared) + len(box.specs) > MAX_TOOLS:
            box.close()
            raise UsageError(
                f"{len(declared) + len(box.specs)} tools are declared; a request can offer "
                f"at most {MAX_TOOLS}"
            )
        return box

    def _add_commands(self, values: tuple[str, ...], declared: tuple[ToolSpec, ...]) -> None:
        known = {t.name for t in declared}
        for value in values:
            name, argv = parse_tool_cmd(value)
            if name in self.tools:
                raise UsageError(f"--tool-cmd {name} is given twice")
            self.tools[name] = Runnable(name, argv=tuple(argv))
            if name not in known:
                self.specs.append(ToolSpec(name, None, {"type": "object"}))
                self.notes.append(f"tool {name} has no --tool definition: any object is accepted")

    def _add_servers(self, commands: tuple[str, ...], declared: tuple[ToolSpec, ...]) -> None:
        listed: list[tuple[McpServer, dict[str, Any]]] = []
        for command in commands:  # all start at once; then each is asked in turn
            self.servers.append(McpServer(command, self.env, self.watchdog))
        for server in self.servers:
            for tool in server.start():
                name = tool.get("name")
                if isinstance(name, str) and name:
                    listed.append((server, tool))
                else:  # nothing to call it by: said, not dropped in silence
                    shown = clip(repr(name), 40)
                    what = "no name" if name in (None, "") else f"a name that is not text ({shown})"
                    self.warnings.append(
                        f"MCP server {server.command!r} lists a tool with {what}: it is left out"
                    )
        counts: dict[str, int] = {}
        for _, tool in listed:
            counts[tool["name"]] = counts.get(tool["name"], 0) + 1
        taken = {t.name for t in declared} | set(self.tools)
        for server, tool in listed:
            remote = tool["name"]
            shown = f"{server.name}_{remote}" if counts[remote] > 1 else remote
            name = wire_name(shown, taken)
            taken.add(name)
            schema = tool.get("inputSchema")
            if not isinstance(schema, dict) or schema.get("type", "object") != "object":
                schema = {"type": "object"}
            description = tool.get("description")
            self.tools[name] = Runnable(name, server=server, remote_name=remote)
            self.specs.append(
                ToolSpec(name, description if isinstance(description, str) else None, schema)
            )

    def run(
        self, call: ToolCall, timeout: float, limit: int, cancel: threading.Event
    ) -> Outcome | None:
        """Run one call; None when it was cancelled before it finished."""
        tool = self.tools.get(call.name)
        if tool is None and call.name in self.declared:
            why = f"tool {call.name!r} is defined, but mint was given no command to run it"
            return Outcome("", True, error=why)
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return Outcome("", True, error=f"there is no tool {call.name!r} (tools: {known})")
        if call.arguments_error is not None or not isinstance(call.arguments, dict):
            why = call.arguments_error or "they are not a JSON object"
            return Outcome("", True, error=f"the arguments could not be used: {why}")
        stdin = orjson.dumps(call.arguments)
        for secret in self.secrets:  # the key never reaches a tool, even if the model had it
            stdin = stdin.replace(secret, b"[REDACTED]")
        if tool.server is not None:
            return tool.server.call(tool.remote_name, orjson.loads(stdin), timeout, limit)
        env = {**self.env, "MINT_TOOL_CALL_ID": call.id, "MINT_TOOL_NAME": call.name}
        return run_command(list(tool.argv), stdin, env, timeout, limit, cancel, self.watchdog)

    def run_all(
        self,
        calls: list[ToolCall],
        timeout: float,
        limit: int,
        on_result: Callable[[ToolCall, Outcome], None],
        on_start: Callable[[list[ToolCall]], None] | None = None,
    ) -> None:
        """Run the calls, up to MAX_RUNNING at once, each in a thread; ``on_result``
        gets each result the moment its call ends, with the secrets redacted.
        ``on_start`` is told of calls just before they start: the first
        MAX_RUNNING at once (if it raises, nothing runs), then each one that
        waited, when its turn comes.
        An exception in the waiting thread (Ctrl-C) cancels the calls still
        running (their process groups are killed, their results dropped) and
        those not started, and is raised again."""
        cancel = threading.Event()
        failures: list[Exception] = []  # raised again in the waiting thread
        queue = enumerate(calls)
        taking = threading.Lock()
        if on_start is not None and calls:
            on_start(calls[:MAX_RUNNING])

        def work(ended: threading.Event) -> None:
            try:
                while not cancel.is_set():
                    with taking:
                        n, call = next(queue, (0, None))
                    if call is None:
                        return
                    if on_start is not None and n >= MAX_RUNNING:
                        on_start([call])
                    try:
                        outcome = self.run(call, timeout, limit, cancel)
                    except OSError as exc:  # a pipe mint could not use: the call failed
                        outcome = Outcome("", True, error=f"the tool could not be run: {exc}")
                    if outcome is not None and not cancel.is_set():
                        on_result(call, self._redacted(outcome))
            except Exception as exc:  # the journal could not keep the result (a full disk)
                failures.append(exc)
                cancel.set()
            finally:
                ended.set()

        # Waiting on events, not Thread.join: a join that Ctrl-C interrupts can mark a
        # running thread as stopped (CPython 3.11), and mint would exit without
        # killing its tool.
        running: list[threading.Event] = []
        try:
            for _ in range(min(len(calls), MAX_RUNNING)):
                ended = threading.Event()
                threading.Thread(target=work, args=(ended,), daemon=True).start()
                running.append(ended)
            for ended in running:
                while not ended.wait(0.2):
                    pass
            if failures:
                raise failures[0]
        except BaseException:
            cancel.set()
            give_up = time.monotonic() + JOIN_AFTER_CANCEL
            for ended in running:
                ended.wait(max(0.0, give_up - time.monotonic()))
            raise

    def _redacted(self, outcome: Outcome) -> Outcome:
        """A result as mint shows, stores and sends it on: a tool that prints the
        key (a config file it reads, an error that quotes it) does not put it on
        stdout, in the journal, or in the next request."""
        outcome.output = self.shown.redact(outcome.output)
        head, note, rest = outcome.output.rpartition(CUT_NOTE)
        if outcome.truncated and note:  # the cut may have left the key's start before its note
            text = head.removesuffix("\n")
            keep = self.shown.tail(text)
            if keep >= SECRET_PART:
                outcome.output = text[:-keep] + REDACTED + head[len(text) :] + note + rest
        if outcome.error is not None:
            outcome.error = self.shown.redact(outcome.error)
        return outcome

    def close(self) -> None:
        """Stop the MCP servers, all at once (each may take its shutdown wait)."""
        stoppers = [threading.Thread(target=s.close) for s in self.servers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        self.watchdog.close()
