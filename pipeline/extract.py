"""Extraction: raw bytes to a title, byline fields and body lines. Plain text by our parser, HTML by trafilatura."""

from __future__ import annotations

import codecs
import logging
import math
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from pipeline.clean import looks_like_text, normalise_line
from pipeline.errors import Reject
from pipeline.models import Article, Block
from pipeline.stage import Item, Stage

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
        raise Reject("bad_encoding", f"not valid {encoding.upper()} at byte {exc.start}") from exc
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
# trafilatura checks its own extraction against readability and justext on every page; that costs about a fifth of
# the extraction. Here they are consulted only when our extraction has fewer characters than this: on AEB the
# fallback replaced 5 of 181 extractions, better on the two under 300 characters, worse on the three over 800.
FALLBACK_BELOW = 500
_LINE_BREAKS = re.compile(r"\s*\n\s*")


def parse_html(article: Article, raw: bytes) -> list[Block]:
    """HTML through trafilatura: body blocks without comments, plus title, author, date, site and URL metadata."""
    import trafilatura  # heavy: imported where used, never at DAG parse time

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    tree = trafilatura.load_html(raw)
    if tree is None:
        raise Reject("unparseable_html", "the bytes do not parse as an HTML document")
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
    )
    blocks = html_blocks(doc.body) if doc is not None and doc.body is not None else []
    if not blocks:
        raise Reject("no_article_text", "trafilatura found no article text in the page")
    # Metadata a record or feed entry already gave (a reader set it) wins over what the page says.
    if doc.title and not article.title:
        article.title, article.title_source = normalise_line(doc.title), "source"
    if doc.author and not article.author:
        article.author = normalise_line(doc.author)
    article.url = article.url or doc.url or None
    article.source = article.source or doc.sitename or doc.hostname or None
    article.description = normalise_line(doc.description) if doc.description else None
    if doc.date and article.published_at is None:
        article.published_at = parse_page_date(doc.date)
    return blocks


def extract_page(
    tree,
    url: str | None,
    date_extraction_params: dict,
    include_comments: bool,
    include_tables: bool,
    include_links: bool,
    favor_precision: bool,
):
    """`trafilatura.bare_extraction(tree, with_metadata=True, ...)` less what we never read, on a tree it may change.

    The page's metadata without categories, tags or license (`page_metadata`), and the body tree from
    `main_text`; no text rendering and no copy of the tree. Returns trafilatura's Document with `.body` set, or
    None where bare_extraction gives None.
    """
    from trafilatura.settings import Extractor

    options = Extractor(
        output_format="python",
        comments=include_comments,
        tables=include_tables,
        links=include_links,
        precision=favor_precision,
        url=url,
        with_metadata=True,
        date_params=date_extraction_params,
    )
    try:
        doc = page_metadata(tree, options.url, options.date_params)
        body, text = main_text(tree, options, options.url or doc.url)
    except (TypeError, ValueError):  # bare_extraction's "no document"
        log.debug("trafilatura discarded %s", options.source)
        return None
    if len(text) < options.min_output_size:
        return None
    doc.body = body
    return doc


def page_metadata(tree, default_url: str | None, date_params: dict):
    """trafilatura's `extract_metadata` (2.3.1) without categories, tags and license, which nothing here reads.

    Title, author, URL, hostname, date (htmldate), site name and description come out as trafilatura gives them.
    """
    from trafilatura import metadata as md

    metadata = md.examine_meta(tree)
    if metadata.author and " " not in metadata.author:
        metadata.author = None
    try:
        metadata = md.extract_meta_json(tree, metadata)
    except Exception as err:  # bugs in trafilatura's json_metadata.py
        log.warning("error in JSON metadata extraction: %s", err)
    if not metadata.title:
        metadata.title = md.extract_title(tree)
    if not metadata.author:
        metadata.author = md.extract_author(tree)
    if not metadata.url:
        metadata.url = md.extract_url(tree, default_url)
    if metadata.url:
        metadata.hostname = md.extract_domain(metadata.url, fast=True)
    metadata.date = md.find_date(tree, **{**date_params, "url": metadata.url})
    if not metadata.sitename:
        metadata.sitename = md.extract_sitename(tree)
    if metadata.sitename:
        metadata.sitename = metadata.sitename.lstrip("@")  # a Twitter handle
        if metadata.sitename and "." not in metadata.sitename and not metadata.sitename[0].isupper():
            metadata.sitename = metadata.sitename.title()
    elif metadata.url:
        match = md.META_URL.match(metadata.url)
        if match:
            metadata.sitename = match[1]
    metadata.filedate = date_params.get("max_date")
    metadata.clean_and_trim()
    return metadata


def main_text(tree, options, url: str | None):
    """trafilatura's extraction cascade (`trafilatura.core.trafilatura_sequence`, 2.3.1) without comments, and
    with the fallback comparison (readability, justext) only under FALLBACK_BELOW characters. Changes `tree`.

    Returns the body tree and its text.
    """
    from copy import copy

    from trafilatura import core

    if options.comments:  # not a ValueError: extract_page reads those as trafilatura's "no document"
        raise NotImplementedError("main_text extracts without comments only")
    is_forum = core._forum_thread_page(tree)
    tree = core.prune_unwanted_nodes(tree, core.RAW_TREE_PRUNE_XPATH)
    if options.focus == "precision" or not is_forum:
        tree = core.prune_unwanted_nodes(tree, core.REMOVE_COMMENTS_AND_LISTS_XPATH)
    cleaned_tree, cleaned_tree_backup = core._prepare_tree(tree, options, url)
    if options.focus == "precision" and not is_forum:
        cleaned_tree = core.prune_unwanted_nodes(cleaned_tree, core.REMOVE_COMMENTS_XPATH)

    # 1. the main extractor; 2. readability and justext, here only for a short result
    body, text = core.extract_content(cleaned_tree, options)
    if not options.fast and len(text) < FALLBACK_BELOW:
        body, text = core.compare_extraction(cleaned_tree_backup, copy(tree), body, text, options)

    # 3. rescue: the baseline on the whole page, if it gives more text
    if len(text) < options.min_extracted_size and options.focus != "precision":
        b_body, b_text, b_len = core.baseline(tree)
        if b_len > len(text):
            body, text = b_body, b_text

    # 4. recall escalation for a short extraction that covers little of the page, as trafilatura does it
    if (
        options.focus == "balanced"
        and 0 < len(text) < core.ESCALATION_MAX_LENGTH
        and len(text) < core.ESCALATION_PAGE_SHARE * _page_text_bound(tree)
        and len(text) < core.ESCALATION_PAGE_SHARE * len(core.html2txt(tree))
    ):
        r_options = copy(options)
        r_options.focus = "recall"
        r_text = j_text = ""
        try:
            r_body, r_text = core._recall_retry(tree, r_options, url)
        except Exception as err:
            log.warning("recall retry failed: %s %s", err, url)
        if not options.fast:
            try:
                j_body, j_text = core.justext_rescue(copy(tree), options)
            except Exception as err:
                log.warning("justext candidate failed: %s %s", err, url)
        len_text, r_len, j_len = len(text), len(r_text), len(j_text)
        if j_len > r_len and j_len > core.ESCALATION_JUSTEXT_RATIO * len_text:
            body, text = j_body, j_text
        elif r_len >= options.min_extracted_size and r_len > core.ESCALATION_ACCEPT_RATIO * len_text:
            body, text = r_body, r_text
    return body, text


# What trafilatura's html2txt always deletes, whatever the attributes (its BASIC_CLEAN_XPATH deletes more).
_ALWAYS_CLEANED = ("aside", "fencedframe", "footer", "script", "style", "svg", "template")


def _page_text_bound(tree) -> float:
    """An upper bound of `len(trafilatura.baseline.html2txt(tree))` at a tenth of its cost (no copy, no XPath).

    html2txt deletes elements (their tails stay), pads each block element's text and tail with a space, and
    collapses whitespace: its length is at most the body's characters, less those of the elements it always
    deletes, plus two per block element. The escalation test needs html2txt only when this bound does not decide.
    """
    from trafilatura.baseline import _BLOCK_ELEMS

    body = tree.find(".//body")
    if body is None:
        return math.inf
    chars = len(body.text_content())
    for element in body.iter(*_ALWAYS_CLEANED):
        if not any(parent.tag in _ALWAYS_CLEANED for parent in element.iterancestors()):
            chars -= len(element.text_content())
    return chars + 2 * sum(1 for _ in body.iter(*_BLOCK_ELEMS))


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
    """Replace links by their text. A word glued to a link's end ("Pro</ref>was") gets its space back."""
    from lxml import etree

    for ref in element.iter("ref"):
        inner = "".join(ref.itertext())
        if ref.tail and inner[-1:].isalnum() and ref.tail[:1].isalnum():
            ref.tail = " " + ref.tail
    etree.strip_tags(element, "ref")


def extract(article: Article) -> Article:
    """Bytes to text: title and metadata on the article, body lines (and HTML blocks) for the clean stage."""
    if article.media_type == "text/html":
        if not article.raw.strip():
            raise Reject("empty", "the file has no content")
        if b"\x00" in article.raw[:8192]:
            raise Reject("binary_content", "NUL bytes: not an HTML file")
        article.blocks = parse_html(article, article.raw)
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

    `run` extracts in worker processes (`pipeline.document.DocumentStage`), up to `workers` at once and at
    most `timeout_s` each: one over the limit, or one that crashes or exhausts its worker's memory, is
    quarantined (`extract_timeout`, `extract_crashed`, `extract_out_of_memory`) and the run goes on. Items
    leave in the order they came. `apply` extracts in this process. A run uses `DocumentStage` directly, to
    clean and enrich in the workers too.
    """

    name = "extract"

    def __init__(self, ledger, workers: int = 2, timeout_s: float = 30.0, memory_limit_mb: int | None = None):
        super().__init__(ledger)
        self.workers, self.timeout_s, self.memory_limit_mb = workers, timeout_s, memory_limit_mb

    def process(self, article: Article) -> Article:
        return extract(article)

    def run(self, items: Iterable[Item]) -> Iterator[Item]:
        from pipeline.document import DocumentStage, DocumentSteps

        stage = DocumentStage(
            self.ledger, DocumentSteps(("extract",)), self.workers, self.timeout_s, self.memory_limit_mb
        )
        return stage.run(items)
