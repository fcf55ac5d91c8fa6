"""-a/--attach: request shapes for both protocols (from the mock's --log), type
sniffing, the size limit, stdin, shortened --dry-run and -v, conversations that
keep attachments by reference, URLs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import mock_env, run_mint

from mintcli.request.attach import MAX_BYTES

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0" + b"\x10JFIF" + bytes(200)
GIF = b"GIF89a" + bytes(50)
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(50)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def chat(
    server: Any, env: dict[str, str], *args: str, **kw: Any
) -> subprocess.CompletedProcess[bytes]:
    return run_mint(["chat", *args], mock_env(env, server), **kw)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {}
    for name, data in [
        ("pic.png", PNG),
        ("photo.jpg", JPEG),
        ("anim.gif", GIF),
        ("img.webp", WEBP),
        ("doc.pdf", PDF),
        ("really-a-png.jpg", PNG),  # the name lies; the content decides
        ("notes.png", b"just some text\n"),
        ("empty.pdf", b""),
    ]:
        made[name] = tmp_path / name
        made[name].write_bytes(data)
    return made


def logged(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["body"] for line in log.read_text().splitlines()]


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_request_shapes(
    make_mock: Any, env: dict[str, str], files: dict[str, Path], tmp_path: Path, protocol: str
) -> None:
    log = tmp_path / "requests.jsonl"
    server = make_mock(log=log)
    names = ["pic.png", "photo.jpg", "anim.gif", "img.webp", "doc.pdf", "really-a-png.jpg"]
    attach = [arg for n in names for arg in ("-a", str(files[n]))]
    r = chat(server, env, "--protocol", protocol, *attach, "what is this?")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mock reply to: what is this?\n"
    (body,) = logged(log)
    parts = body["messages"][0]["content"]
    types = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "image/png"]
    datas = [PNG, JPEG, GIF, WEBP, PDF, PNG]
    if protocol == "openai":
        expected = [
            {"type": "image_url", "image_url": {"url": f"data:{t};base64,{b64(d)}"}}
            for t, d in zip(types, datas, strict=True)
        ]
        expected[4] = {
            "type": "file",
            "file": {"filename": "doc.pdf", "file_data": f"data:application/pdf;base64,{b64(PDF)}"},
        }
    else:
        expected = [
            {
                "type": "document" if t == "application/pdf" else "image",
                "source": {"type": "base64", "media_type": t, "data": b64(d)},
            }
            for t, d in zip(types, datas, strict=True)
        ]
    assert parts == [*expected, {"type": "text", "text": "what is this?"}]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("notes.png", "is not a PNG, JPEG, GIF or WebP image or a PDF (recognised by content)"),
        ("empty.pdf", "is empty"),
        ("missing.png", "No such file or directory"),
        ("", "is a directory"),
    ],
)
def test_unusable_files_are_usage_errors_before_sending(
    make_mock: Any, env: dict[str, str], files: dict[str, Path], name: str, reason: str
) -> None:
    server = make_mock()
    path = str(files["pic.png"].parent / name)
    r = chat(server, env, "-a", str(files["pic.png"]), "-a", path, "hi")
    assert r.returncode == 2, r.stderr
    assert r.stderr.decode() == f"mint: error: -a {path}: {reason}\n"
    assert server.requests == []


def test_size_limit(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    server = make_mock()
    big = tmp_path / "big.png"
    with big.open("wb") as fh:  # sparse: quick to make, one byte over the limit
        fh.write(PNG[:8])
        fh.truncate(MAX_BYTES + 1)
    r = chat(server, env, "-a", str(big), "hi")
    assert r.returncode == 2
    assert r.stderr.decode() == (
        f"mint: error: -a {big}: 20,971,521 bytes is over the limit of 20,971,520 (20 MiB)\n"
    )
    r = chat(server, env, "-a", "-", "hi", input=PNG[:8] + bytes(MAX_BYTES))
    assert r.returncode == 2 and "-a - (stdin): " in r.stderr.decode()
    assert server.requests == []


def test_stdin_attachment(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    server = make_mock(log=log)
    r = chat(server, env, "-a", "-", "describe", input=JPEG)
    assert r.returncode == 0, r.stderr
    (body,) = logged(log)
    assert (
        body["messages"][0]["content"][0]["image_url"]["url"]
        == f"data:image/jpeg;base64,{b64(JPEG)}"
    )
    r = chat(server, env, "-a", "-", input=JPEG)
    assert r.returncode == 2 and "give the prompt as arguments" in r.stderr.decode()
    r = chat(server, env, "-a", "-", "--messages", "-", "x", input=JPEG)
    assert r.returncode == 2 and "stdin cannot be both" in r.stderr.decode()
    r = chat(server, env, "-a", "-", "--no-stdin", "x", input=JPEG)
    assert r.returncode == 2 and "--no-stdin" in r.stderr.decode()
    r = chat(server, env, "-a", "-", "x", input=b"plain words")
    assert r.returncode == 2 and "-a - (stdin): is not a PNG" in r.stderr.decode()
    # kept inline in the conversation: there is no file to point to
    messages = json.loads(run_mint(["log", "show", "--format", "json"], env).stdout)
    part = messages[0]["content"][0]
    assert part == {
        "type": "image_url",
        "image_url": {"url": f"data:image/jpeg;base64,{b64(JPEG)}"},
    }


def test_dry_run_and_verbose_shorten_attachments(
    make_mock: Any, env: dict[str, str], tmp_path: Path
) -> None:
    big = tmp_path / "big.png"
    data = PNG[:8] + os.urandom(3_000_000)
    big.write_bytes(data)
    for protocol in ("openai", "anthropic"):
        r = run_mint(["chat", "--dry-run", "--protocol", protocol, "-a", str(big), "x"], env)
        assert r.returncode == 0, r.stderr
        assert len(r.stdout) < 2000
        text = r.stdout.decode()
        assert b64(data)[:24] + "… [3,000,008 bytes as 4,000,012 base64 characters]" in text
        json.loads(r.stdout)  # still JSON
    server = make_mock()
    r = chat(server, env, "-v", "-a", str(big), "x")
    assert r.returncode == 0, r.stderr
    err = r.stderr.decode()
    assert len(err) < 3000
    assert f"> attachment: data:image/png;base64,{b64(data)[:24]}… [3,000,008 bytes" in err


def test_conversation_keeps_attachments_by_reference(
    make_mock: Any, env: dict[str, str], files: dict[str, Path], tmp_path: Path
) -> None:
    log = tmp_path / "requests.jsonl"
    server = make_mock(log=log)
    pic = files["pic.png"]
    r = chat(server, env, "-f", "json", "-a", str(pic), "look")
    assert r.returncode == 0, r.stderr
    reference = {
        "type": "attachment",
        "attachment": {
            "path": str(pic.resolve()),
            "media_type": "image/png",
            "size": len(PNG),
            "sha256": hashlib.sha256(PNG).hexdigest(),
        },
    }
    # --format json's messages and the saved conversation hold the reference, not the data
    assert json.loads(r.stdout)["messages"][0]["content"][0] == reference
    messages = json.loads(run_mint(["log", "show", "--format", "json"], env).stdout)
    assert messages[0]["content"][0] == reference
    kept = (Path(env["XDG_DATA_HOME"]) / "mint").iterdir()
    assert not any(b64(PNG)[:40].encode() in p.read_bytes() for p in kept if p.is_file())
    transcript = run_mint(["log", "show"], env).stdout.decode()
    assert transcript.startswith(
        f"user:\n[attachment: {pic.resolve()} (image/png, 1,032 bytes)]\nlook\n"
    )
    # continuing reads the file again
    assert chat(server, env, "-c", "--protocol", "anthropic", "again").returncode == 0
    first = logged(log)[1]["messages"][0]["content"][0]
    assert first == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG)},
    }
    # the log's JSON is what --messages reads, references included
    shown = run_mint(["log", "show", "--format", "json"], env).stdout
    (tmp_path / "conv.json").write_bytes(shown)
    assert chat(server, env, "--messages", str(tmp_path / "conv.json"), "more").returncode == 0
    assert logged(log)[2]["messages"][0]["content"][0]["image_url"]["url"].endswith(b64(PNG))
    sent = len(logged(log))
    # a changed file, then a moved one, is a clear error, and nothing is sent
    pic.write_bytes(PNG + b"changed")
    r = chat(server, env, "-c", "again")
    assert r.returncode == 2
    assert f"the attachment {pic.resolve()} has changed since it was attached" in r.stderr.decode()
    pic.rename(tmp_path / "moved.png")
    r = chat(server, env, "-c", "again")
    assert r.returncode == 2
    assert f"the attachment {pic.resolve()} is gone (moved or deleted" in r.stderr.decode()
    latest = json.loads(run_mint(["log", "list", "--format", "json"], env).stdout)[0]["id"]
    assert r.stderr.decode().startswith(f"mint: error: conversation {latest}: ")
    assert len(logged(log)) == sent


def test_urls(make_mock: Any, env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    server = make_mock(log=log)
    image, pdf = "https://example.com/cat.jpg", "https://example.com/paper.pdf?x=1"
    assert chat(server, env, "-a", image, "x").returncode == 0
    assert chat(server, env, "--protocol", "anthropic", "-a", image, "-a", pdf, "x").returncode == 0
    openai, anthropic = logged(log)
    assert openai["messages"][0]["content"][0] == {"type": "image_url", "image_url": {"url": image}}
    assert anthropic["messages"][0]["content"][:2] == [
        {"type": "image", "source": {"type": "url", "url": image}},
        {"type": "document", "source": {"type": "url", "url": pdf}},
    ]
    r = chat(server, env, "-a", pdf, "x")
    assert r.returncode == 2 and "cannot send a PDF by URL" in r.stderr.decode()
    assert len(logged(log)) == 2
