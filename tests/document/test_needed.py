"""Strings every match of a regex holds (pipeline/document/needed.py), and the case folding that lets the phrase
rules be screened by them: a line a rule matches is never screened out, on the rules' own examples recased."""

import random
import re

import pytest

from pipeline.document import needed
from pipeline.document.rules import LINE_RULES
from tests.document.test_phrases import EXAMPLES, PROSE


@pytest.mark.parametrize(
    ("pattern", "strings"),
    [
        ("author", ("author",)),
        ("^[Cc]omment(?!ary)|(?:article|post)-comments", ("omment",)),  # "-comments" holds "omment"
        ("(^|\\s)bottom|bottom(\\s|$)", ("bottom",)),
        ("mvp-post-add-(?:box|wrap)|infinite-?scroll", ("mvp-post-add-", "infinite")),
        ("post(?:-body)+|post-text", ("-body", "-text")),  # parsed as post(?:(?:-body)+|-text)
        ("ab[cd]ef", ("ab",)),  # either run is needed: the first of the longest
    ],
)
def test_needed_substrings_are_read_off_the_pattern(pattern, strings):
    assert needed.needed_substrings(pattern) == strings


@pytest.mark.parametrize(
    "pattern", ["(?i)author", "a?", "[Aa]", "x|", ".*", "(?:ab)*", "a{0,3}", "\\d+", "("]
)
def test_a_pattern_with_nothing_every_match_holds_has_no_needed_substrings(pattern):
    assert needed.needed_substrings(pattern) is None


@pytest.mark.parametrize(
    ("line", "folded"),
    [
        ("Follow Us", "follow us"),
        ("AYRICA OKUYUN", "ayrica okuyun"),
        ("ayrıca okuyun", "ayrica okuyun"),  # dotless ı: re.IGNORECASE matches it to i
        ("ΟΔΟΣ", "οδος"),  # a final sigma: "ς" from str.lower, "σ" from re; one class
        ("Mißſtand", "mißstand"),  # long ſ is s; ß stays
    ],
)
def test_caseless_folds_as_re_ignorecase_compares(line, folded):
    assert re.fullmatch(re.escape(folded), line, re.IGNORECASE)  # one line to re
    assert needed.caseless(line) == needed.caseless(folded)


def test_a_line_whose_lowercase_is_longer_is_not_folded():
    assert needed.caseless("İstanbul'da") is None  # U+0130: two characters in str.lower, one in re


def test_caseless_needed_folds_the_patterns_strings_alike():
    assert needed.caseless_needed(r"ayrıca\s+okuyun") == ("ayrica",)
    assert needed.caseless_needed(r"Subscribe\s+NOW") == ("subscribe",)
    line = "AYRICA OKUYUN"
    assert re.search(r"ayrıca\s+okuyun", line, re.IGNORECASE)
    assert any(s in needed.caseless(line) for s in needed.caseless_needed(r"ayrıca\s+okuyun"))


def _recased(rng: random.Random, line: str) -> list[str]:
    """The line as written, upper, lower, title and randomly cased, with i and s in their other forms."""
    mixed = "".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in line)
    return [
        line,
        line.upper(),
        line.lower(),
        line.title(),
        mixed,
        line.replace("i", "ı"),
        line.replace("s", "ſ"),
    ]


def test_a_screened_rule_decides_every_line_as_the_unscreened_rule():
    rng = random.Random(3)
    lines = [line for by_language in EXAMPLES.values() for line in by_language.values()] + list(PROSE)
    lines += [f"{a} {b}" for a, b in zip(lines, reversed(lines), strict=True)]
    screened = [rule for rule in LINE_RULES if rule.needed is not None]
    assert len(screened) >= 8  # the phrase rules searched anywhere have strings
    decided = matched = 0
    for line in (variant for text in lines for variant in _recased(rng, text)):
        words = len(line.split())
        folded = needed.caseless(line)
        for rule in screened:
            unscreened = rule.matches(line, words, None, None)  # folded None: the regex is asked
            assert rule.matches(line, words, None, folded) == unscreened, (rule.name, line)
            decided += 1
            matched += unscreened
    assert matched > 50 and decided > 5000  # lines the rules match were among them
