"""A body the page carries as data: the article's HTML inside a script, for the browser to render.

Client-rendered pages (Next.js, React Query or Nuxt state) ship the article in a script and an empty container
in the markup; trafilatura, which reads the markup (and a JSON-LD `articleBody`, in its baseline), finds nothing
or a teaser there. `carrying_scripts` keeps, before extraction (which drops scripts), the scripts that hold HTML
paragraphs; `body_from_data` decodes their string values (`embedded_bodies`) only when they could hold more than
the markup gave, and takes one (`embedded_blocks`) only when it holds much more and is this page's article
(`related`).

No site and no language: a JSON string literal with escaped paragraph markup, decoded by the JSON rules.
"""

from __future__ import annotations

import json
import re

from pipeline.models import Block

MIN_CHARS = 400  # an embedded body shorter than this is a teaser or a widget's text
# The body a script carries replaces the markup's when its paragraphs hold this many times the markup's text.
EMBEDDED_OVER = 2.0
MAX_SCRIPT = 8_000_000  # a script longer than this is not read (the page's input cap is smaller anyway)
# A double-quoted JSON/JS string literal holding an escaped or plain paragraph tag.
_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.){200,}?)"(?=\s*[,}\]):])')
_PARAGRAPH = ("\\u003cp", "\\u003Cp", "<p>", "<p ", "\\x3cp")
_BLOCK_TAGS = ("p", "h2", "h3", "h4", "h5", "h6", "li", "blockquote")
_SKIPPED = ("figure", "figcaption", "script", "style", "aside", "nav", "footer", "form")
_CAPTION_CLASS = re.compile(r"caption|credit", re.IGNORECASE)


def carrying_scripts(tree) -> list[str]:
    """The texts of the page's scripts that may carry a body (a paragraph tag in them), read before extraction,
    which drops scripts. Only these are searched, and only when the markup gives little (`body_from_data`)."""
    texts = (script.text or "" for script in tree.iter("script"))
    return [
        text
        for text in texts
        if MIN_CHARS <= len(text) <= MAX_SCRIPT and any(marker in text for marker in _PARAGRAPH)
    ]


def body_from_data(scripts: list[str], markup: list[Block], title: str | None) -> list[Block] | None:
    """The body a script carries, when its paragraphs hold `EMBEDDED_OVER` times the markup's text and it is this
    page's article (`related`); None to keep the markup's blocks."""
    shown = sum(len(block.text) for block in markup)
    if sum(map(len, scripts)) <= EMBEDDED_OVER * shown:
        return None  # a body decoded from these scripts is shorter than they are: it cannot beat the markup
    for fragment in embedded_bodies(scripts):  # longest first
        data_blocks = embedded_blocks(fragment)
        paragraphs = [block for block in data_blocks if block.kind == "p"]
        if sum(len(block.text) for block in paragraphs) <= EMBEDDED_OVER * shown:
            break  # the others are shorter still
        if len(paragraphs) >= 2 and related(data_blocks, markup, title):
            return data_blocks
    return None


def embedded_bodies(scripts: list[str]) -> list[str]:
    """Candidate bodies carried as data: HTML fragments from the scripts' string literals, longest first; only
    those with over MIN_CHARS characters of text."""
    found: list[tuple[int, str]] = []
    for text in scripts:
        for match in _LITERAL.finditer(text):
            literal = match.group(1)
            if not any(marker in literal for marker in _PARAGRAPH):
                continue
            try:
                value = json.loads(f'"{literal}"')
            except ValueError:
                continue
            chars = len(_TAG.sub("", value))
            if chars >= MIN_CHARS:
                found.append((chars, value))
    found.sort(key=lambda item: -item[0])
    return [value for _, value in found]


_TAG = re.compile(r"<[^>]*>")


def related(blocks: list[Block], markup: list[Block], title: str | None) -> bool:
    """The embedded body is this page's article, not the next one a feed or an infinite scroll preloads: it holds
    most of what the markup showed (a teaser is its start), or, where the markup showed next to nothing, most of
    the words of the page's title (character pairs for a script written without spaces)."""
    from pipeline.text import fold

    text = fold(" ".join(block.text for block in blocks))
    shown = [fold(block.text) for block in markup if block.kind == "p"]
    shown_chars = sum(len(line) for line in shown)
    if shown_chars >= MIN_CHARS:
        return sum(len(line) for line in shown if line in text) >= RELATED_SHARE * shown_chars
    words = _title_terms(fold(title or ""))
    found = words & _title_terms(text, unspaced=_unspaced(title or ""))
    return bool(words) and len(found) >= RELATED_SHARE * len(words)


RELATED_SHARE = 0.5


def _unspaced(text: str) -> bool:
    """Mostly characters of scripts that need no spaces (Chinese, Japanese) or join words (Korean particles)."""
    from pipeline.text import unspaced_letters

    letters = sum(1 for ch in text if ch.isalnum())
    return bool(letters) and unspaced_letters(text) > letters / 2


def _title_terms(text: str, unspaced: bool | None = None) -> set[str]:
    if unspaced is None:
        unspaced = _unspaced(text)
    if unspaced:
        squeezed = text.replace(" ", "")
        return {squeezed[i : i + 2] for i in range(len(squeezed) - 1)}
    return set(text.split())


def embedded_blocks(fragment: str) -> list[Block]:
    """An embedded HTML fragment as body blocks: its paragraphs, headings, list items and quotes, in order,
    without figures and captions."""
    from lxml import html

    try:
        root = html.fragment_fromstring(fragment, create_parent="div")
    except Exception:  # lxml's ParserError and the like: a literal that is not markup after all
        return []
    blocks: list[Block] = []
    for element in root.iter(*_BLOCK_TAGS):
        if any(
            a.tag in _SKIPPED or _CAPTION_CLASS.search(a.get("class") or "")
            for a in (element, *element.iterancestors())
        ):
            continue
        if any(child.tag in _BLOCK_TAGS for child in element.iterdescendants()):
            continue  # its inner blocks come on their own
        text = " ".join(element.text_content().split())
        if not text:
            continue
        if element.tag == "p":
            blocks.append(Block(text, "p"))
        elif element.tag == "li":
            blocks.append(Block(text, "item"))
        elif element.tag == "blockquote":
            blocks.append(Block(text, "quote"))
        else:
            blocks.append(Block(text, "head", int(element.tag[1])))
    return blocks
