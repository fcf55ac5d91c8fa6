"""Batch input: lines become items.

A JSONL line is an object with ``prompt`` or ``messages`` (or both: the prompt
then becomes the last user message), an optional ``id`` (default: the line
number), and optionally ``protocol``, ``model``, ``system``, ``max_tokens``,
``temperature``, ``tools`` and ``tool_choice``; any other key is a request body
field, as with ``-o KEY=VALUE``. With ``--lines`` each line is a plain prompt.
The command line gives the defaults; an item's own value wins. Blank lines are
not items. A line that cannot be used (not UTF-8, not JSON, no prompt, a bad
value, messages that mint chat --messages would refuse, an attachment
reference whose file is gone or changed) is still an item: it carries the
reason, and becomes an error result.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from mintcli.base.capped import TEXT_BYTES, lines_at_most
from mintcli.errors import UsageError
from mintcli.options.settings import BatchSettings, RequestSettings, table
from mintcli.protocols import get_protocol
from mintcli.request.attach import resolve_messages
from mintcli.request.build import build_messages, check_messages, parse_options
from mintcli.request.model import ChatRequest, ToolSpec
from mintcli.request.tools import check_tool_choice, load_tools, tool_list, unique

# Item keys checked as the config file's values of the same name are.
_CHECKED = ("protocol", "model", "system", "max_tokens", "temperature")
_KINDS = {opt.name: opt.kind for opt in table(RequestSettings) if opt.name in _CHECKED}
_OWN = {"id", "prompt", "messages", "tools", "tool_choice", *_CHECKED}


@dataclass(frozen=True)
class Item:
    index: int  # among the input's items, counted from 0 (what --shard divides)
    line: int  # the line number, from 1
    id: str | int
    protocol: str
    request: ChatRequest | None  # None for a line that cannot be used
    error: str | None = None  # why not

    @property
    def shown(self) -> str:
        """The id as JSON, for messages ("a", 7)."""
        return orjson.dumps(self.id).decode()


@dataclass(frozen=True)
class Defaults:
    """What the command line sets for every item."""

    values: dict[str, Any]  # the _CHECKED settings
    tools: tuple[ToolSpec, ...]
    tool_choice: str | None
    options: dict[str, Any]
    template: str | None
    lines: bool
    schema: dict[str, Any] | None  # --schema: every reply must follow it

    @classmethod
    def from_settings(cls, settings: BatchSettings) -> Defaults:
        tools = load_tools(settings.tool, settings.tools)
        options = parse_options(settings.option)
        get_protocol(settings.protocol).check_options(options, settings.schema is not None)
        template = settings.template
        if template is not None and "{}" not in template:
            raise UsageError("--template needs {} where each prompt goes, e.g. 'Translate: {}'")
        schema = None
        if settings.schema is not None:
            from mintcli.request.schema import load_schema, with_schema

            schema = load_schema(settings.schema)
            with_schema(ChatRequest(model="", messages=[], tools=tools), schema)  # --tool clash
        return cls(
            values={name: getattr(settings, name) for name in _CHECKED},
            tools=tools,
            tool_choice=check_tool_choice(settings.tool_choice, tools),
            options=options,
            template=template,
            lines=settings.lines,
            schema=schema,
        )

    def wrap(self, prompt: str) -> str:
        return prompt if self.template is None else self.template.replace("{}", prompt)


def numbered_lines(stream: BinaryIO) -> Iterator[tuple[int, int, bytes]]:
    """(item index, line number, line) for every line that is not blank."""
    index = 0
    try:
        for number, raw in enumerate(lines_at_most(stream, TEXT_BYTES, "input line"), 1):
            if raw.strip():
                yield index, number, raw
                index += 1
    except OSError as exc:
        raise UsageError(f"cannot read the input: {exc.strerror or exc}") from None


def parse_item(raw: bytes, number: int, index: int, defaults: Defaults) -> Item:
    ident: str | int = number
    protocol = defaults.values["protocol"]
    try:
        if defaults.lines:
            try:
                prompt = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise UsageError("not UTF-8 text") from None
            return Item(index, number, ident, protocol, _request({"prompt": prompt}, defaults))
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"not valid JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise UsageError("not a JSON object")
        ident = _ident(obj.get("id"), number)
        protocol = _value(obj, "protocol", defaults)
        return Item(index, number, ident, protocol, _request(obj, defaults))
    except UsageError as exc:
        return Item(index, number, ident, protocol, None, f"line {number}: {exc.message}")


def _ident(value: Any, number: int) -> str | int:
    if value is None:
        return number
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise UsageError("id must be a string or an integer")


def _value(obj: dict[str, Any], name: str, defaults: Defaults) -> Any:
    value = obj.get(name)
    if value is None:  # null is the same as leaving the key out
        return defaults.values[name]
    try:
        return _KINDS[name].from_toml(value)
    except ValueError as exc:
        raise UsageError(f"{name} {exc}") from None


def _request(obj: dict[str, Any], defaults: Defaults) -> ChatRequest:
    prompt = obj.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise UsageError("prompt must be a string")
    history = []
    if "messages" in obj:  # as mint chat --messages: checked, stored references read back
        history = resolve_messages(check_messages(obj["messages"], "messages"), "messages")
    if prompt is None and not history:
        raise UsageError("no prompt and no messages")
    if prompt is not None:
        prompt = defaults.wrap(prompt)
    tools = defaults.tools
    if obj.get("tools") is not None:
        if not isinstance(obj["tools"], list):
            raise UsageError("tools must be a JSON array of tool definitions")
        tools = unique(tool_list(obj["tools"], "tools"))
    choice = obj.get("tool_choice", defaults.tool_choice)
    if choice is not None and not isinstance(choice, str):
        raise UsageError("tool_choice must be auto, none, required or a tool name")
    user = {"role": "user", "content": prompt} if prompt is not None else None
    messages = build_messages(history, _value(obj, "system", defaults), user)
    if not any(m.get("role") != "system" for m in messages):
        raise UsageError("messages holds no user message and there is no prompt")
    options = {**defaults.options, **{k: v for k, v in obj.items() if k not in _OWN}}
    get_protocol(_value(obj, "protocol", defaults)).check_options(
        options, defaults.schema is not None
    )
    request = ChatRequest(
        model=_value(obj, "model", defaults),
        messages=messages,
        max_tokens=_value(obj, "max_tokens", defaults),
        temperature=_value(obj, "temperature", defaults),
        tools=tools,
        tool_choice=check_tool_choice(choice, tools),
        options=options,
    )
    if defaults.schema is None:
        return request
    from mintcli.request.schema import with_schema

    return with_schema(request, defaults.schema)


class Reader:
    """The items this run takes: those of its --shard, less those whose result
    the -O file already holds (``done``, counted in :attr:`skipped`; those of
    them that failed, ``failed``, in :attr:`skipped_failed`). An id used twice
    makes the later item an error."""

    def __init__(
        self,
        stream: BinaryIO,
        defaults: Defaults,
        shard: tuple[int, int] | None = None,
        done: frozenset[str | int] = frozenset(),
        failed: frozenset[str | int] = frozenset(),
    ) -> None:
        self.stream = stream
        self.defaults = defaults
        self.shard = shard
        self.done = done
        self.failed = failed
        self.skipped = 0
        self.skipped_failed = 0

    def mine(self, index: int) -> bool:
        return self.shard is None or index % self.shard[1] == self.shard[0]

    def __iter__(self) -> Iterator[Item]:
        seen: set[str | int] = set()
        for index, number, raw in numbered_lines(self.stream):
            if not self.mine(index):
                continue
            item = parse_item(raw, number, index, self.defaults)
            # Ids are compared as they are (1 and "1" differ). The sets hold the
            # ids themselves: bytes made by orjson would each pin a larger block
            # of the C heap, growing memory with the batch.
            ident = item.id
            if ident in self.done:
                self.skipped += 1
                self.skipped_failed += ident in self.failed
                continue
            if ident in seen:
                message = f"line {number}: the id {item.shown} is used by an earlier item"
                item = Item(index, number, ident, item.protocol, None, message)
            seen.add(ident)
            yield item

    def count(self) -> int:
        """How many items a fresh pass over the input would take (for the
        progress line; the stream must be a seekable file, and is rewound)."""
        position = self.stream.tell()
        total = 0
        try:
            for index, number, raw in numbered_lines(self.stream):
                if self.mine(index):
                    total += not self.done or _ident_of(raw, number, self.defaults) not in self.done
        finally:
            self.stream.seek(position)
        return total


def _ident_of(raw: bytes, number: int, defaults: Defaults) -> str | int:
    """An item's id, read without building its request."""
    if not defaults.lines:
        try:
            obj = orjson.loads(raw)
            return _ident(obj.get("id"), number) if isinstance(obj, dict) else number
        except (orjson.JSONDecodeError, UsageError):
            pass
    return number
