"""Extraction: raw bytes to a title, byline fields and body lines. Plain text by our parser, HTML by trafilatura."""

from __future__ import annotations

import codecs
from datetime import UTC, datetime

from pipeline.clean import looks_like_text, normalise_line
from pipeline.errors import Reject
from pipeline.models import Article
from pipeline.stage import Stage

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


def parse_html(article: Article, raw: bytes) -> list[str]:
    """HTML through trafilatura: body text without comments, plus title, author, date, site and URL metadata."""
    import trafilatura  # heavy: imported where used, never at DAG parse time

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    doc = trafilatura.bare_extraction(
        raw,
        include_comments=False,
        with_metadata=True,
        include_tables=True,
        date_extraction_params={"extensive_search": False, "original_date": True, "max_date": today},
    )
    if doc is None or not (doc.text or "").strip():
        raise Reject("no_article_text", "trafilatura found no article text in the page")
    if doc.title:
        article.title, article.title_source = normalise_line(doc.title), "source"
    article.author = normalise_line(doc.author) if doc.author else None
    article.url = doc.url or None
    article.source = doc.sitename or doc.hostname or None
    if doc.date:
        try:
            published = datetime.strptime(doc.date[:10], "%Y-%m-%d")
        except ValueError:
            published = None
        if published is not None and published <= datetime.now(UTC).replace(tzinfo=None):
            article.published_at = published
    return doc.text.splitlines()


class ExtractStage(Stage):
    """Bytes to text lines. Leaves `article.body` as the raw extracted lines for the clean stage."""

    name = "extract"

    def process(self, article: Article) -> Article:
        if article.media_type == "text/html":
            if not article.raw.strip():
                raise Reject("empty", "the file has no content")
            if b"\x00" in article.raw[:8192]:
                raise Reject("binary_content", "NUL bytes: not an HTML file")
            lines = parse_html(article, article.raw)
            article.extractor = "trafilatura"
        else:
            lines = parse_text(article, decode_text(article.raw))
            article.extractor = "text"
        article.body = "\n".join(lines)
        article.raw = b""  # the bytes are no longer needed: keep the stream's memory flat
        return article
