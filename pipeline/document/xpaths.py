"""trafilatura's XPath expressions with each regex test screened first: the same nodes, far fewer Python calls.

trafilatura (2.3.1) picks a page's sections with XPath expressions full of EXSLT `re:test(@class, '...')`. lxml
runs every `re:test` as a call into Python, once for each element the expression visits: most of a page's
`div`, `p` and `span` elements, for each of some thirty tests. Screened as below, a plain `trafilatura.extract`
over the AEB pages takes 15.0 ms a page instead of 16.3, and a worker's steps 26.0 instead of 27.6 (CPU, medians of
5 rounds).

Here each `re:test(ATTRS, 'PATTERN')` gets a screen in front of it:
`((contains(@a, 's1') or contains(@a, 's2') ...) and re:test(ATTRS, 'PATTERN'))`, where every string a match of
PATTERN can be must hold one of s1, s2, ... (read off the pattern's parse, `needed_substrings`). XPath evaluates
`and` left to right and stops at false, so the regex runs only on an element whose attribute could match, and
decides there as before: each expression selects exactly the nodes it did. A pattern with nothing to read off
(flags, classes only, an empty match), or whose screen would need more than `_MAX_TESTS` tests, is left as it is.
`tests/document/test_xpaths.py` checks both: the strings against the regexes, and every screened expression against
the original over pages made of the patterns' own pieces. (Over the AEB and fundus pages, every field a worker
gives is byte-identical with and without the screens.)

`screen_trafilatura()` swaps the expressions inside trafilatura's own lists, which its functions read at call time,
so trafilatura's extraction and ours both run the screened ones; `unscreen_trafilatura()` puts the originals back.
"""

from __future__ import annotations

import re

from pipeline.document.needed import needed_substrings

_RE_NS = "http://exslt.org/regular-expressions"
# `re:test(@id|@class, 'pattern')`: the two-argument form (a third argument is flags: left alone)
_RE_TEST = re.compile(r"re:test\(\s*(@[\w-]+(?:\s*\|\s*@[\w-]+)*)\s*,\s*'([^']*)'\s*\)")
_MAX_TESTS = 6  # more contains() tests than this in a screen cost more than the regex calls they spare (AEB)

_originals: dict[int, list] = {}  # id(list) -> the list's original items, while screened


def _xpath_string(text: str) -> str | None:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return None


def screened_expression(source: str) -> str:
    """`source` with a `contains()` screen in front of each `re:test(ATTRS, 'PATTERN')` that has one."""

    def screen(match: re.Match) -> str:
        needed = needed_substrings(match[2])
        if needed is None:
            return match[0]
        literals = [_xpath_string(s) for s in needed]
        if None in literals:
            return match[0]
        attributes = [a.strip() for a in match[1].split("|")]
        if len(attributes) * len(literals) > _MAX_TESTS:
            return match[0]
        tests = " or ".join(f"contains({a}, {s})" for a in attributes for s in literals)
        return f"(({tests}) and {match[0]})"

    return _RE_TEST.sub(screen, source)


def _screened(xpath):
    from lxml.etree import XPath

    source = screened_expression(xpath.path)
    if source == xpath.path:
        return xpath
    return XPath(source, namespaces={"re": _RE_NS})


def _expression_lists():
    """trafilatura's lists of compiled expressions (module `trafilatura.xpaths`)."""
    from lxml.etree import XPath
    from trafilatura import xpaths

    for value in vars(xpaths).values():
        if isinstance(value, list) and value and all(isinstance(x, XPath) for x in value):
            yield value


def screen_trafilatura() -> None:
    """Swap trafilatura's expressions for screened ones, in its own lists (so in every module that reads them).
    Cheap once done: extraction calls it for every page."""
    if _originals:
        return
    for expressions in _expression_lists():
        _originals[id(expressions)] = list(expressions)
        expressions[:] = [_screened(x) for x in expressions]


def original(expressions: list) -> list:
    """One of trafilatura's lists as trafilatura wrote it, screened or not."""
    return _originals.get(id(expressions), expressions)


def unscreen_trafilatura() -> None:
    """Put trafilatura's own expressions back."""
    for expressions in _expression_lists():
        original = _originals.pop(id(expressions), None)
        if original is not None:
            expressions[:] = original
