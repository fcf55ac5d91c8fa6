"""The option table: every option and setting mint takes, declared once.

Each command's settings are a class (a :class:`Settings`, see rows.py) whose
attributes are rows, :class:`Opt`: the flags, help text, help section, default,
how a value is read and checked (:mod:`mintcli.options.kinds`), and whether it may also
come from a ``MINT_*`` environment variable or the config file. From these rows
come the click options (``cli/clicktable.py``), the config keys and environment names
(``config.py``), the ``[env: ...; default: ...]`` notes in ``--help``, and through
the click tree the man page and the completions (``tools/docgen.py``). Adding an
option means adding one row here and using it where it matters.
"""

from __future__ import annotations

from mintcli.errors import ConfigError
from mintcli.options import kinds
from mintcli.options.rows import (
    BATCH,
    CONNECTION,
    CONVERSATIONS,
    FAULTS,
    INPUT,
    JOURNAL,
    OTHER,
    OUTPUT,
    REMOTE,
    REQUEST,
    RETRIES,
    SECTIONS,
    SERVER,
    TOOLS,
    Opt,
    Settings,
    arg,
    env_name,
    flag,
    setting,
    table,
)
from mintcli.options.settings_local import (
    ListSettings,
    LogRemoveSettings,
    MockSettings,
    RemoveSettings,
    SearchSettings,
    StatsSettings,
)

__all__ = [
    "FAULTS", "OTHER", "SECTIONS", "SERVER", "ListSettings", "LogRemoveSettings", "MockSettings",
    "Opt", "RemoveSettings", "SearchSettings", "Settings", "StatsSettings", "env_name", "table",
]  # fmt: skip

PROTOCOLS = ("openai", "anthropic")
FORMATS = ("text", "raw", "jsonl", "json")
DEFAULT_BASE_URL = "https://api.mint-cloud.ai/v1"
DEFAULT_MODEL = "openai/gpt-4o"
MOCK_KEY = "mock-key"  # what --mock sends as the key


# fmt: off
# The table. One row per option; the order within a class is the order in --help.

class Common(Settings):
    """Settings of every command that talks to the gateway."""

    protocol: str = setting(
        "openai", "--protocol", kind=kinds.Choice(PROTOCOLS), section=CONNECTION,
        help="Wire protocol.")
    base_url: str = setting(
        DEFAULT_BASE_URL, "--base-url", kind=kinds.URL, metavar="URL", section=CONNECTION,
        help="Gateway base URL.")
    api_key: str | None = setting(
        None, "--api-key", kind=kinds.KEY, metavar="KEY", section=CONNECTION,
        help="API key.")
    profile: str | None = setting(
        None, "--profile", metavar="NAME", config=False, complete="profile", section=CONNECTION,
        help="Use [profiles.NAME] from the config file.")
    mock: bool = flag(
        "--mock", section=CONNECTION,
        help="Talk to a built-in mock gateway on a free loopback port (offline, no key).")
    ca_cert: str | None = setting(
        None, "--ca-cert", metavar="FILE", complete="file", section=CONNECTION,
        help="CA certificates to trust (a PEM file or directory), for a private CA; "
        "else SSL_CERT_FILE or SSL_CERT_DIR, else certifi's bundle.")
    connect_timeout: float = setting(
        10.0, "--connect-timeout", kind=kinds.SECONDS, metavar="SECONDS", section=RETRIES,
        help="Connection timeout.")
    idle_timeout: float = setting(
        60.0, "--idle-timeout", kind=kinds.SECONDS, metavar="SECONDS", section=RETRIES,
        help="Longest silence mid-stream before retrying.")
    retry_connrefused: bool = setting(
        False, "--retry-connrefused", kind=kinds.BOOLEAN, section=RETRIES,
        help="Retry a refused connection or an unknown host name too (usually a wrong "
        "--base-url, so not retried by default).")
    verbose: bool = flag(
        "-v", "--verbose", section=OTHER,
        help="Show request and response headers on stderr (key redacted).")
    debug: bool = flag(
        "--debug", env=True, section=OTHER,
        help="Show a traceback on internal errors.")
    models: tuple[str, ...] = setting(
        (), kind=kinds.WORDS, section=OTHER,  # config file or MINT_MODELS only
        help="Model names offered by shell completion.")

    def key(self) -> str:
        """The API key to send (a stand-in with --mock). The command line's face
        has put it among the secrets redacted from everything mint writes."""
        if self.api_key:
            return self.api_key
        if self.mock:
            return MOCK_KEY
        raise ConfigError(
            "no API key: set MINT_API_KEY, pass --api-key, or put api_key in the config file "
            "(try 'mint chat --mock ...' to use mint offline without a key)"
        )


class RequestSettings(Common):
    """What every command that sends chat requests shares: the request's
    contents and the retry policy."""

    model: str = setting(
        DEFAULT_MODEL, "-m", "--model", kind=kinds.NAME, metavar="MODEL", complete="model",
        section=REQUEST,
        help="Model name.")
    system: str | None = setting(
        None, "-s", "--system", metavar="TEXT", section=REQUEST,
        help="System prompt (replaces any system message of the conversation).")
    max_tokens: int | None = setting(
        None, "--max-tokens", kind=kinds.Integer(1), metavar="N", section=REQUEST,
        help="Maximum output tokens (anthropic default: 4096).")
    temperature: float | None = setting(
        None, "--temperature", kind=kinds.Number(0.0), metavar="T", section=REQUEST,
        help="Sampling temperature.")
    schema: str | None = arg(
        None, "--schema", metavar="FILE|JSON", complete="file", section=REQUEST,
        help="A JSON Schema (top level an object) the reply must follow; the reply is "
        "the JSON text, checked when it ends (exit 10 if it is not JSON or does not match). "
        "Needs the jsonschema package (mintcli[schema]).")
    option: tuple[str, ...] = arg(
        (), "-o", "--option", kind=kinds.MANY, metavar="KEY=VALUE", section=REQUEST,
        help="Add a request body field; VALUE is parsed as JSON when it is valid JSON. "
        "Repeatable.")
    tool: tuple[str, ...] = arg(
        (), "--tool", kind=kinds.MANY, metavar="FILE|JSON", complete="file", section=TOOLS,
        help="A tool definition (OpenAI, bare or Anthropic shape). Repeatable.")
    tools: tuple[str, ...] = arg(
        (), "--tools", kind=kinds.MANY, metavar="FILE", complete="file", section=TOOLS,
        help="A JSON array of tool definitions.")
    tool_choice: str | None = arg(
        None, "--tool-choice", metavar="auto|none|required|NAME", complete="tool_choice",
        section=TOOLS,
        help="Whether and which tool the model must call.")
    tool_cmd: tuple[str, ...] = setting(
        (), "--tool-cmd", kind=kinds.COMMANDS, env=False, config_table="tools",
        metavar="NAME=COMMAND", section=TOOLS,
        help="Run the tool NAME by starting COMMAND (split like a shell would, run without "
        "one) with the call's arguments as one JSON object on stdin; its stdout is the "
        "result. Its schema comes from --tool (else any object). Repeatable; config: "
        "[tools.NAME] command = ...")
    mcp: tuple[str, ...] = setting(
        (), "--mcp", kind=kinds.COMMANDS, env=False, config_table="mcp",
        metavar="'COMMAND ARGS'", section=TOOLS,
        help="Start an MCP server over stdio and offer its tools to the model; mint runs "
        "the calls. Repeatable; config: [mcp.NAME] command = ...")
    no_tools: bool = flag(
        "--no-tools", section=TOOLS,
        help="Leave out the tools the config file declares ([tools.NAME], [mcp.NAME]) for "
        "this run.")
    max_steps: int = setting(
        10, "--max-steps", kind=kinds.Integer(1), metavar="N", section=TOOLS,
        help="With runnable tools: at most N requests in the tool loop (exit 13 when "
        "the model still calls tools after the last).")
    tool_timeout: float = setting(
        60.0, "--tool-timeout", kind=kinds.SECONDS, metavar="SECONDS", section=TOOLS,
        help="Longest a tool call may run; then its process group is killed and the "
        "model gets an error result.")
    tool_output_max: int = setting(
        1 << 20, "--tool-output-max", kind=kinds.Integer(1), metavar="BYTES", section=TOOLS,
        help="Keep at most this much of a tool's output (the rest is cut, and the result "
        "says so).")
    extract: bool = flag(
        "-x", "--extract", section=OUTPUT,
        help="Print only the first fenced code block of the reply (its content, as it "
        "streams); exit 14 when there is none. With --format json: the 'extracted' field.")
    extract_last: bool = flag(
        "--extract-last", section=OUTPUT,
        help="Like --extract, but the last fenced code block (printed when the reply ends).")
    max_retries: int = setting(
        5, "--max-retries", kind=kinds.Integer(0), metavar="N", section=RETRIES,
        help="Retries after a failure (0 disables).")
    retry_base: float = setting(
        1.0, "--retry-base", kind=kinds.Number(0.0), metavar="SECONDS", section=RETRIES,
        help="First backoff delay.")
    retry_max: float = setting(
        60.0, "--retry-max", kind=kinds.Number(0.0), metavar="SECONDS", section=RETRIES,
        help="Longest single backoff delay.")

    def tools_from_file(self) -> str:
        """For an option the tool loop rules out: where the tools came from, when
        the user did not type them (the config file's tables)."""
        where = self.source("tool_cmd" if self.tool_cmd else "mcp")
        if where.startswith("-"):
            return ""
        return f"{where} declares tools, which --no-tools leaves out"


class ChatSettings(RequestSettings):
    messages: str | None = arg(
        None, "--messages", metavar="FILE|-", complete="file", section=INPUT,
        help="JSON array of earlier messages (OpenAI shape).")
    no_stdin: bool = flag(
        "--no-stdin", section=INPUT,
        help="Never read stdin.")
    interactive: bool = flag(
        "-i", "--interactive", section=INPUT,
        help="Open an interactive session, a prompt given being its first turn (without -i, "
        "mint chat opens one when it has no prompt and stdin and stdout are a terminal).")
    stdin_timeout: float = setting(
        1.0, "--stdin-timeout", kind=kinds.Number(0.0), metavar="SECONDS", section=INPUT,
        help="With a prompt in argv, how long to wait for stdin to send anything.")
    attach: tuple[str, ...] = arg(
        (), "-a", "--attach", kind=kinds.MANY, metavar="FILE|URL|-", complete="file",
        section=INPUT,
        help="Attach an image (PNG, JPEG, GIF, WebP) or a PDF, recognised by its content, "
        "at most 20 MiB; a URL is sent as a URL; '-' reads it from stdin. Repeatable.")
    continue_last: bool = flag(
        "-c", "--continue", section=CONVERSATIONS,
        help="Continue the latest saved conversation (see 'mint log list').")
    conversation: str | None = arg(
        None, "--conversation", kind=kinds.NAME, metavar="ID", complete="conversation",
        section=CONVERSATIONS,
        help="Continue the saved conversation ID.")
    tool_result: tuple[str, ...] = arg(
        (), "--tool-result", kind=kinds.MANY, metavar="CALL_ID=JSON|@FILE",
        section=CONVERSATIONS,
        help="The result of one of the tool calls the last reply made (of the conversation "
        "continued, or of --messages), sent as given; @FILE reads a file, @- stdin. One for "
        "each call without a result in the conversation.")
    approve: bool = flag(
        "--approve", section=TOOLS,
        help="Ask on the terminal before each tool call (y, n, or a for always this tool).")
    quiet: bool = flag(
        "-q", "--quiet", section=OUTPUT,
        help="Do not show the tool calls mint runs on stderr.")
    log: bool = setting(
        True, "--log", kind=kinds.BOOLEAN, off_flag="--no-log", section=CONVERSATIONS,
        help="Save the exchange as a conversation, in $XDG_DATA_HOME/mint/logs.db "
        "(default ~/.local/share/mint/logs.db).")
    format: str = setting(
        "text", "-f", "--format", kind=kinds.Choice(FORMATS), section=OUTPUT,
        help="Output format.")
    reasoning: bool = setting(
        False, "--reasoning", kind=kinds.BOOLEAN, off_flag="--no-reasoning", section=OUTPUT,
        help="Show reasoning/thinking text on stderr (text format).")
    stats: bool = setting(
        False, "--stats", kind=kinds.BOOLEAN, off_flag="--no-stats", section=OUTPUT,
        help="Print timing and token statistics after the reply.")
    escape: bool = setting(
        True, "--escape", kind=kinds.BOOLEAN, off_flag="--no-escape", section=OUTPUT,
        help="On a terminal, show control characters in the reply as visible escapes "
        "(\\x1b) instead of letting them drive the terminal. Pipes and files always get "
        "the exact bytes.")
    render: str = setting(
        "auto", "--render", kind=kinds.Choice(("auto", "always", "never")), section=OUTPUT,
        help="Lay out the reply's Markdown (headings, emphasis, code, lists, quotes, links, "
        "tables) as it streams; auto: only when stdout is a terminal and neither NO_COLOR "
        "nor TERM=dumb is set. Text format only.")
    dry_run: bool = flag(
        "--dry-run", section=OUTPUT,
        help="Print the request that would be sent (key redacted); send nothing.")
    timeout: float | None = setting(
        None, "--timeout", kind=kinds.SECONDS, metavar="SECONDS", section=RETRIES,
        help="Limit for the whole run, retries included.")
    record: str | None = arg(
        None, "--record", metavar="FILE", complete="file", section=OUTPUT,
        help="Save every request's response (status, headers, body chunks and their "
        "times; secrets removed) for 'mint mock --replay FILE'.")
    resume: str | None = arg(
        None, "--resume", kind=kinds.NAME, metavar="[ID]", optional_value=True,
        complete="journal", section=JOURNAL,
        help="Continue an unfinished reply (the latest, or ID); prints only the rest.")
    journal: bool = setting(
        True, "--journal", kind=kinds.BOOLEAN, off_flag="--no-journal", section=JOURNAL,
        help="Journal the reply so that --resume can finish it.")


class BatchSettings(RequestSettings):
    lines: bool = flag(
        "--lines", section=INPUT,
        help="The input is one plain prompt per line, not JSON objects.")
    template: str | None = arg(
        None, "--template", metavar="TEXT", section=INPUT,
        help="Wrap each prompt: {} in TEXT stands for the line (or the item's prompt), "
        "e.g. 'Classify this issue: {}'.")
    shard: tuple[int, int] | None = arg(
        None, "--shard", kind=kinds.SHARD, metavar="K/N", section=INPUT,
        help="Take only the items whose number (counted from 0) modulo N is K; N jobs "
        "with K = 0..N-1 share a batch.")
    output: str | None = arg(
        None, "-O", "--output", metavar="FILE", complete="file", section=OUTPUT,
        help="Write the result lines to FILE instead of stdout.")
    quiet: bool = flag(
        "-q", "--quiet", section=OUTPUT,
        help="No summary line at the end, no per-item retry warnings.")
    concurrency: int = setting(
        8, "-j", "--concurrency", kind=kinds.Integer(1, 1024), metavar="N", section=BATCH,
        help="Items in flight at once; each worker keeps its connection alive from one "
        "item to the next.")
    unordered: bool = flag(
        "--unordered", section=BATCH,
        help="Write each result when it is ready instead of in input order.")
    rpm: int | None = setting(
        None, "--rpm", kind=kinds.Integer(1), metavar="N", section=BATCH,
        help="At most N requests a minute (retries included), evenly spaced.")
    resume: bool = flag(
        "--resume", section=BATCH,
        help="With -O: skip the items FILE already holds a result for, append the rest.")
    retry_failed: bool = flag(
        "--retry-failed", section=BATCH,
        help="With -O: run again the items whose result in FILE is an error (implies "
        "--resume).")
    remote: bool = flag(
        "--remote", section=REMOTE,
        help="Hand the items to the provider's batch service (OpenAI Batch API, Anthropic "
        "Message Batches): about half the price, results within 24 hours. Same input and "
        "result lines; --resume re-attaches to the remote batches.")
    no_wait: bool = flag(
        "--no-wait", section=REMOTE,
        help="With --remote: submit, print the remote batch ids on stdout and exit; "
        "'mint batch fetch ID...' gets the results later.")
    part_size: int | None = setting(
        None, "--part-size", kind=kinds.Integer(1), metavar="N", section=REMOTE,
        help="With --remote: at most N requests per remote batch (the provider's limit "
        "applies anyway: 50,000 for OpenAI, 100,000 for Anthropic).")
    poll: float = setting(
        60.0, "--poll", kind=kinds.Number(0.01), metavar="SECONDS", section=REMOTE,
        help="With --remote: the longest wait between two polls of a remote batch.")


class ModelsSettings(Common):
    format: str = arg(
        "text", "-f", "--format", kind=kinds.Choice(("text", "json")), section=OUTPUT,
        help="Output format.")


# fmt: on


# Every settings class a command uses; the config file may set any config field of these.
ALL = (
    ChatSettings, BatchSettings, ModelsSettings, MockSettings, ListSettings, RemoveSettings,
    LogRemoveSettings, SearchSettings, StatsSettings,
)  # fmt: skip


def config_rows() -> dict[str, Opt]:
    """Setting name -> row, for every setting the config file may hold."""
    rows: dict[str, Opt] = {}
    for cls in ALL:
        for opt in table(cls):
            if opt.config:
                rows.setdefault(opt.name, opt)
    return rows


def env_rows() -> dict[str, Opt]:
    """``MINT_*`` name -> row, for every setting the environment may hold."""
    rows: dict[str, Opt] = {}
    for cls in ALL:
        for opt in table(cls):
            if opt.env:
                rows.setdefault(env_name(opt.name), opt)
    return rows
