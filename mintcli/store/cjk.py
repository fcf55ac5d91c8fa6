"""Chinese and Japanese words for the full-text index.

FTS5's ``unicode61`` tokenizer splits text at spaces and punctuation, so a
sentence of Han characters (``床前明月光``) would be one token, and a word
inside it (``明月``) never found. Chinese and Japanese put no spaces between
words, and where the words end is not known without a dictionary; so each
Han, Hiragana and Katakana character is made a token of its own, and a query
word written in them becomes a phrase: ``明月`` is the token ``明`` followed by
the token ``月``, found inside any longer run.

The index sees the text through :func:`index_text` (a zero-width space around
each such character: a separator to ``unicode61``, invisible, and taken out
again of the snippets that FTS5 cuts from that text). The stored text is
never changed. Korean writes spaces between words and is left as it is.
"""

from __future__ import annotations

import re

MARK = "\u200b"  # ZERO WIDTH SPACE: not a letter or digit, so unicode61 splits there

# Han (CJK unified ideographs with extensions A to H, compatibility ideographs),
# the iteration and closing marks 々〆〇, Hiragana, Katakana (with its phonetic
# extensions and the half-width forms).
_CHARS = (
    "\u3005-\u3007\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f\U00030000-\U000323af"
)
_RUN = re.compile(f"[{_CHARS}]+")


def _apart(run: re.Match[str]) -> str:
    return MARK + MARK.join(run.group()) + MARK


def index_text(text: str) -> str:
    """The text as the index sees it: each Han or kana character set apart."""
    return _RUN.sub(_apart, text)


def index_value(value: str | bytes | None) -> str | bytes | None:
    """:func:`index_text` for SQLite (which may hand over a value that is not text)."""
    return index_text(value) if isinstance(value, str) else value


def shown(snippet: str) -> str:
    """A snippet cut from the indexed text, as the stored text has it."""
    return snippet.replace(MARK, "")
