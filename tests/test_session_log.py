"""A session and the log it saves to, when the log refuses a turn for a while."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import scripted_mock
from test_session import PROMPT, conversations, open_session, refuse_the_log

RULES = [{"match": {"prompt": "^hello"}, "text": "Hi **there**, friend."}]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with scripted_mock(tmp_path_factory.mktemp("session-log"), RULES) as server:
        yield server


def test_a_turn_the_log_refused_is_saved_with_the_next_one_under_a_new_id(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    refused = refuse_the_log(env)  # the first save fails
    you, e = open_session(scripted, env, spawn_pty, "-m", "m1")
    you.type(b"hello one\r")
    you.wait_for(b"friend.")
    you.wait_for(b"mint: error:")
    you.wait_for(PROMPT, 2)
    refused.unlink()  # the log takes the next turn
    you.hello_then_leave(3)
    (saved,) = conversations(e)
    assert saved["id"]  # a conversation ID of its own, not the empty one of memory
    contents = [m["content"] for m in saved["messages"]]
    assert contents == ["hello one", "Hi **there**, friend.", "hello", "Hi **there**, friend."]
