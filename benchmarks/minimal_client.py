"""The baseline: the smallest honest streaming client on httpx + httpx-sse.

    python benchmarks/minimal_client.py BASE_URL openai|anthropic BODY_JSON

It does what the platform's streaming page shows: POST with ``stream: true``,
iterate the SSE events, print each text delta and flush. Nothing else: no
retries, no truncation check, no journal. ``--orjson`` parses with orjson
instead of the standard library, to show how much of the gap is JSON.
"""

from __future__ import annotations

import sys

import httpx
from httpx_sse import connect_sse


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--orjson"]
    if "--orjson" in sys.argv:
        from orjson import loads
    else:
        from json import loads
    base, protocol, body = args[0], args[1], loads(args[2])
    out = sys.stdout
    if protocol == "openai":
        url = base + "/chat/completions"
        headers = {"Authorization": "Bearer bench"}
    else:
        url = base + "/messages"
        headers = {"x-api-key": "bench", "anthropic-version": "2023-06-01"}
    with (
        httpx.Client(timeout=60) as client,
        connect_sse(client, "POST", url, json=body, headers=headers) as source,
    ):
        for event in source.iter_sse():
            if protocol == "openai":
                if event.data == "[DONE]":
                    break
                for choice in loads(event.data)["choices"]:
                    text = choice["delta"].get("content")
                    if text:
                        out.write(text)
                        out.flush()
            elif event.event == "content_block_delta":
                delta = loads(event.data)["delta"]
                if delta.get("type") == "text_delta":
                    out.write(delta["text"])
                    out.flush()
            elif event.event == "message_stop":
                break


if __name__ == "__main__":
    main()
