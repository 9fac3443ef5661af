"""The screened trafilatura expressions select exactly the nodes the originals do, over pages made to test them."""

import random
import re

from lxml import etree, html

from pipeline.document import needed, xpaths


def _patterns() -> list[str]:
    return sorted({m[2] for x in _expressions() for m in xpaths._RE_TEST.finditer(x.path)})


def _tokens(patterns: list[str]) -> list[str]:
    """Pieces the attributes below are made of: the patterns' alternatives without their syntax, their words cut
    and recased, and filler; the alternatives given the weight of all the rest, so that pages reach each test."""
    # "mvp-post-add-(?:box|wrap)" gives "mvp-post-add-" and "box", "^(?:post-?info" gives "post-info"
    alternatives = sorted({_plain(a) for p in patterns for a in p.split("|")} - {""})
    words = sorted({w for p in patterns for w in re.findall(r"[A-Za-z_]+", p) if len(w) > 1})
    pieces = ["-", "_", " ", "  ", "x", "main", "content", "body", "display:none", "1"]
    for w in words:
        pieces += [w, w.capitalize(), w.upper(), w[1:], w[:-1], w[: len(w) // 2]]
    return pieces + alternatives * max(1, len(pieces) // len(alternatives))


def _plain(alternative: str) -> str:
    """An alternative's text without its syntax: a class as its first character ("post[-_]text": "post-text")."""
    return re.sub(r"[\\^$()?:*+{}!]", "", re.sub(r"\[\^?(.)[^\]]*\]", r"\1", alternative))


def _attribute(rng: random.Random, tokens: list[str]) -> str:
    """One piece, or two to four run together or spaced apart (class lists)."""
    joint = rng.choice(("", " "))
    return joint.join(rng.choice(tokens) for _ in range(rng.choice((1, 1, 2, 3, 4))))


def test_every_match_of_trafilaturas_patterns_holds_a_needed_substring():
    patterns = _patterns()
    assert len(patterns) > 20  # trafilatura's expressions were found
    rng = random.Random(7)
    tokens = _tokens(patterns)
    screened = 0
    for pattern in patterns:
        strings = needed.needed_substrings(pattern)
        if strings is None:
            continue
        screened += 1
        compiled = re.compile(pattern)
        hits = 0
        for text in tokens + [_attribute(rng, tokens) for _ in range(3000)]:
            if compiled.search(text):
                hits += 1
                assert any(s in text for s in strings), (pattern, text, strings)
        assert hits, pattern  # the strings made reach the pattern: the check is not empty
    assert screened >= 15


def _tags() -> list[str]:
    """The element names trafilatura's expressions test for (`self::div`, `//time`), and a few more."""
    named = {t for x in _expressions() for t in re.findall(r"(?:self::|//)([a-z][a-z0-9]*)\b", x.path)}
    return sorted(named | {"p", "span", "li"}) + ["div"] * 8 + ["a"] * 4  # pages are mostly divs


def _expressions() -> list:
    return [x for expressions in xpaths._expression_lists() for x in expressions]


def _page(rng: random.Random, tokens: list[str]) -> str:
    """A page of nested elements whose id, class, style and role attributes are made of the patterns' pieces."""

    tags = _tags()

    def element(depth: int) -> str:
        tag = rng.choice(tags)
        attributes = "".join(
            f' {name}="{_attribute(rng, tokens)}"'
            for name in ("id", "class", "style", "role", "itemprop")
            if rng.random() < 0.5
        ) + (' href="/x"' if tag == "a" else "")
        children = "".join(element(depth + 1) for _ in range(rng.randint(0, 3 if depth < 4 else 0)))
        return f"<{tag}{attributes}>text {rng.randint(0, 99)}{children}</{tag}> tail"

    return (
        "<html><head><title>t</title></head><body>"
        + "".join(element(0) for _ in range(40))
        + "</body></html>"
    )


def test_screened_expressions_select_the_same_nodes_as_trafilaturas():
    rng = random.Random(11)
    tokens = _tokens(_patterns())
    trees = [html.fromstring(_page(rng, tokens)) for _ in range(25)]
    compared = 0
    for expression in _expressions():
        screened = xpaths._screened(expression)
        if screened is expression:
            continue
        compared += 1
        selected = 0
        for tree in trees:
            theirs = expression(tree)
            assert screened(tree) == theirs, expression.path
            selected += len(theirs)
        assert selected, expression.path  # the pages reach the expression's tests
    assert compared >= 10


def test_screen_and_unscreen_swap_trafilaturas_own_lists():
    from trafilatura import xpaths as theirs

    try:
        xpaths.unscreen_trafilatura()
        original = [x.path for x in theirs.BODY_XPATH]
        xpaths.screen_trafilatura()
        screened = [x.path for x in theirs.BODY_XPATH]
        assert screened != original
        assert any("contains(@class" in p and "and re:test" in p for p in screened)
        xpaths.screen_trafilatura()  # twice: no screen on a screen
        assert [x.path for x in theirs.BODY_XPATH] == screened
        xpaths.unscreen_trafilatura()
        assert [x.path for x in theirs.BODY_XPATH] == original
    finally:
        xpaths.screen_trafilatura()


def test_extraction_screens_trafilatura_for_the_process():
    import trafilatura
    from trafilatura import xpaths as theirs

    from pipeline.document import cascade, extract

    xpaths.unscreen_trafilatura()
    page = (
        "<html><body><article><p>"
        + "A sentence of the article's text. " * 20
        + "</p></article></body></html>"
    )
    doc = cascade.extract_page(trafilatura.load_html(page), None, {}, **extract.TRAFILATURA_OPTIONS)
    assert doc is not None
    assert any("contains(" in x.path and "and re:test" in x.path for x in theirs.RAW_TREE_PRUNE_XPATH)


def test_a_screen_tests_each_attribute_and_the_regex_still_decides():
    source = '//*[re:test(@class, "ab")]'  # a double-quoted pattern: left alone
    assert xpaths.screened_expression(source) == source
    screened = xpaths.screened_expression("//*[re:test(@id|@class, 'ab-?cd')]")
    assert (
        screened == "//*[((contains(@id, 'ab') or contains(@class, 'ab')) and re:test(@id|@class, 'ab-?cd'))]"
    )
    tree = html.fromstring('<div><p id="x" class="ab-cd">1</p><p class="abcd">2</p><p class="ab">3</p></div>')
    ns = {"re": "http://exslt.org/regular-expressions"}
    original = etree.XPath("//*[re:test(@id|@class, 'ab-?cd')]", namespaces=ns)
    assert etree.XPath(screened, namespaces=ns)(tree) == original(tree)
