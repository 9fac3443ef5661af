"""The lead paragraph a page shows above its article: trafilatura often leaves it out with the page's header.

Many news pages set a summary paragraph (standfirst, teaser, dek) between the headline and the text, and the same
words in their meta description. trafilatura takes the article's container, which on most of those pages starts
below the summary: the lead is lost (fundus: 41 pages of 129). Here the lead is found by what it is, the page's own
summary shown as a paragraph of its own: an element whose whole text is the meta description (or og:description),
read before extraction prunes the tree, and put back at the top of the body when the body does not hold it.

A summary set as a heading is not restored: as a heading it is the page's furniture, and the clean stage's
`standfirst` rule removes it (`pipeline.document.clean`), so the two agree.
"""

from __future__ import annotations

from pipeline.models import Block
from pipeline.text import fold, normalise_line

MIN_LEAD_WORDS = 8  # a shorter description is a slogan or a label, not a paragraph
LENGTH_SLACK = (
    0.2  # the element's text may differ from the description by this share in length (spaces, quotes)
)
_CONTAINERS = "self::p or self::div or self::span or self::section"
# Candidates by length first: the XPath engine measures every element's text far faster than Python could.
_SHOWN = (
    f"//body//*[{_CONTAINERS}][string-length(normalize-space(.)) >= $low]"
    "[string-length(normalize-space(.)) <= $high]"
)


def shown_lead(tree) -> str | None:
    """The page's summary as the page shows it, when some element's whole text is its meta description."""
    found = tree.xpath('//meta[@name="description"]/@content|//meta[@property="og:description"]/@content')
    description = next((d for d in (normalise_line(" ".join(f.split())) for f in found) if d), None)
    if description is None or len(description.split()) < MIN_LEAD_WORDS:
        return None
    key = fold(description)
    size = len(description)
    low, high = int(size * (1 - LENGTH_SLACK)), int(size * (1 + LENGTH_SLACK)) + 1
    for element in tree.xpath(_SHOWN, low=low, high=high):
        text = normalise_line(" ".join(element.text_content().split()))
        if fold(text) == key:
            return text
    return None


def restore_lead(blocks: list[Block], lead: str | None) -> bool:
    """Put `lead` back as the body's first paragraph (after its leading headings) unless the body holds it;
    whether it did."""
    if not lead or not blocks or fold(lead) in fold(" ".join(block.text for block in blocks)):
        return False
    at = next((n for n, block in enumerate(blocks) if block.kind != "head"), len(blocks))
    blocks.insert(at, Block(text=lead, kind="p"))
    return True
