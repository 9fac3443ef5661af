"""Extraction: raw bytes to a title, byline fields and body lines. Plain text by our parser, HTML by trafilatura."""

from __future__ import annotations

import codecs
import logging
import re
from collections import Counter
from datetime import UTC, datetime

from pipeline.errors import Reject
from pipeline.models import Article, Block
from pipeline.stage import Stage
from pipeline.text import looks_like_text, normalise_line, word_character

log = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
HEADLINE_MAX_WORDS = 30
HEADLINE_MAX_CHARS = 250


def decode_text(raw: bytes) -> str:
    """Decode a plain-text file: UTF-8, or UTF-16/32 with a byte-order mark. Anything else is rejected.

    Guessing a legacy charset would put mojibake into rows that pass validation; a clear quarantine reason
    lets a person re-save the file as UTF-8 and replay it.
    """
    if not raw.strip():
        raise Reject("empty", "the file has no text")
    encoding = next((enc for bom, enc in _BOMS if raw.startswith(bom)), "utf-8")
    if encoding == "utf-8" and looks_binary(raw):
        raise Reject("binary_content", "NUL or control bytes: not a text file")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise Reject(
            "bad_encoding",
            f"not valid {encoding.upper()} at byte {exc.start}; re-save the file as UTF-8 and ingest it again",
        ) from exc
    if not text.strip():
        raise Reject("empty", "the file has no text")
    return text


def looks_binary(raw: bytes) -> bool:
    """NUL bytes, or many C0 control bytes besides tab/newline/CR/FF, in the first 8 KiB."""
    head = raw[:8192]
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls > len(head) * 0.05


def is_headline(line: str) -> bool:
    """A first line that reads as a headline: short, and not a sentence of article text."""
    return (
        len(line) <= HEADLINE_MAX_CHARS
        and len(line.split()) <= HEADLINE_MAX_WORDS
        and not line.endswith((".", ":", ";", ","))
        and not looks_like_text(line)
    )


def parse_text(article: Article, text: str) -> list[str]:
    """Plain text: the first non-empty line is the headline when it reads as one; the rest is the body."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None:
        headline = normalise_line(lines[first])
        if is_headline(headline):
            article.title, article.title_source = headline, "source"
            return lines[first + 1 :]
    return lines


# Chosen by measurement on the AEB benchmark (`make eval`): see README "Extraction quality".
TRAFILATURA_OPTIONS = {
    "include_comments": False,
    "include_tables": True,
    "include_links": True,  # only to measure each block's link share; the text carries no link markup
    "favor_precision": False,
}
_LINE_BREAKS = re.compile(r"\s*\n\s*")


def parse_html(article: Article, raw: bytes, signals: Counter | None = None) -> list[Block]:
    """HTML through trafilatura: body blocks without comments, plus title, author, date, site and URL metadata."""
    import trafilatura  # heavy: imported where used, never at DAG parse time

    from pipeline.document.bylines import labelled_authors
    from pipeline.document.cascade import extract_page
    from pipeline.document.chunks import chunk_groups, restore_chunks
    from pipeline.document.embedded import body_from_data, carrying_scripts
    from pipeline.document.lead import restore_lead, shown_lead
    from pipeline.document.page_meta import (
        clean_authors,
        h1_texts,
        json_ld,
        page_sections,
        pick_authors,
        pick_headline,
        site_names,
        sort_names,
    )

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    tree = trafilatura.load_html(raw)
    if tree is None:
        raise Reject("unparseable_html", "the bytes do not parse as an HTML document")
    h1s = h1_texts(tree)  # before extraction prunes the tree
    og_site_names = tree.xpath('//meta[@property="og:site_name"]/@content')
    page_data = json_ld(tree)
    sections = page_sections(tree, page_data)
    og_titles = [t for t in tree.xpath('//meta[@property="og:title"]/@content') if t.strip()]
    html_titles = [t for t in tree.xpath("//title/text()") if t.strip()]
    chunks = chunk_groups(tree)
    scripts = carrying_scripts(tree)  # before extraction, which drops the scripts
    tree_copyright = [c[:200] for c in tree.xpath('//meta[@name="copyright"]/@content')]
    labelled: list[str] = []
    lead = shown_lead(tree)  # before extraction prunes the page's header

    def read_labelled_byline(doc) -> None:
        """When neither the metadata nor the JSON-LD names a person (no author, or only the outlet), the byline
        the page prints under a label; read now, before the body's extraction prunes the tree."""
        if article.author:
            return
        not_people = [
            *site_names(doc.sitename, doc.hostname, og_site_names, page_data.publishers),
            *tree_copyright,
        ]
        if sort_names(doc.author, not_people)[0] or sort_names("; ".join(page_data.authors), not_people)[0]:
            return
        if found := labelled_authors(tree):
            labelled.append(found)

    doc = extract_page(
        tree,
        url=article.url,
        date_extraction_params={
            "extensive_search": False,  # never a date guessed from the text or the URL alone
            "original_date": True,  # the first publication, not the last update
            "max_date": today,
            "outputformat": "%Y-%m-%dT%H:%M:%S%z",
        },
        **TRAFILATURA_OPTIONS,
        keep_metadata=bool(scripts),
        on_metadata=read_labelled_byline,
    )
    blocks = html_blocks(doc.body) if doc is not None and doc.body is not None else []
    blocks, restored = restore_chunks(blocks, chunks)
    if signals is not None and restored:
        signals["restored_chunks"] += restored
    if scripts and (data := body_from_data(scripts, blocks, doc.title if doc is not None else None)):
        blocks = data
        if signals is not None:
            signals["embedded_body"] += 1
    if restore_lead(blocks, lead) and signals is not None:
        signals["restored_lead"] += 1
    if not blocks or doc is None:  # doc None: the page's metadata could not be read at all
        raise Reject("no_article_text", "trafilatura found no article text in the page")
    # Metadata a record or feed entry already gave (a reader set it) wins over what the page says.
    names_of_site = site_names(doc.sitename, doc.hostname, og_site_names, page_data.publishers)
    # the publisher's own declaration of the headline (schema.org `headline`) before og:title and <title>
    page_title = pick_headline(
        page_data.headline,
        og_titles[0] if og_titles else None,
        html_titles[0] if html_titles else None,
        doc.title,
        h1s,
        names_of_site,
        sections,
    )
    if page_title and not article.title:
        article.title, article.title_source = page_title, "source"
    if (doc.author or page_data.authors) and not article.author:
        # the copyright holder names a company, never the article's author ("Condé Nast" as meta author)
        not_people = [*names_of_site, *tree_copyright]
        declared = clean_authors("; ".join(page_data.authors), not_people) if page_data.authors else None
        author = pick_authors(declared, clean_authors(doc.author, not_people), names_of_site)
        article.author = normalise_line(author) if author else None
    if labelled:  # the metadata named no person, the page's labelled byline does
        article.author = normalise_line(labelled[0])
        if signals is not None:
            signals["labelled_byline"] += 1
    article.url = article.url or doc.url or None
    article.source = article.source or doc.sitename or doc.hostname or None
    article.description = normalise_line(doc.description) if doc.description else None
    if doc.date and article.published_at is None:
        article.published_at = parse_page_date(doc.date)
    return blocks


def parse_page_date(value: str) -> datetime | None:
    """The page's publication time as naive UTC; None when unparseable or in the future.

    htmldate gives "2019-11-18T09:30:00+0200" when the page states a zone (converted to UTC), and a time
    without zone (taken as UTC: nothing better is known) or midnight when it states only a day.
    """
    try:
        published = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if published.tzinfo is not None:
        published = published.astimezone(UTC).replace(tzinfo=None)
    return published if published <= datetime.now(UTC).replace(tzinfo=None) else None


def html_blocks(body) -> list[Block]:
    """trafilatura's XML body as blocks: one per paragraph, heading, quote, table or list item, in order.

    Takes `body` apart: each block is detached from it (with its tail, as a copy would have it) and changed.
    """
    from trafilatura.xml import xmltotxt

    blocks: list[Block] = []
    for element in list(body):
        rend = element.get("rend", "")
        level = int(rend[1]) if element.tag == "head" and rend[:1] == "h" and rend[1:2].isdigit() else 0
        parts = list(element.iter("item")) if element.tag == "list" else [element]
        for part in parts:
            part.getparent().remove(part)  # lxml keeps the tail with the element
            for nested in part.findall(".//list"):  # a nested list's items are blocks of their own
                nested.getparent().remove(nested)
            ratio = link_ratio(part)
            unlink(part)
            _join_source_lines(part)
            text = xmltotxt(part, False).strip()
            kind = part.tag if part.tag in ("p", "head", "item", "quote", "table", "code") else "other"
            blocks.extend(Block(line, kind, level, ratio) for line in _LINE_BREAKS.split(text) if line)
    return blocks


def _join_source_lines(element) -> None:
    """Newlines inside a paragraph's source are spaces in the browser; only <lb/> and blocks break lines."""
    for node in element.iter():
        if node.text and "\n" in node.text:
            node.text = node.text.replace("\n", " ")
        if node is not element and node.tail and "\n" in node.tail:
            node.tail = node.tail.replace("\n", " ")


def link_ratio(element) -> float:
    """Share of the element's non-space characters that sit inside links."""
    total = _visible_chars("".join(element.itertext()))
    if not total:
        return 0.0
    linked = sum(_visible_chars("".join(ref.itertext())) for ref in element.iter("ref"))
    return min(1.0, linked / total)


def _visible_chars(text: str) -> int:
    return len(text) - sum(text.count(ch) for ch in " \t\n\r\u00a0")


def unlink(element) -> None:
    """Replace links by their text. A word glued to a link's end ("Pro</ref>was") gets its space back, in scripts
    that space their words only: "中居正広</ref>氏" stays one word."""
    from lxml import etree

    for ref in element.iter("ref"):
        inner = "".join(ref.itertext())
        if ref.tail and word_character(inner[-1:]) and word_character(ref.tail[:1]):
            ref.tail = " " + ref.tail
    etree.strip_tags(element, "ref")


def extract(article: Article, signals: Counter | None = None) -> Article:
    """Bytes to text: title and metadata on the article, body lines (and HTML blocks) for the clean stage."""
    if article.media_type == "text/html":
        if not article.raw.strip():
            raise Reject("empty", "the file has no content")
        if b"\x00" in article.raw[:8192]:
            raise Reject("binary_content", "NUL bytes: not an HTML file")
        article.blocks = parse_html(article, article.raw, signals)
        article.body = "\n".join(block.text for block in article.blocks)
        article.extractor = "trafilatura"
    else:
        text = decode_text(article.raw)
        lines = parse_text(article, text) if not article.title else text.splitlines()
        article.body = "\n".join(lines)
        article.extractor = "text"
    article.raw = b""  # the bytes are no longer needed: keep the stream's memory flat
    return article


class ExtractStage(Stage):
    """Bytes to text lines. Leaves `article.body` as the raw extracted lines for the clean stage.

    `apply` extracts in this process. A run extracts in worker processes instead, through
    `pipeline.document.stage.DocumentStage`, which runs this stage's hook there under a hard timeout, with
    clean and enrich after it.
    """

    name = "extract"

    def process(self, article: Article) -> Article:
        signals: Counter = Counter()
        article = extract(article, signals)
        for signal, n in signals.items():
            self.ledger.add(self.name, signal, n)
        return article
