"""`shown_lead`: the element whose whole text is the page's meta description, found through the text nodes that
hold the description's longest words (pages written for these tests)."""

import trafilatura

from pipeline.document.lead import Lead, _probes, shown_lead

DESCRIPTION = "After two years without them, the city brings back night buses on six routes, paid by a levy."


def page(body: str, description: str = DESCRIPTION) -> object:
    html = (
        f'<html><head><meta name="description" content="{description}"><title>Buses</title></head>'
        f"<body>{body}</body></html>"
    )
    return trafilatura.load_html(html.encode())


def test_probes_are_the_longest_letter_runs_but_never_the_first():
    assert _probes("Wonderful news: the extraordinary committee met") == ["extraordinar", "committee"]
    assert _probes("Ab cd") == []
    # one unspaced run (Chinese): its rest after the first character
    assert _probes("今天北京市政府宣布了新的公交线路") == ["天北京市政府宣布了新的公"]


def test_a_lead_split_by_markup_and_with_a_drop_cap_is_found():
    body = (
        '<div class="page"><nav><a href="/">Home</a></nav><div class="story">'
        '<p><span class="cap">A</span>fter two years <a href="/x">without them</a>, the city brings back '
        "<em>night buses</em> on six routes, paid by a levy.</p><p>The text of the article goes on here.</p>"
        "</div></div>"
    )
    assert shown_lead(page(body)) == Lead(DESCRIPTION)


def test_a_block_comes_before_a_heading_and_a_heading_in_the_head_is_not_the_lead():
    heading = (
        f"<header><h2>{DESCRIPTION}</h2></header><article><h2>{DESCRIPTION}</h2><p>Other text.</p></article>"
    )
    assert shown_lead(page(heading)) == Lead(DESCRIPTION, heading=True)
    # a block with the same words, punctuated otherwise, after both headings: the lead, as the page writes it
    shown = DESCRIPTION.replace("them,", "them —").replace("levy.", "levy!")
    assert shown_lead(page(heading + f"<div><p>{shown}</p></div>")) == Lead(shown)
    assert shown_lead(page(f"<header><h2>{DESCRIPTION}</h2></header><p>Other text.</p>")) is None


def test_an_element_holding_more_than_the_description_or_a_heading_is_not_the_lead():
    longer = f"<div><p>{DESCRIPTION} And then a whole other sentence that makes it far longer.</p></div>"
    assert shown_lead(page(longer)) is None
    wrapper = f'<div class="teaser"><h3>{DESCRIPTION}</h3></div>'  # the div only wraps the heading
    assert shown_lead(page(wrapper)) == Lead(DESCRIPTION, heading=True)
    # the description only in a meta tag, or in a comment: not shown
    assert shown_lead(page(f"<!-- {DESCRIPTION} --><p>Other text.</p>")) is None


def test_a_lead_in_another_script_is_found():
    spaced = "Во вторник правительство города объявило о возвращении ночных автобусов на шесть маршрутов."
    assert shown_lead(page(f"<section><p>{spaced}</p></section>", spaced)) == Lead(spaced)


def test_a_chinese_lead_counts_its_words_as_chinese_is_written():
    # no spaces: 31 characters are about 15 words, not one (the lead was never looked for before)
    description = "北京市政府今天宣布，新的夜间公交线路将于下个月开通，覆盖六个城区。"
    body = '<div><p><a href="/a">北京市政府</a>今天宣布，新的夜间公交线路将于下个月开通，覆盖六个城区。</p></div>'
    assert shown_lead(page(body, description)) == Lead(description)
    short = "北京市政府今天宣布。"  # about 4 words: too short to be a lead
    assert shown_lead(page(f"<div><p>{short}</p></div>", short)) is None
