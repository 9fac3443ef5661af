"""Title and authors as the page shows them (pipeline/document/page_meta.py), on pages built here."""

import pytest

from pipeline.document.extract import parse_html
from pipeline.document.page_meta import clean_authors, headline, pick_authors, site_names
from tests.conftest import make_article

TEXT = "".join(
    f"<p>Paragraph {n}: the harbour authority said on Friday that the new ferry terminal would open in March, "
    f"two years later than planned, after a long dispute over the cost of dredging channel {n}.</p>"
    for n in range(4)
)


def page(title: str, h1: str | None, site: str | None = None, author: str | None = None) -> bytes:
    meta = f'<meta property="og:title" content="{title}">'
    meta += f'<meta property="og:site_name" content="{site}">' if site else ""
    meta += f'<meta name="author" content="{author}">' if author else ""
    head = f"<h1>{h1}</h1>" if h1 else ""
    return f"<html><head><title>{title}</title>{meta}</head><body><article>{head}{TEXT}</article></body></html>".encode()


@pytest.mark.parametrize(
    "title,h1,site,expected",
    [
        ("Terminal opens late | Harbour Times", "Terminal opens late", None, "Terminal opens late"),
        ("Terminal opens late - Harbour Times", None, "Harbour Times", "Terminal opens late"),
        ("Terminal opens late – HT – 13.06.2023", None, "HT", "Terminal opens late"),
        ("Ferries | Terminal opens late", "Terminal opens late", None, "Terminal opens late"),
        (
            "宮崎県で震度5弱、津波注意報：朝日新聞デジタル",
            "宮崎県で震度5弱、津波注意報",
            None,
            "宮崎県で震度5弱、津波注意報",
        ),
        # a kicker joined by ": " is part of the headline, and a title the <h1> does not echo stays whole
        ("Veteranentag: Orden fürs Morden", "Orden fürs Morden", None, "Veteranentag: Orden fürs Morden"),
        ("Nationale Demo / Der Juli naht", "Something else entirely", None, "Nationale Demo / Der Juli naht"),
        # the site's name and all after it: its slogan, its name in another script
        (
            "Terminal opens late - Harbour Times - Since 1890 - הארבור",
            None,
            "Harbour Times",
            "Terminal opens late",
        ),
    ],
)
def test_the_headline_loses_the_site_name_and_keeps_the_words_the_page_shows(title, h1, site, expected):
    a = make_article("", title=None, source_uri="/tmp/page.html", url="https://www.harbour-times.example/a")
    parse_html(a, page(title, h1, site))
    assert a.title == expected


@pytest.mark.parametrize(
    "title,sections,expected",
    [
        # the section a page declares, glued on by a bare hyphen as CJK sites do, then the site's name
        (
            "항만 터미널 3월 개장, 2년 늦어져-경제ㅣ항만일보",
            '<meta name="content_category" content="경제">',
            "항만 터미널 3월 개장, 2년 늦어져",
        ),
        (
            "Terminal opens late - Politics",
            '<meta property="article:section" content="Politics">',
            "Terminal opens late",
        ),
        (
            "Terminal opens late | Lokales",
            '<meta name="parsely-section" content="Lokales">',
            "Terminal opens late",
        ),
        # a hyphen inside the headline's last word is not a separator, and a title that is the section stays
        (
            "Ferry firm buys two e-Politics",
            '<meta property="article:section" content="Politics">',
            "Ferry firm buys two e-Politics",
        ),
        ("Politics", '<meta property="article:section" content="Politics">', "Politics"),
        # an undeclared last part stays
        ("Terminal opens late - Politics", "", "Terminal opens late - Politics"),
    ],
)
def test_the_headline_loses_the_section_the_page_declares_at_its_end(title, sections, expected):
    a = make_article("", title=None, source_uri="/tmp/page.html", url="https://www.harbour-ilbo.example/a")
    parse_html(a, page(title, None, "항만일보").replace(b"</head>", sections.encode() + b"</head>"))
    assert a.title == expected


def test_a_section_the_h1_shows_stays_in_the_headline():
    title = "Terminal opens late - Politics"
    assert headline(title, [title], [], ["Politics"]) == title


def ld_page(ld: object, og_title: str, h1: str | None = None) -> bytes:
    import json

    script = f'<script type="application/ld+json">{json.dumps(ld)}</script>'
    return page(og_title, h1).replace(b"</head>", script.encode() + b"</head>")


def test_the_articles_json_ld_headline_comes_before_og_title_and_loses_the_site_name():
    ld = [
        {"@type": "WebSite", "name": "Harbour Times", "headline": "Harbour Times: news of the bay"},
        {
            "@type": "NewsArticle",
            "headline": "Ferry terminal to open in March, two years late | Harbour Times",
            "publisher": {"@type": "Organization", "name": "Harbour Times"},
        },
    ]
    a = make_article("", title=None, source_uri="/tmp/page.html", url="https://www.harbour-times.example/a")
    parse_html(a, ld_page(ld, "Terminal opens late - SEO title"))
    assert a.title == "Ferry terminal to open in March, two years late"


def test_without_a_json_ld_headline_og_title_is_the_headline():
    a = make_article("", title=None, source_uri="/tmp/page.html", url="https://www.harbour-times.example/a")
    parse_html(a, ld_page({"@type": "NewsArticle", "author": {"name": "Jane Doe"}}, "Terminal opens late"))
    assert a.title == "Terminal opens late"


def test_a_site_name_that_is_a_whole_title_is_no_site_name():
    names = site_names("Nationale Demo Der Juli naht - Tageblatt", "www.tageblatt.example", [])
    assert headline("Nationale Demo / Der Juli naht", [], names) == "Nationale Demo / Der Juli naht"


@pytest.mark.parametrize(
    "author,site,expected",
    [
        ("By Jane Doe", [], "Jane Doe"),
        ("Capital Von Jemima Kelly", [], "Jemima Kelly"),
        ("Autor Monika Bolliger; Anna Trechsel", [], "Monika Bolliger; Anna Trechsel"),
        ("Chuck Ross; Chuck-Ross", [], "Chuck Ross"),
        ("Mathias Hagen; Journalist; Anders Skjerdingstad", [], "Mathias Hagen; Anders Skjerdingstad"),
        ("You; Xiaoying; Lenharo; Mariana", [], "Xiaoying You; Mariana Lenharo"),
        ("Heise Online; Dirk Knop", ["heise online"], "Dirk Knop"),
        ("The Washington Times https; Www Washingtontimes Com; Tom Davies", [], "Tom Davies"),
        ("Harbour Times", ["Harbour Times"], "Harbour Times"),  # the outlet alone is what the page says
        (None, [], None),
    ],
)
def test_authors_are_the_people_the_byline_names(author, site, expected):
    assert clean_authors(author, site) == expected


def test_a_copyright_holder_is_not_an_author():
    html = page("Terminal opens late", "Terminal opens late", author="Condé Nast").replace(
        b"</head>", b'<meta name="copyright" content="Cond\xc3\xa9 Nast 2024"></head>'
    )
    a = make_article("", title=None, source_uri="/tmp/page.html")
    parse_html(a, html)
    assert a.author in (None, "Condé Nast")  # alone it stays (nothing better), but never beside a person
    assert clean_authors("Condé Nast; Philipp Wehsack", ["Condé Nast 2024"]) == "Philipp Wehsack"


def test_the_articles_json_ld_authors_come_first_unless_they_name_only_the_site():
    ld = {"@type": "NewsArticle", "author": [{"@type": "Person", "name": "Jane Doe"}, "John Roe"]}
    a = make_article("", title=None, source_uri="/tmp/page.html", url="https://www.harbour-times.example/a")
    parse_html(
        a,
        ld_page(ld, "Terminal opens late").replace(b"</head>", b'<meta name="author" content="Desk"></head>'),
    )
    assert a.author == "Jane Doe; John Roe"

    ld = {"@type": "NewsArticle", "author": {"@type": "Organization", "name": "Harbour Times"}}
    html = ld_page(ld, "Terminal opens late").replace(
        b"</head>", b'<meta name="author" content="Mary Major"></head>'
    )
    a = make_article("", title=None, source_uri="/tmp/page.html", url="https://www.harbour-times.example/a")
    parse_html(a, html)
    assert a.author == "Mary Major"


@pytest.mark.parametrize(
    "declared,meta,expected",
    [
        ("Jane Doe", "Harbour Times", "Jane Doe"),
        ("Harbour Times", "Jane Doe", "Jane Doe"),  # the outlet, where a person is named
        ("Harbour Times", None, "Harbour Times"),
        ("jane-doe", "Jane Doe", "Jane Doe"),  # a slug
        ("dpa", "Harbour Times", "dpa"),  # an agency is what the article declares
        (None, "Jane Doe", "Jane Doe"),
    ],
)
def test_pick_authors(declared, meta, expected):
    assert pick_authors(declared, meta, ["Harbour Times", "harbour-times.example"]) == expected


@pytest.mark.parametrize(
    "ld_headline,og_title,html_title,expected",
    [
        # the JSON-LD headline copies the <title> (the search headline): og:title is the one set apart
        (
            "Ferry terminal delay explained",
            "Why the new terminal opens two years late",
            "Ferry terminal delay explained | Harbour Times",
            "Why the new terminal opens two years late",
        ),
        # a JSON-LD headline of its own stays first, and so does one og:title agrees with
        (
            "Ferry terminal delay explained",
            "Why the new terminal opens two years late",
            "Terminal: dredging row | Harbour Times",
            "Ferry terminal delay explained",
        ),
        (
            "Ferry terminal delay explained",
            "Ferry terminal delay explained",
            "Ferry terminal delay explained | Harbour Times",
            "Ferry terminal delay explained",
        ),
        # case alone does not make a headline apart ("Title Case" <title>)
        (
            "Ferry terminal delay explained",
            "Why the new terminal opens two years late",
            "Ferry Terminal Delay Explained",
            "Why the new terminal opens two years late",
        ),
    ],
)
def test_og_title_wins_only_over_a_json_ld_headline_that_copies_the_title(
    ld_headline, og_title, html_title, expected
):
    import json

    ld = {"@type": "NewsArticle", "headline": ld_headline, "publisher": {"name": "Harbour Times"}}
    html = page(og_title, None).replace(
        f"<title>{og_title}</title>".encode(), f"<title>{html_title}</title>".encode()
    )
    html = html.replace(
        b"</head>", f'<script type="application/ld+json">{json.dumps(ld)}</script></head>'.encode()
    )
    a = make_article("", title=None, source_uri="/tmp/page.html", url="https://www.harbour-times.example/a")
    parse_html(a, html)
    assert a.title == expected
