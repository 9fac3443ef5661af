"""A body set in several same-template containers, and a body carried as data in a script: pages built here."""

import json
from collections import Counter

import pytest

from pipeline.document.chunks import chunk_groups, restore_chunks
from pipeline.document.extract import parse_html
from pipeline.models import Article, Block
from pipeline.text import decode_shown_entities, normalise_line

SENTENCES = [
    "The harbour authority approved the new pier on Tuesday after a two-year review of its effect on the bay.",
    "Construction is expected to start in the spring and to take about eighteen months, officials said.",
    "Fishermen had asked for the work to pause during the herring season, and the board agreed to that request.",
    "The pier will be open to the public in the evenings, with lighting paid for by the city council budget.",
    "A local school plans to use the new pier for lessons on the ecology of the bay and its tidal flats.",
    "Engineers said the design would withstand storms stronger than any recorded in the past century.",
    "The mayor called the vote a turning point for the waterfront, which lost its ferry service in 1998.",
    "Residents of the old town will be able to comment on the lighting plan at a meeting next month.",
    "The board will publish the final drawings and the full environmental report on its website in May.",
]


def chunk(sentences: list[str]) -> str:
    """One chunk of the body, in the container trafilatura picks as the body (the first one it meets)."""
    return (
        '<div class="grid"><div class="wrapper"><div class="article-body">'
        + "".join(f"<p>{s}</p>" for s in sentences)
        + "</div></div></div>"
    )


def page(body: str, head: str = "", title: str = "Harbour pier approved") -> bytes:
    return (
        f"<html><head><title>{title}</title>{head}</head><body>"
        '<nav><a href="/">Home</a> <a href="/news">News</a></nav>'
        f"<main><article><h1>{title}</h1>{body}</article></main>"
        "<footer><p>Contact the newsroom.</p></footer></body></html>"
    ).encode()


def extract(raw: bytes, url: str = "https://news.example/harbour-pier") -> tuple[list[str], Counter, Article]:
    article = Article(source_uri=url, url=url, media_type="text/html", raw=raw)
    signals: Counter = Counter()
    blocks = parse_html(article, raw, signals)
    return [block.text for block in blocks], signals, article


def test_a_body_in_three_chunks_between_ad_slots_comes_whole_and_in_order():
    ad = '<div class="ad-slot"><span>Advertisement</span></div>'
    body = chunk(SENTENCES[:3]) + ad + chunk(SENTENCES[3:6]) + ad + chunk(SENTENCES[6:])
    texts, signals, _ = extract(page(body))
    paragraphs = [t for t in texts if t in SENTENCES]
    assert paragraphs == SENTENCES
    assert signals["restored_chunks"] == 2


def test_comment_threads_and_teaser_cards_of_one_template_are_not_added():
    comments = "".join(
        '<div class="comment"><p>' + SENTENCES[i] + "</p><p>" + SENTENCES[i + 1] + "</p></div>"
        for i in (0, 3)
    )
    teasers = "".join(f'<div class="teaser"><p>{s}</p></div>' for s in SENTENCES[6:])
    body = "<div class='story'>" + "".join(f"<p>{s} Indeed.</p>" for s in SENTENCES[:4]) + "</div>"
    texts, signals, _ = extract(page(body + f"<section>{comments}{teasers}</section>"))
    assert signals["restored_chunks"] == 0
    assert not any(t in SENTENCES[6:] for t in texts)


def test_restore_puts_a_missed_chunk_after_the_kept_one_before_it():
    from lxml import html

    tree = html.fromstring(page(chunk(SENTENCES[:3]) + "<div><p>x</p></div>" + chunk(SENTENCES[3:6])))
    groups = chunk_groups(tree)
    assert len(groups) == 1 and len(groups[0]) == 2
    kept = [
        Block("Intro heading", "head", 2),
        *(Block(s, "p") for s in SENTENCES[:3]),
        Block("Share this", "p"),
    ]
    blocks, restored = restore_chunks(kept, groups)
    assert restored == 1
    assert [b.text for b in blocks] == ["Intro heading", *SENTENCES[:6], "Share this"]


def test_a_link_dense_paragraph_does_not_make_a_chunk():
    links = "".join(f'<p><a href="/a{i}">{s}</a></p>' for i, s in enumerate(SENTENCES[:3]))
    from lxml import html

    tree = html.fromstring(page(f'<div class="x">{links}</div><div class="x">{links}</div>'))
    assert chunk_groups(tree) == []


def js_string(value: str) -> str:
    """As a JSON encoder writes it inside a script: <, > and & as \\u escapes."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def test_a_client_rendered_page_gets_its_body_from_the_script_that_carries_it():
    fragment = (
        '<div class="caption"><p>The pier at dusk. Photo: harbour authority</p></div>'
        + "".join(f'<p class="editor-p">{s}</p>' for s in SENTENCES[:5])
        + "<h3>What comes next</h3>"
        + "".join(f"<p>{s}</p>" for s in SENTENCES[5:])
    )
    script = f"<script>self.__next_f.push([1,{js_string(fragment)}])</script>"
    raw = page('<div id="root"></div>' + script)
    texts, signals, article = extract(raw)
    assert signals["embedded_body"] == 1
    assert [t for t in texts if t in SENTENCES] == SENTENCES
    assert "What comes next" in texts
    assert not any("Photo:" in t for t in texts)  # the caption is not body
    assert article.title == "Harbour pier approved"


def test_a_preloaded_next_article_does_not_replace_the_one_shown():
    other = "".join(
        f"<p>{s.replace('pier', 'stadium').replace('harbour', 'football')} More on that.</p>"
        for s in SENTENCES
    )
    script = f'<script>window.__STATE__ = {{"next": {{"html": {js_string(other * 2)}}}}};</script>'
    shown = "<div class='story'>" + "".join(f"<p>{s}</p>" for s in SENTENCES[:3]) + "</div>"
    texts, signals, _ = extract(page(shown + script))
    assert signals["embedded_body"] == 0
    assert [t for t in texts if t in SENTENCES] == SENTENCES[:3]


def test_a_script_of_another_article_does_not_fill_an_empty_page():
    other = "".join(
        f"<p>Ein ganz anderer Artikel über Fußball, Absatz {i}, mit genug Text darin.</p>" for i in range(9)
    )
    script = f'<script>window.__STATE__ = {{"html": {js_string(other)}}};</script>'
    texts, signals, _ = extract(page('<div id="root"></div>' + script))
    assert signals["embedded_body"] == 0
    assert not any("Fußball" in t for t in texts)


@pytest.mark.parametrize(
    "shown,expected",
    [
        ("“Do no harm,’&nbsp;” he said.", "“Do no harm,’ ” he said."),
        ("AT&amp;T and Verizon", "AT&T and Verizon"),
        ("It&#8217;s done", "It’s done"),
        ("the tag &lt;p&gt; stays text", "the tag &lt;p&gt; stays text"),
        ("R&D; budgets", "R&D; budgets"),  # not an entity the page could have meant: two letters, then ;
        ("Tom & Jerry", "Tom & Jerry"),
    ],
)
def test_entities_a_page_shows_as_text_are_decoded_but_never_into_markup(shown, expected):
    assert normalise_line(shown) == expected


def test_decode_shown_entities_leaves_unknown_names():
    assert decode_shown_entities("&bogusname; stays") == "&bogusname; stays"
