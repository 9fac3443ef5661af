"""`page_author` gives trafilatura's `extract_author` answer without copying the page (pipeline/document/cascade.py)."""

import random

import pytest
from lxml import html
from trafilatura import metadata as md

from pipeline.document import cascade

# attribute values trafilatura's author and author-discard expressions test for, and near misses
_CLASSES = (
    "author", "author-name", "AuthorName", "byline", "Byline", "writer", "screenname", "username", "byl",
    "sidebar", "comments", "commentlist", "quote", "date", "title", "category", "print", "meta-date",
    "article-share", "is-hidden", "post-meta", "content", "story", "authority", "",
)  # fmt: skip
_IDS = ("author", "comments", "comment-list", "Author", "main", "bianji", "")
_TAGS = (
    "a",
    "div",
    "span",
    "p",
    "section",
    "strong",
    "h3",
    "h4",
    "address",
    "time",
    "figure",
    "author",
    "em",
)
_WORDS = (
    "By",
    "Jane",
    "Doe",
    "and",
    "John",
    "Smith",
    "Staff",
    "Reporter",
    "updated",
    "12:30",
    "·",
    "|",
    "Photo",
)


def _page(rng: random.Random) -> str:
    def words() -> str:
        return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(0, 3)))

    def element(depth: int) -> str:
        tag = rng.choice(_TAGS)
        attributes = ""
        if rng.random() < 0.6:
            attributes += f' class="{rng.choice(_CLASSES)}"'
        if rng.random() < 0.2:
            attributes += f' id="{rng.choice(_IDS)}"'
        if rng.random() < 0.1:
            attributes += ' itemprop="author"' if rng.random() < 0.5 else ' rel="author"'
        if rng.random() < 0.05:
            attributes += ' data-component="Figure"'
        inner = "".join(element(depth + 1) for _ in range(rng.randint(0, 3 if depth < 3 else 0)))
        return f"<{tag}{attributes}>{words()}{inner}</{tag}>{words()}"

    body = "".join(element(0) for _ in range(rng.randint(2, 8)))
    return f"<html><head><title>t</title></head><body>{body}</body></html>"


def test_page_author_is_trafilaturas_on_pages_made_to_test_it():
    assert cascade._discard_tests() is not None  # the expressions are the ones page_author was written for
    rng = random.Random(5)
    found = 0
    for _ in range(600):
        tree = html.fromstring(_page(rng))
        theirs = md.extract_author(tree)
        assert cascade.page_author(tree) == theirs, html.tostring(tree)
        found += theirs is not None
    assert found > 100  # the pages have authors to find, and to miss


@pytest.mark.parametrize(
    ("body", "author"),
    [
        # the first byline sits in a sidebar, which trafilatura deletes: the second is the author
        (
            '<div class="sidebar"><span class="author">Ann Lee</span></div><span class="author">Bo Chen</span>',
            "Bo Chen",
        ),
        # a <time> inside the byline goes, its tail stays, joined to the text before it
        ('<span class="author">Ann<time>12:00</time> Lee</span>', "Ann Lee"),
        ('<span class="author">Ann <span class="date">May 1</span>Lee</span>', "Ann Lee"),
        ('<div class="author">Ann Lee<figure><img src="x"/>Photo</figure></div>', "Ann Lee"),
    ],
)
def test_what_trafilatura_deletes_before_reading_the_author_is_left_out(body, author):
    tree = html.fromstring(f"<html><body>{body}<p>Text.</p></body></html>")
    assert md.extract_author(tree) == author
    assert cascade.page_author(tree) == author


def test_a_page_with_a_rel_element_goes_to_trafilaturas_own(monkeypatch):
    calls = []
    monkeypatch.setattr(md, "extract_author", lambda tree: calls.append(tree) or "Ann Lee")
    tree = html.fromstring(
        '<html><body><div><rel>me</rel>Ann Lee</div><span class="x">Bo</span></body></html>'
    )
    assert cascade.page_author(tree) == "Ann Lee"
    assert calls == [tree]


def test_other_author_expressions_go_to_trafilaturas_own(monkeypatch):
    monkeypatch.setattr(cascade, "_AUTHOR_EXPRESSIONS", "0" * 16)  # as if trafilatura's expressions changed
    cascade._discard_tests.cache_clear()
    try:
        assert cascade._discard_tests() is None
        monkeypatch.setattr(md, "extract_author", lambda tree: "from trafilatura")
        tree = html.fromstring('<html><body><span class="author">Ann Lee</span></body></html>')
        assert cascade.page_author(tree) == "from trafilatura"
    finally:
        cascade._discard_tests.cache_clear()  # read again with the real fingerprint
