"""--schema: request shapes per protocol, replies checked when they end (exit 10),
the mock's minimal valid instances, retries without prefill, a missing validator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import jsonl, mock_env, run_mint
from jsonschema import validators

from mintcli.mock.instance import minimal_instance

PROTOCOLS = ["openai", "anthropic"]
FAST = ["--retry-base", "0.01", "--idle-timeout", "1"]
SCHEMA = {
    "type": "object",
    "properties": {
        "label": {"enum": ["spam", "ham"]},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["label", "score", "tags"],
    "additionalProperties": False,
}
# Script rules: what the "model" answers to some prompts (as text, or for
# Anthropic as the forced tool's input).
RULES = [
    {"match": {"prompt": "wrong"}, "text": '{"label": "eggs", "score": 2, "tags": []}'},
    {"match": {"prompt": "prose"}, "text": "I would say spam."},
    {"match": {"prompt": "cut"}, "text": '{"label": "sp', "finish_reason": "length"},
]


def chat(server: Any, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_mint(["chat", *FAST, *args], mock_env(env, server))


@pytest.fixture
def schema_file(tmp_path: Path) -> str:
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    return str(path)


@pytest.fixture
def scripted(make_mock: Any, tmp_path: Path) -> Any:
    script = tmp_path / "rules.json"
    script.write_text(json.dumps(RULES))
    return make_mock(script=script)


def posts(server: Any) -> list[dict[str, Any]]:
    return [q["body"] for q in server.requests if q["method"] == "POST"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_request_shape_and_valid_reply_in_every_format(
    make_mock: Any, env: dict[str, str], schema_file: str, protocol: str
) -> None:
    server = make_mock()
    expected = {"label": "spam", "score": 1, "tags": []}  # the mock's minimal instance
    r = chat(server, env, "--protocol", protocol, "--schema", schema_file, "classify: buy now")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == expected and r.stdout.endswith(b"}\n")
    body = posts(server)[0]
    if protocol == "openai":
        assert body["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "reply", "strict": True, "schema": SCHEMA},
        }
        assert "tools" not in body
    else:
        assert body["tools"] == [
            {
                "name": "structured_reply",
                "description": body["tools"][0]["description"],
                "input_schema": SCHEMA,
            }
        ]
        assert body["tool_choice"] == {"type": "tool", "name": "structured_reply"}
        assert "response_format" not in body

    r = chat(server, env, "--protocol", protocol, "--schema", schema_file, "-f", "json", "x")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["parsed"] == expected and json.loads(out["text"]) == expected
    assert out["tool_calls"] == []  # Anthropic's forced tool is mint's, not a call
    assert out["finish_reason"] == ("stop" if protocol == "openai" else "end_turn")
    assert out["messages"][-1] == {"role": "assistant", "content": out["text"]}

    r = chat(server, env, "--protocol", protocol, "--schema", schema_file, "-f", "jsonl", "x")
    assert r.returncode == 0, r.stderr
    events = jsonl(r.stdout)
    pieces = [e["text"] for e in events if e["type"] == "text"]
    assert len(pieces) > 1  # streamed as it comes, not at the end
    assert json.loads("".join(pieces)) == expected
    assert not any(e["type"] == "tool_call" for e in events)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("prompt", "reason"),
    [
        ("wrong", "at $.label: 'eggs' is not one of ['spam', 'ham']; at $.score: 2 is greater"),
        ("prose", "the reply is not JSON (--schema): unexpected character"),
        ("cut", "(the reply was cut short: "),
    ],
)
def test_invalid_reply_exits_10_naming_the_field(
    scripted: Any, env: dict[str, str], schema_file: str, protocol: str, prompt: str, reason: str
) -> None:
    r = chat(scripted, env, "--protocol", protocol, "--schema", schema_file, prompt)
    assert r.returncode == 10, r.stderr
    lines = r.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mint: error: ") and reason in lines[0]
    assert r.stdout.decode() == next(rule["text"] for rule in RULES if prompt in str(rule)) + "\n"
    # the whole reply arrived: nothing to --resume
    assert "--resume" not in r.stderr.decode()
    assert run_mint(["journal", "list"], env).stdout == b""

    r = chat(scripted, env, "--protocol", protocol, "--schema", schema_file, "-f", "json", prompt)
    assert r.returncode == 10
    out = json.loads(r.stdout)
    assert (
        out["parsed"] is None and out["error"]["code"] == 10 and reason in out["error"]["message"]
    )


def test_exit_code_10_is_documented() -> None:
    from mintcli.errors import ExitCode

    assert ExitCode.SCHEMA == 10 and "schema" in ExitCode.SCHEMA.meaning


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ('{"type": "array"}', "the top level must be an object schema"),
        ('{"type": "object", "properties": {"a": {"type": 5}}}', "not a valid JSON Schema: at $."),
        ("[1]", "a JSON Schema must be a JSON object"),
        ("{nope", "not valid JSON"),
        ("missing.json", "missing.json: No such file or directory"),
    ],
)
def test_unusable_schema_is_a_usage_error_before_sending(
    make_mock: Any, env: dict[str, str], schema: str, message: str
) -> None:
    server = make_mock()
    r = chat(server, env, "--schema", schema, "hi")
    assert r.returncode == 2, r.stderr
    assert message in r.stderr.decode()
    assert posts(server) == []


def test_schema_with_tools_is_refused(
    make_mock: Any, env: dict[str, str], schema_file: str
) -> None:
    server = make_mock()
    tool = '{"name": "t", "parameters": {"type": "object"}}'
    r = chat(server, env, "--schema", schema_file, "--tool", tool, "hi")
    assert r.returncode == 2 and "cannot be combined with --tool" in r.stderr.decode()
    r = chat(
        server, env, "--schema", schema_file, "-o", 'response_format={"type":"json_object"}', "x"
    )
    assert r.returncode == 2 and "-o response_format" in r.stderr.decode()
    assert posts(server) == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_broken_stream_restarts_instead_of_prefilling(
    make_mock: Any, env: dict[str, str], schema_file: str, protocol: str
) -> None:
    """Half a JSON reply cannot be prefilled: the request is sent again unchanged and
    what the new reply repeats is dropped, so the JSON is printed exactly once."""
    server = make_mock(fault="drop=3,times=1", ids=False)
    r = chat(server, env, "--protocol", protocol, "--schema", schema_file, "-f", "jsonl", "x")
    assert r.returncode == 0, r.stderr
    events = jsonl(r.stdout)
    assert [e["resume"] for e in events if e["type"] == "retry"] == ["restart"]
    assert json.loads("".join(e["text"] for e in events if e["type"] == "text"))["label"] == "spam"
    first, second = posts(server)
    assert first == second  # no assistant prefill was added


def test_dry_run_shows_the_schema_request(env: dict[str, str], schema_file: str) -> None:
    for protocol, field in (("openai", "response_format"), ("anthropic", "tool_choice")):
        r = run_mint(
            ["chat", "--dry-run", "--protocol", protocol, "--schema", schema_file, "x"], env
        )
        assert r.returncode == 0, r.stderr
        assert field in json.loads(r.stdout)["body"]


def test_missing_validator_is_a_clear_error(
    make_mock: Any, env: dict[str, str], schema_file: str, tmp_path: Path
) -> None:
    shadow = tmp_path / "shadow" / "jsonschema"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed')\n")
    server = make_mock()
    env = {**env, "PYTHONPATH": str(shadow.parent)}
    r = chat(server, env, "--schema", schema_file, "hi")
    assert r.returncode == 3, r.stderr
    assert r.stderr.decode() == (
        "mint: error: --schema needs the jsonschema package, which is not installed "
        "(try: pip install 'mintcli[schema]')\n"
    )
    assert posts(server) == []
    # and a run without --schema never imports it
    r = chat(server, env, "hi")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    "schema",
    [
        SCHEMA,
        {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date"},
                "code": {"type": "string", "pattern": "^[0-9]{3}$", "minLength": 3},
                "n": {"type": "integer", "minimum": 7, "multipleOf": 5},
                "maybe": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
                "ref": {"$ref": "#/$defs/item"},
                "list": {"type": "array", "items": {"$ref": "#/$defs/item"}, "minItems": 2},
                "both": {"allOf": [{"$ref": "#/$defs/item"}, {"required": ["extra"]}]},
            },
            "required": ["when", "code", "n", "maybe", "ref", "list", "both"],
            "$defs": {
                "item": {
                    "type": "object",
                    "properties": {"name": {"type": "string", "maxLength": 1}, "extra": {}},
                    "required": ["name"],
                }
            },
        },
        {
            "type": "object",
            "properties": {"flag": {"type": ["boolean", "null"]}, "k": {"const": 4}},
        },
    ],
)
def test_mock_minimal_instance_validates(schema: dict[str, Any]) -> None:
    instance = minimal_instance(schema, "北京")
    validator = validators.validator_for(schema)(schema)
    assert list(validator.iter_errors(instance)) == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_schema_in_batch_parses_each_result_and_fails_items_that_do_not_match(
    scripted: Any, env: dict[str, str], schema_file: str, protocol: str
) -> None:
    lines = [{"id": "good", "prompt": "classify this"}, {"id": "bad", "prompt": "wrong"}]
    lines.append({"id": "tools", "prompt": "x", "tools": [{"name": "t"}]})
    r = run_mint(
        ["batch", *FAST, "--protocol", protocol, "--schema", schema_file],
        mock_env(env, scripted),
        input="".join(json.dumps(line) + "\n" for line in lines).encode(),
    )
    assert r.returncode == 9, r.stderr  # some items failed
    good, bad, tools = (json.loads(line) for line in r.stdout.splitlines())
    assert good["parsed"] == json.loads(good["text"]) and "error" not in good
    assert good["parsed"]["label"] in ("spam", "ham")
    assert bad["parsed"] is None and bad["error"]["code"] == 10
    assert bad["error"]["name"] == "schema" and "$.label" in bad["error"]["message"]
    assert (
        tools["error"]["code"] == 2 and "--schema cannot be combined" in tools["error"]["message"]
    )
    sent = [q for q in posts(scripted)]
    assert len(sent) == 2
    if protocol == "openai":
        assert all(q["response_format"]["type"] == "json_schema" for q in sent)
    else:
        assert all(q["tool_choice"]["type"] == "tool" for q in sent)
