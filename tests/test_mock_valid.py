"""mint mock refuses what the real APIs refuse, beyond the basics of test_mock_sdk.py:
OpenAI strict-mode schemas, both protocols' metadata, parallel_tool_calls without
tools, tool names. One `mint mock` process serves every test; mint itself runs
against it where mint can send the request, httpx speaks for clients that can.
Each rule's source is cited beside it in mintcli/mock/validate_*.py."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import MINT, clean_env, finish, read_until, run_mint

README = Path(__file__).resolve().parent.parent / "README.md"
KEY = {"Authorization": "Bearer k"}
AKEY = {"x-api-key": "k", "anthropic-version": "2023-06-01"}
HI = [{"role": "user", "content": "hi"}]
STRICT_OK = {
    "type": "object",
    "additionalProperties": False,
    "required": ["a", "b"],
    "properties": {
        "a": {"type": "string"},
        "b": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["c"],
                "properties": {"c": {"type": ["string", "null"]}},
            },
        },
    },
}


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `mint mock` process; its base URL."""
    env = clean_env(tmp_path_factory.mktemp("mock"))
    proc = subprocess.Popen(
        [*MINT, "mock", "--port", "0"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        line = read_until(proc.stdout.fileno(), lambda got: b"\n" in got, timeout=20,  # type: ignore[union-attr]
                          what="mint mock's URL line")  # fmt: skip
        yield line.decode().split("\n", 1)[0]
    finally:
        proc.terminate()
        finish(proc, timeout=10)


@pytest.fixture
def menv(mock: str, env: dict[str, str]) -> dict[str, str]:
    return {**env, "MINT_BASE_URL": mock}


def openai(mock: str, **body: Any) -> httpx.Response:
    return httpx.post(
        mock + "/chat/completions",
        json={"model": "openai/gpt-4o", "messages": HI, **body},
        headers=KEY,
        timeout=10,
    )


def anthropic(mock: str, **body: Any) -> httpx.Response:
    return httpx.post(
        mock + "/messages",
        json={"model": "anthropic/claude-sonnet-4-5", "max_tokens": 50, "messages": HI, **body},
        headers=AKEY,
        timeout=10,
    )


def refused(r: httpx.Response) -> dict[str, Any]:
    """The error of a 400 in the protocol's real shape."""
    assert r.status_code == 400, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    return error


# -- OpenAI strict mode (--schema) -------------------------------------------------------


def test_schema_that_strict_mode_refuses_is_refused_as_the_api_does(menv: dict[str, str]) -> None:
    # The hostile review's case: no additionalProperties, "a" not in required.
    loose = '{"type":"object","properties":{"a":{"type":"string"}}}'
    r = run_mint(["chat", "--schema", loose, "hi"], menv)
    assert r.returncode == 4 and r.stdout == b""
    assert r.stderr.decode() == (
        "mint: error: HTTP 400 Bad Request: Invalid schema for response_format 'reply': "
        "In context=(), 'additionalProperties' is required to be supplied and to be false.\n"
    )
    # A nested object is held to the same rules, named by its path.
    nested = json.loads(json.dumps(STRICT_OK))
    nested["properties"]["b"]["items"]["required"] = []
    r = run_mint(["chat", "--schema", json.dumps(nested), "hi"], menv)
    assert r.returncode == 4
    assert (
        "In context=('properties', 'b', 'items'), 'required' is required to be supplied and "
        "to be an array including every key in properties. Missing 'c'." in r.stderr.decode()
    )
    # The positive control: a schema strict mode takes is answered with a fitting reply.
    r = run_mint(["chat", "--schema", json.dumps(STRICT_OK), "--format", "json", "hi"], menv)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["parsed"]["a"]


def test_strict_rules_apply_only_with_strict_and_reach_tools_and_defs(mock: str) -> None:
    loose = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": loose}}
    assert openai(mock, response_format=fmt).status_code == 200  # not strict: a hint
    fmt["json_schema"]["strict"] = True
    error = refused(openai(mock, response_format=fmt))
    assert (error["param"], error["code"]) == ("response_format", "invalid_json_schema")
    # The format's name follows a function name's rule.
    bad_name = {"type": "json_schema", "json_schema": {"name": "a.b", "schema": STRICT_OK}}
    error = refused(openai(mock, response_format=bad_name))
    assert (error["param"], error["code"]) == ("response_format.json_schema.name", "invalid_value")
    # $defs and anyOf are walked too.
    defs = {**STRICT_OK, "$defs": {"Pair": {"anyOf": [{"type": "null"}, loose]}}}
    fmt["json_schema"]["schema"] = defs
    assert (
        "In context=('$defs', 'Pair', 'anyOf', '1'), 'additionalProperties'"
        in refused(openai(mock, response_format=fmt))["message"]
    )
    # A function tool sent with strict: true, named as the API names it.
    tool = {"type": "function", "function": {"name": "f", "strict": True, "parameters": loose}}
    assert refused(openai(mock, tools=[tool]))["message"].startswith(
        "Invalid schema for function 'f': In context=(), "
    )
    tool["function"]["parameters"] = STRICT_OK
    assert openai(mock, tools=[tool]).status_code == 200


# -- metadata ------------------------------------------------------------------------------


def test_metadata_the_real_apis_refuse(menv: dict[str, str], mock: str) -> None:
    # The README's old example: a number where OpenAI takes only strings, and a key
    # Anthropic does not know.
    run = ["chat", "-o", 'metadata={"run": 7}', "hi"]
    r = run_mint(["chat", "-o", "store=true", *run[1:]], menv)
    assert r.returncode == 4 and r.stderr.decode().endswith(
        "Invalid type for 'metadata.run': expected a string, but got an integer instead.\n"
    )
    r = run_mint(["chat", "--protocol", "anthropic", *run[1:]], menv)
    assert r.returncode == 4
    assert r.stderr.decode().endswith("metadata.run: Extra inputs are not permitted\n")
    # OpenAI's limits: 16 pairs, keys of 64 characters, values of 512.
    error = refused(openai(mock, store=True, metadata={f"k{i}": "v" for i in range(17)}))
    assert (error["param"], error["code"]) == ("metadata", "object_above_max_properties")
    error = refused(openai(mock, store=True, metadata={"k" * 65: "v"}))
    assert error["code"] == "property_name_above_max_length"
    error = refused(openai(mock, store=True, metadata={"k": "v" * 513}))
    assert (error["param"], error["code"]) == ("metadata.k", "string_above_max_length")
    edge = {f"{i:0>64}": "v" * 512 for i in range(16)}
    assert openai(mock, store=True, metadata=edge).status_code == 200
    # Anthropic's user_id is a string (or null).
    assert refused(anthropic(mock, metadata={"user_id": 7}))["message"] == (
        "metadata.user_id: Input should be a valid string"
    )
    assert anthropic(mock, metadata={"user_id": None}).status_code == 200
    # OpenAI takes metadata only with store (checked after the values).
    assert refused(openai(mock, metadata={"run": "7"}))["message"] == (
        "The 'metadata' parameter is only allowed when 'store' is enabled."
    )
    # The README's examples are valid for the protocol each is shown with.
    text = " ".join(README.read_text().split())
    for protocol in ("OpenAI", "Anthropic"):
        example = re.search(rf"`(-o [^`]*metadata=[^`]*)` with the {protocol}", text)
        assert example, f"the README's -o metadata example for {protocol}"
        args = ["chat", "--protocol", protocol.lower(), *shlex.split(example[1]), "hi"]
        r = run_mint(args, menv)
        assert (r.returncode, r.stdout) == (0, b"Mock reply to: hi\n"), r.stderr


# -- parallel_tool_calls, tool names ------------------------------------------------------


def test_parallel_tool_calls_needs_tools(menv: dict[str, str], mock: str) -> None:
    r = run_mint(["chat", "-o", "parallel_tool_calls=false", "hi"], menv)
    assert r.returncode == 4 and r.stderr.decode().endswith(
        "Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when "
        "'tools' are specified.\n"
    )
    assert refused(openai(mock, parallel_tool_calls=True, tools=[]))["param"] == (
        "parallel_tool_calls"
    )
    tool = {"type": "function", "function": {"name": "f", "parameters": STRICT_OK}}
    assert openai(mock, parallel_tool_calls=False, tools=[tool]).status_code == 200


def test_tool_names_the_real_apis_refuse(mock: str) -> None:
    schema = {"type": "object", "properties": {}}

    def a_tool(name: str) -> httpx.Response:
        return anthropic(mock, tools=[{"name": name, "input_schema": schema}])

    assert refused(a_tool("geo.lookup"))["message"] == (
        "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'"
    )
    assert refused(a_tool(""))["message"].endswith("should match pattern '^[a-zA-Z0-9_-]{1,128}$'")
    assert refused(a_tool("a" * 129))["message"] == (
        "tools.0.custom.name: String should have at most 128 characters"
    )
    assert a_tool("geo_lookup-2" + "a" * 116).status_code == 200

    def o_tool(name: str) -> httpx.Response:
        return openai(mock, tools=[{"type": "function", "function": {"name": name}}])

    error = refused(o_tool("a" * 65))
    assert (error["param"], error["code"]) == ("tools[0].function.name", "string_above_max_length")
    assert "maximum length 64, but got a string with length 65" in error["message"]
    assert refused(o_tool("geo.lookup"))["code"] == "invalid_value"
    assert o_tool("a" * 64).status_code == 200
