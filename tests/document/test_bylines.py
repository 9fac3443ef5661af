"""Labelled bylines (pipeline/document/bylines.py), on pages built here, one per language's label form."""

import pytest

from pipeline.document.bylines import AUTHOR_LABELS, labelled_authors, person_names
from pipeline.document.extract import parse_html
from pipeline.document.page_meta import clean_authors
from tests.conftest import make_article

TEXT = "".join(
    f"<p>Paragraph {n}: the harbour authority said on Friday that the new ferry terminal would open in March, "
    f"two years later than planned, after a long dispute over the cost of dredging channel {n}.</p>"
    for n in range(4)
)


def page(byline: str, meta_author: str | None = None, site: str = "Harbour Times") -> bytes:
    meta = f'<meta property="og:site_name" content="{site}">'
    meta += f'<meta name="author" content="{meta_author}">' if meta_author else ""
    return (
        f"<html><head><title>Terminal opens late</title>{meta}</head><body><article><h1>Terminal opens late</h1>"
        f"{TEXT}</article><aside>{byline}</aside></body></html>"
    ).encode()


def author_of(raw: bytes) -> str | None:
    article = make_article("", title=None, source_uri="/tmp/page.html")
    parse_html(article, raw)
    return article.author


@pytest.mark.parametrize(
    "byline,expected",
    [
        # de: the label in its own element, the name as its tail (a fact box of date and author)
        ("<ul><li><strong>Datum</strong> 28.04.2023</li><li><strong>Autorin/Autor</strong> Roman Goncharenko</li></ul>",
         "Roman Goncharenko"),
        # zh: the editors in charge, in brackets after a full-width colon, joined by 、
        ('<div class="edit">(责编：牛镛、岳弘彬)</div>', "牛镛; 岳弘彬"),
        # en, fr, es, it, pt, nl, pl: "Label: Name" on one line, or the label, then the name in the next element
        ("<p>Written by: Jane Doe and John Smith</p>", "Jane Doe; John Smith"),
        ("<p><span>Auteur</span><span>Marie-Claire Dubois</span></p>", "Marie-Claire Dubois"),
        ("<p>Texto: Luiz Inácio da Silva</p>", "Luiz Inácio da Silva"),
        ("<p>Autore: Giulia Rossi</p>", "Giulia Rossi"),
        ("<p>Tekst: Jan van der Berg</p>", "Jan van der Berg"),
        ("<p><b>Autorka</b><a href='/a/1'>Anna Nowak</a></p>", "Anna Nowak"),
        # ru, tr: the label and its name in Cyrillic and Turkish letters
        ("<p>Автор: Иван Петров</p>", "Иван Петров"),
        ("<p>Muhabir: Ayşe Yılmaz</p>", "Ayşe Yılmaz"),
        # ja, ko: a reporter's label before a name in the script's own letters
        ("<p>記者：山田太郎</p>", "山田太郎"),
        ("<p>작성자: 김태연</p>", "김태연"),
    ],
)  # fmt: skip
def test_a_labelled_byline_names_the_authors_when_the_metadata_names_none(byline, expected):
    assert author_of(page(byline)) == expected


@pytest.mark.parametrize(
    "byline",
    [
        "<p>Text about the harbour, Jane Doe said, is long overdue.</p>",  # a label word opening a sentence
        "<p>Autor: 28.04.2023</p>",  # a date after the label
        "<p>Author: the harbour authority and its board of directors</p>",  # words, not names
        "<p><a href='/authors'>Authors</a> Jane Doe</p>",  # a link to the authors' page is navigation
        "<p>Autor: @harbourtimes</p>",  # a handle
    ],
)
def test_what_is_no_byline_names_nobody(byline):
    assert author_of(page(byline)) is None


def test_the_labelled_byline_replaces_an_outlet_but_never_a_named_person():
    box = "<p><strong>Autor</strong> Roman Goncharenko</p>"
    assert author_of(page(box, meta_author="Harbour Times (www.harbourtimes.example)")) == "Roman Goncharenko"
    assert author_of(page(box, meta_author="Harbour Times")) == "Roman Goncharenko"  # only the site's name
    assert author_of(page(box, meta_author="Jane Doe")) == "Jane Doe"


def test_a_reader_given_author_is_kept():
    article = make_article("", title=None, source_uri="/tmp/page.html", author="Given Author")
    parse_html(article, page("<p><strong>Autor</strong> Roman Goncharenko</p>"))
    assert article.author == "Given Author"


def test_every_language_has_labels_and_each_label_is_found_before_a_name():
    import lxml.html

    assert {"en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "tr", "ar", "ja", "zh", "ko"} <= set(
        AUTHOR_LABELS
    )
    for language, labels in AUTHOR_LABELS.items():
        for label in labels:
            tree = lxml.html.fromstring(f"<div><p>intro</p><p>{label}: Jane Doe</p></div>")
            assert labelled_authors(tree) == "Jane Doe", (language, label)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Jane Doe", ["Jane Doe"]),
        ("Ursula von der Leyen, Olaf Scholz", ["Ursula von der Leyen", "Olaf Scholz"]),
        ("Jane", None),  # one word: a first name, a handle or a department
        ("jane doe", None),
        ("Five Names In One Too Many Here", None),
        ("A, B, C, D, E", None),
    ],
)
def test_person_names(text, expected):
    assert person_names(text) == expected


@pytest.mark.parametrize(
    "author,expected",
    [
        ("신현주 기자", "신현주"),  # ko: the reporter's title after the name
        ("김태연 특파원", "김태연"),  # ko: correspondent
        ("山田太郎記者", "山田太郎"),  # ja: reporter, written without a space
        ("岳弘彬 记者", "岳弘彬"),  # zh
        ("기자", "기자"),  # the title alone is left as it was, not emptied
    ],
)
def test_a_role_written_after_the_name_is_dropped(author, expected):
    assert clean_authors(author, []) == expected


def test_a_crash_while_reading_the_byline_costs_the_byline_not_the_article(monkeypatch, caplog):
    import pipeline.document.bylines as bylines

    def broken(tree):
        raise AssertionError("a bug in the byline reader")

    monkeypatch.setattr(bylines, "labelled_authors", broken)
    article = make_article("", title=None, source_uri="/tmp/page.html")
    blocks = parse_html(article, page("<p><strong>Autor</strong> Roman Goncharenko</p>"))
    assert blocks and article.title == "Terminal opens late" and article.author is None
    assert "labelled byline not read (AssertionError: a bug in the byline reader" in caplog.text
