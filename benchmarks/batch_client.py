"""The baseline for ``mint batch``: the smallest honest concurrent client.

    python benchmarks/batch_client.py BASE_URL openai|anthropic CONCURRENCY BENCH_JSON < prompts.jsonl

One ``httpx.Client`` (a connection pool sized to the concurrency) shared by a
thread pool; each input line's ``prompt`` is posted with ``stream: true``, the
SSE events are read with httpx-sse and parsed with orjson, and one JSON line
(``id``, ``text``, ``finish_reason``) is printed per item as it finishes.
Nothing else: no retries, no order, no truncation check, no resume.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
from httpx_sse import connect_sse


def main() -> None:
    base, protocol, concurrency, bench = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    extra = orjson.loads(bench)
    if protocol == "openai":
        url, headers = base + "/chat/completions", {"Authorization": "Bearer bench"}
    else:
        url = base + "/messages"
        headers = {"x-api-key": "bench", "anthropic-version": "2023-06-01"}
    out = sys.stdout.buffer
    lock = threading.Lock()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    client = httpx.Client(timeout=60, limits=limits)

    def one(number: int, line: bytes) -> None:
        item = orjson.loads(line)
        body = {
            "model": "bench-model",
            "messages": [{"role": "user", "content": item["prompt"]}],
            "stream": True,
            "max_tokens": 256,
            "bench": extra,
        }
        text: list[str] = []
        finish = None
        with connect_sse(client, "POST", url, json=body, headers=headers) as source:
            for event in source.iter_sse():
                if protocol == "openai":
                    if event.data == "[DONE]":
                        continue  # read on to the end, so the connection can be reused
                    for choice in orjson.loads(event.data)["choices"]:
                        text.append(choice["delta"].get("content") or "")
                        finish = choice.get("finish_reason") or finish
                elif event.event == "content_block_delta":
                    text.append(orjson.loads(event.data)["delta"].get("text", ""))
                elif event.event == "message_delta":
                    finish = orjson.loads(event.data)["delta"].get("stop_reason")
        result = {"id": item.get("id", number), "text": "".join(text), "finish_reason": finish}
        with lock:
            out.write(orjson.dumps(result) + b"\n")
            out.flush()

    with client, ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(one, n, line) for n, line in enumerate(sys.stdin.buffer, 1)]:
            future.result()


if __name__ == "__main__":
    main()
