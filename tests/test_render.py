"""--render (Markdown laid out on a terminal, as it streams) and -x/--extract."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import MINT, finish, mock_env, read_until, run_mint, scripted_mock

from mintcli.render.extract import Extractor, extract
from mintcli.render.markdown import Renderer

MARKDOWN = """\
# Title

Some **bold**, *italic*, `code`, [a link](https://x.org), snake_case and 2 * 3.

- one
* two **2**
  1. nested
> quoted `x`

---

   ```python
   def f():
       return 1  # **kept**
   ```

| name | n |
|:-----|--:|
| a | 1 |
| 北京 | 22 |

end ~~old~~ \x1b]0;title\x07 \x9b2J
"""
CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


def render(text: str, size: int) -> str:
    renderer = Renderer()
    cut = [text[i : i + size] for i in range(0, len(text), size)]
    return "".join(renderer.feed(p) for p in cut) + renderer.finish()


def visible(shown: str) -> str:
    return CSI.sub("", shown)


def test_the_layout_does_not_depend_on_where_pieces_are_cut() -> None:
    whole = render(MARKDOWN, len(MARKDOWN))
    for size in (1, 2, 3, 5, 7, 13):
        assert render(MARKDOWN, size) == whole, size
    lines = visible(whole).split("\n")
    assert lines[0] == "Title" and "• one" in lines and "• two 2" in lines
    assert "  1. nested" in lines and "│ quoted x" in lines
    assert "Some bold, italic, code, a link (https://x.org), snake_case and 2 * 3." in lines
    assert "╭─ python" in lines and "def f():" in lines and "    return 1  # **kept**" in lines
    assert "│ name │  n │" in lines and "│ 北京 │ 22 │" in lines and "│ a    │  1 │" in lines
    assert "end old \\x1b]0;title\\x07 \\x9b2J" in lines
    assert "\x1b[0;1;35mTitle" in whole and "\x1b[0;1mbold\x1b[0m" in whole


def test_only_styles_reach_the_terminal_and_nothing_is_redrawn() -> None:
    shown = render(MARKDOWN, 3)
    assert "\r" not in shown and "\x07" not in shown and "\x9b" not in shown
    assert {m[2] for m in CSI.finditer(shown)} == {"m"}  # colours only: no cursor movement
    assert shown.count("\x1b") == len(CSI.findall(shown))


def test_a_table_waits_for_its_end_and_a_line_for_its_first_characters() -> None:
    renderer = Renderer()
    assert renderer.feed("| a | b |\n|---|---|\n| 1 | 2 |\n") == ""
    assert "│ 1 │ 2 │" in visible(renderer.feed("\nafter"))
    assert renderer.feed("\n-") == "\n"  # '-' may still be a list item or a rule
    assert visible(renderer.feed("--\nwords are sh")) == "─" * 80 + "\nwords are sh"
    assert renderer.feed("own at once") == "own at once"


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("Run:\n```sh\necho hi\n```\nor\n~~~\nls\n~~~\n", "echo hi\n", "ls\n"),
        ("  ```\n  indented\n   more\n  ````\n", "indented\n more\n", "indented\n more\n"),
        ("```\nnever closed", "never closed", "never closed"),
        ("```\n``` not a close\n````\n", "``` not a close\n", "``` not a close\n"),
        ("no block, just `code`", None, None),
    ],
)
def test_extract_first_and_last(text: str, first: str | None, last: str | None) -> None:
    assert extract(text) == first and extract(text, last=True) == last
    for size in (1, 2, 3):
        extractor = Extractor()
        got = "".join(extractor.feed(text[i : i + size]) for i in range(0, len(text), size))
        assert (got + extractor.finish() if extractor.found else None) == first


CODE_REPLY = "Here you go:\n\n```bash\necho hi\nls -l\n```\n\nand then\n```\nsecond\n```\n"
RULES = [
    {"match": {"prompt": "^code"}, "text": CODE_REPLY},
    {
        "match": {"prompt": "^slow"},
        "text": "```sh\necho first\n```\n" + "tail " * 30,
        "delay": 0.02,
    },
    {"match": {"prompt": "^none"}, "text": "no code here"},
    {"match": {"prompt": "^md"}, "text": MARKDOWN},
    {
        "match": {"prompt": "^call"},
        "text": "*calling*",
        "tool_calls": [{"id": "c1", "name": "look\u202eup", "arguments": {"q": "\u009b2J\u2066"}}],
    },
]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with scripted_mock(tmp_path_factory.mktemp("render"), RULES) as server:
        yield server


def test_extract_in_every_mode(scripted: Any, env: dict[str, str], tmp_path: Path) -> None:
    e = mock_env(env, scripted)
    r = run_mint(["chat", "-x", "code"], e)
    assert (r.returncode, r.stdout) == (0, b"echo hi\nls -l\n")
    r = run_mint(["chat", "--extract-last", "code"], e)
    assert (r.returncode, r.stdout) == (0, b"second\n")
    r = run_mint(["chat", "-x", "none"], e)
    assert (r.returncode, r.stdout) == (14, b"")
    assert r.stderr.decode() == "mint: error: the reply has no fenced code block (```) to extract\n"
    r = run_mint(["log", "show", "--format", "json"], e)  # exit 14, and still saved
    assert json.loads(r.stdout)[-1]["content"] == "no code here"
    r = run_mint(["chat", "-x", "--format", "json", "none"], e)
    assert r.returncode == 14 and json.loads(r.stdout)["extracted"] is None
    r = run_mint(["chat", "-x", "--format", "json", "code"], e)
    assert r.returncode == 0 and json.loads(r.stdout)["extracted"] == "echo hi\nls -l\n"
    r = run_mint(["chat", "-x", "--format", "jsonl", "code"], e)
    assert r.returncode == 2 and b"--format text or json" in r.stderr
    items = b'{"prompt": "code"}\n{"prompt": "none"}\n'
    r = run_mint(["batch", "--extract", "-q"], e, input=items)
    assert r.returncode == 0
    assert [json.loads(x)["extracted"] for x in r.stdout.splitlines()] == ["echo hi\nls -l\n", None]


def test_extract_streams_the_block_before_the_reply_ends(
    scripted: Any, env: dict[str, str], spawn: Any
) -> None:
    proc = spawn([*MINT, "chat", "-x", "slow"], mock_env(env, scripted))
    got = read_until(proc.stdout.fileno(), lambda b: b"\n" in b, timeout=20, what="the block")
    assert got == b"echo first\n" and proc.poll() is None  # the tail is still streaming
    out, _ = finish(proc)
    assert proc.returncode == 0 and out == b""


def test_pipes_stay_byte_exact_and_always_renders_anyway(
    scripted: Any, env: dict[str, str]
) -> None:
    e = mock_env(env, scripted)
    plain = run_mint(["chat", "md"], e)
    assert plain.returncode == 0 and plain.stdout == MARKDOWN.encode()
    rendered = run_mint(["chat", "md"], {**e, "MINT_RENDER": "always"})
    assert rendered.returncode == 0 and rendered.stdout.decode() == render(MARKDOWN, 1000)
    r = run_mint(["chat", "--render", "sometimes", "md"], e)
    assert r.returncode == 2


@pytest.mark.parametrize(
    ("extra", "laid_out"),
    [
        ({}, True),
        ({"NO_COLOR": "1"}, False),
        ({"TERM": "dumb"}, False),
        ({"MINT_RENDER": "never"}, False),
    ],
)
def test_auto_renders_on_a_terminal_unless_told_not_to(
    scripted: Any, env: dict[str, str], spawn_pty: Any, extra: dict[str, str], laid_out: bool
) -> None:
    e = {**mock_env(env, scripted), "TERM": "xterm", **extra}
    child = spawn_pty([*MINT, "chat", "--no-stdin", "md"], e)
    seen = child.read_until(None, timeout=20, what="the reply").decode()
    assert child.wait() == 0
    assert ("╭─ python" in seen) is laid_out and ("```python" in seen) is not laid_out
    assert "\x1b]0;" not in seen and "\\x1b]0;title" in seen  # escaped either way


def test_a_tool_call_laid_out_on_a_terminal_is_escaped_too(
    scripted: Any, env: dict[str, str], spawn_pty: Any
) -> None:
    e = {**mock_env(env, scripted), "TERM": "xterm"}
    child = spawn_pty([*MINT, "chat", "--no-stdin", "call"], e)
    seen = child.read_until(None, timeout=20, what="the reply").decode()
    assert child.wait() == 0
    assert "\x1b[" in seen  # laid out: mint's own styles are there
    for raw in ("\u202e", "\u2066", "\u009b"):
        assert raw not in seen, ascii(seen)
    assert '"name":"look' in seen


def test_a_long_table_is_shown_once_and_not_held_forever() -> None:
    from mintcli.render.table import MAX_ROWS

    rows = "".join(f"| {i} | y |\n" for i in range(MAX_ROWS * 2))
    renderer = Renderer()
    early = visible(renderer.feed("| h | x |\n|---|---|\n" + rows[: len(rows) // 2 + 50]))
    assert "│ 0   │ y │" in early  # past MAX_ROWS rows the table shows as it comes
    lines = visible(early + renderer.feed(rows[len(rows) // 2 + 50 :] + "\n") + renderer.finish())
    assert [line.split()[1] for line in lines.splitlines() if line.endswith("y │")] == [
        str(i) for i in range(MAX_ROWS * 2)
    ]
    renderer = Renderer()  # lines that only look like a table: each shown once, as text
    lines = visible(renderer.feed("| not a table |\n" * (MAX_ROWS + 5) + "end\n"))
    assert lines == "| not a table |\n" * (MAX_ROWS + 5) + "end\n"


def test_random_markdown_renders_and_extracts_alike_however_it_is_cut() -> None:
    import random

    marks = [*"ab *_`~[]()\\|#>-+1.:\n\n  ", "```", "~~~", "```py\n", "| a | b |\n", "北"]
    rng = random.Random(21)
    for _ in range(600):
        text = "".join(rng.choice(marks) for _ in range(rng.randint(0, 80)))
        size = rng.randint(1, 6)
        assert render(text, size) == render(text, len(text) or 1), (text, size)
        extractor = Extractor()
        got = "".join(extractor.feed(text[i : i + size]) for i in range(0, len(text), size))
        assert (got + extractor.finish() if extractor.found else None) == extract(text), text


def test_extract_is_refused_with_the_tool_loop(env: dict[str, str]) -> None:
    for flag in ("-x", "--extract-last"):
        r = run_mint(["chat", "--mock", flag, "--tool-cmd", "say=echo hi", "go"], env)
        assert r.returncode == 2 and b"does not work with the tool loop" in r.stderr


@pytest.mark.parametrize(
    "line", ["- " * 300, "x " + "*" * 600 + " y", "x " + "_" * 600, "> " * 300, " " * 600 + "x"]
)
def test_a_long_undecided_line_renders_alike_however_it_is_cut(line: str) -> None:
    # Past a length such lines are shown as they come instead of held and looked
    # at again with every piece (benchmarks/render.py times the long ones).
    whole = render(line + "\n", 100_000)
    assert render(line + "\n", 4) == whole and render(line + "\n", 1) == whole
