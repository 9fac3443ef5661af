"""The lead paragraph a page shows above its article: trafilatura often leaves it out with the page's header.

Many news pages set a summary paragraph (standfirst, teaser, dek) between the headline and the text, and the same
words in their meta description. trafilatura takes the article's container, which on most of those pages starts
below the summary: the lead is lost (fundus: 41 pages of 129). Here the lead is found by what it is, the page's own
summary shown as a paragraph of its own: an element whose whole text is the meta description (or og:description),
read before extraction prunes the tree, and put back at the top of the body when the body does not hold it.

A summary set as a heading in the page's head (a `<header>`, or a container the template names for the head:
"article-header", "headline-wrap") is the page's furniture: it is not restored, and the clean stage's `standfirst`
rule removes it (`pipeline.document.clean`), so the two agree. The same heading set in the article's own container,
outside any head, is the article's lead paragraph in a heading's type: it is kept as a paragraph (fundus: 2 pages
of the 7 with a summary heading; AEB: 2 of 14, one of them labelled with its summary and one without).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pipeline.models import Block
from pipeline.text import fold, normalise_line, word_count

MIN_LEAD_WORDS = 8  # a shorter description is a slogan or a label, not a paragraph
LENGTH_SLACK = (
    0.2  # the element's text may differ from the description by this share in length (spaces, quotes)
)
_CONTAINER_TAGS = frozenset({"p", "div", "span", "section"})
_HEADING_TAGS = ("h2", "h3", "h4", "h5", "h6")  # an <h1> is the headline
_HEADINGS = " or ".join(f"self::{tag}" for tag in _HEADING_TAGS)
_CANDIDATE_TAGS = _CONTAINER_TAGS | frozenset(_HEADING_TAGS)
# An element that shows the description holds its words in its text nodes. The text nodes holding one of its two
# longest letter runs (`PROBES`, their first `PROBE_CHARS`) are found by XPath, and only their containers, up to the
# first one too long, are measured: measuring every container's text (nested containers again and again) took 3.6
# ms a page, the probes 1.8 (AEB and fundus pages, same leads on all 310 and the seeds). The description's first
# run is never a probe (a drop cap sets its first letter apart). Missed: a lead whose both probes the page splits
# with markup, writes with a soft hyphen or zero-width character inside, in capitals, or in another Unicode normal form.
PROBES = 2
PROBE_CHARS = 12
_LETTER_RUN = re.compile(r"[^\W\d_]{4,}")
_LENGTH = "string-length(normalize-space(.))"


@dataclass(frozen=True)
class Lead:
    text: str
    # set as a heading in the article's container: a heading block of this text is the lead
    heading: bool = False


def _in_page_head(element) -> bool:
    """Inside the page's or the article's head: a <header>, or a container whose class or id names a head."""
    return any(
        a.tag == "header" or "head" in f"{a.get('class') or ''} {a.get('id') or ''}".lower()
        for a in element.iterancestors()
    )


def shown_lead(tree) -> Lead | None:
    """The page's summary as the page shows it, when some element's whole text is its meta description: a
    paragraph (or block) anywhere, or a heading outside the page's head."""
    found = tree.xpath('//meta[@name="description"]/@content|//meta[@property="og:description"]/@content')
    description = next((d for d in (normalise_line(" ".join(f.split())) for f in found) if d), None)
    if description is None or word_count(description) < MIN_LEAD_WORDS:
        return None
    key = fold(description)
    size = len(description)
    low, high = int(size * (1 - LENGTH_SLACK)), int(size * (1 + LENGTH_SLACK)) + 1
    heading = None
    for element in _candidates(tree, description, low, high):
        text = normalise_line(" ".join(element.text_content().split()))
        if fold(text) != key:
            continue
        if element.tag in _HEADING_TAGS:
            if heading is None and not _in_page_head(element):
                heading = Lead(text, heading=True)
        elif not element.xpath(f".//*[{_HEADINGS}]"):  # a block, not a heading's wrapper
            return Lead(text)
    return heading


def _probes(description: str) -> list[str]:
    """Up to `PROBES` of the description's longest letter runs (not its first), cut to `PROBE_CHARS`."""
    runs = _LETTER_RUN.findall(description)
    runs = runs[1:] or [run[1:] for run in runs if len(run) > 4]
    return [run[:PROBE_CHARS] for run in sorted(runs, key=len, reverse=True)[:PROBES]]


def _candidates(tree, description: str, low: int, high: int) -> list:
    """The paragraphs, blocks and headings in the page's body, in document order, whose text holds a probe of
    the description and whose normalised length is within [low, high]."""
    probes = _probes(description)
    if not probes:
        return []
    test = " or ".join(f"contains(., $p{n})" for n in range(len(probes)))
    found: dict = {}
    for hit in tree.xpath(f"//body//text()[{test}]", **{f"p{n}": probe for n, probe in enumerate(probes)}):
        owner = hit.getparent().getparent() if hit.is_tail else hit.getparent()
        # up to the body, while the text is not too long: an ancestor's text holds its descendants' (no shorter)
        while owner is not None and owner.tag != "body" and owner not in found:
            length = owner.xpath(_LENGTH) if owner.tag in _CANDIDATE_TAGS else None
            found[owner] = length is not None and low <= length <= high
            if length is not None and length > high:
                break
            owner = owner.getparent()
    return sorted((e for e, fits in found.items() if fits), key=_document_order)


def _document_order(element) -> tuple[int, ...]:
    """Where the element stands in its document: its and its ancestors' places among their siblings."""
    places = []
    parent = element.getparent()
    while parent is not None:
        places.append(parent.index(element))
        element, parent = parent, parent.getparent()
    return tuple(reversed(places))


def restore_lead(blocks: list[Block], lead: Lead | None) -> bool:
    """Put the lead back as the body's first paragraph (after its leading headings) unless the body holds it,
    and make a lead set as a heading in the article a paragraph; whether it changed the blocks."""
    if lead is None or not blocks:
        return False
    key = fold(lead.text)
    if lead.heading:
        at = next((n for n, b in enumerate(blocks) if b.kind == "head" and fold(b.text) == key), None)
        if at is not None:
            blocks[at] = replace(blocks[at], kind="p", level=0)
            return True
    if key in fold(" ".join(block.text for block in blocks)):
        return False
    at = next((n for n, block in enumerate(blocks) if block.kind != "head"), len(blocks))
    blocks.insert(at, Block(text=lead.text, kind="p"))
    return True
