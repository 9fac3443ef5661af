"""Text utilities every phase shares: the one normalisation of a line, the folded form for comparing text,
what reads as prose, and sentence boundaries."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
# Where one sentence ends and the next begins: after . ! ? or …, perhaps a closing quote or bracket, then space,
# then what starts a sentence (perhaps an opening quote or bracket, then a capital or a digit).
SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9])")
# A line that ends as a sentence does: . ! ? or …, perhaps followed by closing quotes or brackets.
SENTENCE_END = re.compile(r"[.!?…][\"”’)\]]*$")


def normalise_line(line: str) -> str:
    """Collapse runs of spaces (including no-break and zero-width ones) and strip: the only edit made to text."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", line)).strip()


def fold(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form, for comparing lines and bodies.

    NFKC, casefold, then only letters, digits (`str.isalnum`) and spaces are kept, runs of space becoming one.
    It runs on every body, paragraph and line several times, so ASCII text (NFKC and casefold change nothing
    there but case) takes a bytes-level path, about 7x faster; `tests/test_text.py` checks both paths
    give the same result for every code point.
    """
    if text.isascii():
        return " ".join(text.encode().lower().translate(None, _ASCII_PUNCTUATION).decode().split())
    return " ".join(_NOT_ALNUM_OR_SPACE.sub("", unicodedata.normalize("NFKC", text).casefold()).split())


_ASCII_PUNCTUATION = bytes(c for c in range(128) if not (chr(c).isalnum() or chr(c).isspace()))
_NOT_ALNUM_OR_SPACE = re.compile(r"[^\w\s]|_")  # \w is str.isalnum plus "_"; \s is str.isspace


def looks_like_text(line: str) -> bool:
    """A line of article prose rather than a heading, caption or button label."""
    words = len(line.split())
    return words >= 20 or (words >= 8 and line.rstrip('"”’)').endswith((".", "!", "?", "…")))


def first_sentence(text: str) -> str:
    """The text up to its first sentence break (all of it when it has none)."""
    return SENTENCE_BREAK.split(text, maxsplit=1)[0]


def ends_as_sentence(line: str) -> bool:
    return SENTENCE_END.search(line) is not None
