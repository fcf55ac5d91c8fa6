"""Chinese and Japanese words for the full-text index.

FTS5's ``unicode61`` tokenizer splits text at spaces and punctuation, so a
sentence of Han characters (``床前明月光``) would be one token, and a word
inside it (``明月``) never found. Chinese and Japanese put no spaces between
words, and where the words end is not known without a dictionary; so each
Han, Hiragana and Katakana character is made a token of its own, and a query
word written in them becomes a phrase: ``明月`` is the token ``明`` followed by
the token ``月``, found inside any longer run.

The index sees the text through :func:`index_text`: a MARK (the control
character U+001F, one byte, a separator to ``unicode61``) around each run of
such characters and between them. A block of text that has any is kept a
second time so (``texts.indexed``), as the index's content: FTS5 reads it back
to cut snippets, which then lose their marks (:func:`shown`). The text itself
is never changed, and the schema calls no function of mint's, so any SQLite
tool can read, search and change the database. Korean writes spaces between
words and is left as it is.
"""

from __future__ import annotations

import re

MARK = "\x1f"  # not a letter or digit, so unicode61 splits there; 1 byte where kept

# Han (CJK unified ideographs with extensions A to H, compatibility ideographs),
# the iteration and closing marks 々〆〇, Hiragana, Katakana (with its phonetic
# extensions and the half-width forms).
_CHARS = (
    "\u3005-\u3007\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\uff66-\uff9f\U00020000-\U0002fa1f\U00030000-\U000323af"
)
_RUN = re.compile(f"[{_CHARS}]+")
_OTHER = re.compile(f"[^{_CHARS}]")
# re.sub holds two strings per run until it joins them (2 MB for a 64 KiB block of
# dense Chinese), so a long text is done a slice at a time, each cut after a
# character outside the runs: no run spans a cut, and the slices join exactly.
SLICE = 4096


def _apart(run: re.Match[str]) -> str:
    return MARK + MARK.join(run.group()) + MARK


def index_text(text: str) -> str:
    """The text as the index sees it: each Han or kana character set apart."""
    if text.isascii() or not _RUN.search(text):  # most text: returned as it is, not copied
        return text
    done: list[str] = []
    start = 0
    while start < len(text):
        other = _OTHER.search(text, start + SLICE) if start + SLICE < len(text) else None
        end = other.end() if other else len(text)
        done.append(_RUN.sub(_apart, text[start:end]))
        start = end
    return done[0] if len(done) == 1 else "".join(done)


def indexed(text: str) -> str | None:
    """What ``texts.indexed`` keeps for a block: its indexed form, or None when
    that is the text itself (no Han or kana in it)."""
    spaced = index_text(text)
    return spaced if spaced != text else None


def indexed_value(value: str | bytes | None) -> str | None:
    """:func:`indexed` for SQLite (the move to schema 2 fills the column with it)."""
    return indexed(value) if isinstance(value, str) else None


def shown(snippet: str) -> str:
    """A snippet cut from the indexed text, as the stored text has it."""
    return snippet.replace(MARK, "")
