from __future__ import annotations

import errno
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from sse_server import SSEServer

MINT = [sys.executable, "-m", "mintcli"]
SECRET = "sk-test-SECRET-do-not-print"
VENV_BIN = str(Path(sys.executable).parent)


def clean_env(base: Path) -> dict[str, str]:
    """The whole environment of every process the tests start: built up, not filtered down.

    Nothing of the caller's environment is copied but PATH (to find bash, jq, zsh, fish,
    groff; this venv's bin first, so ``mint`` is the one under test). So none of these
    reach mint, whatever the machine sets:

    * PYTHON* (PYTHONUNBUFFERED would hide a missing flush; PYTHONINSPECT would hang a
      child at exit; PYTHONWARNINGS, PYTHONOPTIMIZE, PYTHONPATH... change behaviour);
      mint's stdio encoding comes from Python's own C-locale handling (PEP 538/540):
      UTF-8 without PYTHONIOENCODING or LANG.
    * proxies in any case (http_proxy, HTTPS_PROXY, ALL_PROXY, NO_PROXY...), and
      SSL_CERT_*, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE: the tests speak plain HTTP to 127.0.0.1.
    * the user's HOME and XDG_* (config file, journals), MINT_*, NO_COLOR, TERM, COLUMNS,
      LANG/LC_*: a test that needs one sets it itself.
    """
    env = {
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", os.defpath),
        "HOME": str(base / "home"),
        "XDG_CONFIG_HOME": str(base / "config"),
        "XDG_STATE_HOME": str(base / "state"),
        "XDG_DATA_HOME": str(base / "data"),
        "XDG_CACHE_HOME": str(base / "cache"),
        "MINT_API_KEY": SECRET,
    }
    Path(env["HOME"]).mkdir(parents=True, exist_ok=True)  # a real home exists
    return env


@pytest.fixture(autouse=True)
def _in_process_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Code run inside the test process (httpx in test_mock.py, tls_verify and settings in
    test_units.py) reads os.environ too: take away what would change it there (httpx loads
    SSL_CERT_FILE even for plain http, and fails when it names no file)."""
    for name in list(os.environ):
        if (
            name.lower().endswith("_proxy")
            or name.startswith(("MINT_", "SSL_CERT_"))
            or name in ("NO_COLOR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
        ):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def sse_server() -> Iterator[SSEServer]:
    server = SSEServer()
    yield server
    server.close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no user config, private state dir, a known key."""
    return clean_env(tmp_path)


def run_mint(
    args: list[str],
    env: dict[str, str],
    *,
    input: bytes | None = None,
    timeout: float = 30,
    **kwargs: Any,
) -> subprocess.CompletedProcess[bytes]:
    r = subprocess.run(
        [*MINT, *args],
        env=env,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        **kwargs,
    )
    never_internal(r.stderr)
    return r


def never_internal(stderr: bytes) -> None:
    """Whatever a test does to mint, a user or a server can never cause an
    internal error or a traceback: every mint run in the suite is checked."""
    assert b"internal error" not in stderr and b"Traceback" not in stderr, stderr.decode()


# -- reading a child's pipe or terminal, never forever --------------------------------


def read_until(
    fd: int,
    until: Callable[[bytes], bool] | None,
    *,
    timeout: float,
    what: str,
    got: bytes = b"",
) -> bytes:
    """Read ``fd`` until ``until(everything read)`` holds, and return everything read.

    Fails the test, showing what was read, on end of file or after ``timeout`` seconds.
    With ``until=None`` it reads to end of file instead (only the deadline fails).
    A pty's master reads EIO once the child's side is closed: that counts as end of file.
    """
    deadline = time.monotonic() + timeout
    while until is None or not until(got):
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(
                f"timed out after {timeout:g}s waiting for {what}; read so far: {got!r}",
                pytrace=False,
            )
        if not select.select([fd], [], [], left)[0]:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            chunk = b""
        if not chunk:
            if until is None:
                return got
            pytest.fail(f"end of file while waiting for {what}; read: {got!r}", pytrace=False)
        got += chunk
    return got


def finish(proc: subprocess.Popen[bytes], *, timeout: float = 20) -> tuple[bytes, bytes]:
    """communicate() with a deadline: on overrun kill the child and fail, showing its output."""
    try:
        out, err = proc.communicate(timeout=timeout)
        never_internal(err or b"")
        return out, err
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(
            f"{proc.args} still running after {timeout:g}s; stdout: {out!r}; stderr: {err!r}",
            pytrace=False,
        )


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Popen with pipes and stdin from /dev/null; whatever is still running is killed after."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen[bytes]:
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        proc = subprocess.Popen(argv, env=env, **kw)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


class PtyChild:
    """A child with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: never return into pytest
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.status: int | None = None

    def read_until(self, until: Callable[[bytes], bool] | None, **kw: Any) -> bytes:
        return read_until(self.fd, until, **kw)

    def wait(self, *, timeout: float = 20) -> int:
        """The exit code (negative for a signal), as os.waitstatus_to_exitcode gives it."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
            elif time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"pty child {self.pid} still running after {timeout:g}s")
            else:
                time.sleep(0.02)
        return os.waitstatus_to_exitcode(self.status)

    def kill(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            self.status = os.waitpid(self.pid, 0)[1]

    def close(self) -> None:
        self.kill()
        os.close(self.fd)


@pytest.fixture
def spawn_pty() -> Iterator[Callable[[list[str], dict[str, str]], PtyChild]]:
    children: list[PtyChild] = []

    def start(argv: list[str], env: dict[str, str]) -> PtyChild:
        children.append(PtyChild(argv, env))
        return children[-1]

    yield start
    for child in children:
        child.close()


# -- servers ---------------------------------------------------------------------------


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A base URL on 127.0.0.1 that refuses connections, without races.

    Not port 1 (something may listen there), and not "bind port 0, close, use the port"
    (another process may take it in between, and a connect to a closed loopback port can
    even connect to itself when the kernel picks that port as the source port). Instead
    this socket is bound and never listens: a SYN to a bound, non-listening TCP port is
    answered with RST (ECONNREFUSED), and while the test holds the socket nothing else
    can bind that port or get it as an ephemeral source port. Checked before use.
    """
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        address = held.getsockname()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=5).close()
        yield f"http://127.0.0.1:{address[1]}/v1"


@pytest.fixture
def make_mock() -> Iterator[Any]:
    """Start in-thread mock gateways with given options; all stopped afterwards."""
    from mintcli.mock import MockServer
    from mintcli.options.settings import MockSettings

    servers: list[MockServer] = []

    def start(**options: Any) -> MockServer:
        paths = {k: str(v) for k, v in options.items() if k in ("log", "script", "replay")}
        server = MockServer(MockSettings(**{**options, **paths})).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@contextmanager
def scripted_mock(directory: Path, rules: list[Any]) -> Iterator[Any]:
    """A mock gateway playing ``rules`` (a script), logging requests to its
    ``log_path``; stopped at the end (for a module-scoped fixture)."""
    from mintcli.mock import MockServer
    from mintcli.options.settings import MockSettings

    script = directory / "script.json"
    script.write_text(json.dumps(rules))
    log = directory / "log.jsonl"
    srv = MockServer(MockSettings(script=str(script), log=str(log))).start()
    srv.log_path = log
    try:
        yield srv
    finally:
        srv.stop()


def mock_env(env: dict[str, str], server: Any) -> dict[str, str]:
    return {**env, "MINT_BASE_URL": server.base_url}


def readme_block(marker: str) -> str:
    """The shell commands between <!-- MARKER:begin --> and <!-- MARKER:end --> in README.md."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split(f"<!-- {marker}:begin -->")[1].split(f"<!-- {marker}:end -->")[0]
    return block.split("```sh\n")[1].split("```")[0]


def jsonl(out: bytes) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in out.decode().splitlines()]


def offline_run(protocol_name: str, sink: Any, term: Any, journal: Any = None) -> Any:
    """A chat runner with no transport, ready for reads fed by hand (``_on_read``):
    the whole in-process pipeline after the network."""
    from mintcli.output.sinks import RunInfo
    from mintcli.protocols import get_protocol
    from mintcli.request.model import ChatRequest
    from mintcli.run.retry import RetryPolicy
    from mintcli.run.runner import ChatRun, RunConfig

    protocol = get_protocol(protocol_name)
    config = RunConfig(
        protocol=protocol,
        url="http://127.0.0.1:9/v1",
        headers={},
        request=ChatRequest(model="m", messages=[]),
        policy=RetryPolicy(0, 1, 1),
        info=RunInfo(protocol_name, "m"),
    )
    run = ChatRun(config, transport=None, sink=sink, term=term, journal=journal)  # type: ignore[arg-type]
    run._decoder = protocol.decoder()
    return run


def _benchmark_launcher() -> str:
    """benchmarks/run.py's launcher script, read from its source (not imported)."""
    import ast

    tree = ast.parse((Path(__file__).parents[1] / "benchmarks" / "run.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_LAUNCH":
            return str(ast.literal_eval(node.value))
    raise LookupError("benchmarks/run.py has no _LAUNCH")


# A child's ru_maxrss on Linux starts from its parent's size (it survives exec),
# so mint's peak memory is measured as the child of the benchmarks' small
# launcher (`python -c PEAK COMMAND...`), not of the test process.
PEAK = _benchmark_launcher()


def peak_of(stderr: bytes) -> tuple[str, int]:
    """A run under PEAK: the command's own stderr, and its peak RSS in KiB."""
    text = stderr.decode()
    err, _, figures = text.rpartition("\n@maxrss ")
    return err, int(figures.split()[0])


def small_png(path: Path) -> tuple[bytes, str]:
    """A small PNG written at ``path`` (its folder made): its bytes and sha256,
    as an attachment reference in a conversation names them."""
    import hashlib

    data = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data, hashlib.sha256(data).hexdigest()
