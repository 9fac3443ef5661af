"""Sitemaps (sitemaps.org 0.9, with Google's news extension) from untrusted bytes: parsed safely and bounded.

`parse_sitemap(body, max_urls, max_bytes)` reads a fetched sitemap: a `<sitemapindex>` (its `<sitemap>`
entries name further sitemaps) or a `<urlset>` (its `<url>` entries name pages, with `<lastmod>` and, in a
news sitemap, `<news:publication_date>`, `<news:title>`, `<news:language>` and `<news:name>`). A gzip body
(a `.xml.gz` served as it is) is inflated first, capped at `max_bytes` of output: a gzip bomb stops there
(`too_large`). The XML parser reads no DTD and expands no entity (a sitemap never needs one: a DOCTYPE or an
entity declaration is refused as `malformed_sitemap`), opens nothing on the network, and is streamed element
by element, each entry dropped once read, so a sitemap of any length costs one entry's memory plus the
entries kept; at most `max_urls` are kept (the protocol's own limit is 50,000), the rest only counted as
`overflow` while parsing stops. Broken XML after some entries keeps those entries and says why in `broken`.

Which entries a run fetches (new URLs, or landed ones whose `lastmod` is newer than the last visit) and how the
index is walked (depth, loops, a cap on sitemaps per source) is `pipeline.read.web`'s business.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.read.decode import Decoder, Overflow
from pipeline.read.records import Problem, parse_date, text_of

SITEMAP_ROOTS = ("urlset", "sitemapindex")
_GZIP = b"\x1f\x8b"
_ELEMENT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_PROLOG_THREAT = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_SNIFF_BYTES = 4096
# The news extension's fields, by (parent, element): <news:news><news:title>, <news:publication><news:name>, ...
_NEWS_FIELDS = {
    ("news", "publication_date"),
    ("news", "title"),
    ("publication", "name"),
    ("publication", "language"),
}


@dataclass(frozen=True)
class SitemapEntry:
    """One `<url>` or `<sitemap>` entry: where, and what the sitemap says of it."""

    loc: str
    lastmod: datetime | None = None
    published_at: datetime | None = None  # news:publication_date
    title: str | None = None  # news:title
    language: str | None = None  # news:language, as its primary subtag ("zh-cn" -> "zh")
    publication: str | None = None  # news:name


@dataclass
class Sitemap:
    kind: str  # "urlset" or "sitemapindex"
    entries: list[SitemapEntry] = field(default_factory=list)
    overflow: bool = False  # more entries than the cap: the rest were not read
    broken: str | None = None  # the XML broke after these entries: why
    invalid: int = 0  # entries without a usable http(s) <loc>


def root_of(body: bytes) -> str | None:
    """The local name of the document's root element (`urlset`, `rss`, `html`, ...), from its first bytes;
    a gzip body is inflated just enough to see it. None when there is no element to see."""
    head = body[: _SNIFF_BYTES * 4]
    if head.startswith(_GZIP):
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, _SNIFF_BYTES)
        except zlib.error:
            return None
    if (match := _ELEMENT.search(head)) is None:
        return None
    return match[1].decode("ascii", "replace").rsplit(":", 1)[-1].lower()


def is_sitemap(body: bytes) -> bool:
    return root_of(body) in SITEMAP_ROOTS


def parse_sitemap(body: bytes, max_urls: int, max_bytes: int) -> Sitemap | Problem:
    """The sitemap's entries (see the module docstring), or why it cannot be read: `too_large` (inflated past
    `max_bytes`), `malformed_sitemap` (bad gzip, a DOCTYPE, XML broken before any entry), `not_a_sitemap`."""
    if body.startswith(_GZIP):
        decoder = Decoder("gzip", max_bytes)
        try:
            decoder.feed(body)
            body = decoder.finish()
        except Overflow:
            return Problem("too_large", f"a gzip sitemap that inflates past the {max_bytes}-byte cap")
        except (zlib.error, EOFError) as exc:
            return Problem("malformed_sitemap", f"bad gzip data: {exc}")
    root = _ELEMENT.search(body)
    if root is None:
        return Problem("not_a_sitemap", "no XML element")
    if _PROLOG_THREAT.search(body, 0, root.start()):
        return Problem("malformed_sitemap", "a DOCTYPE or entity declaration: refused (entity expansion)")
    return _parse(body, max_urls)


def _parse(xml: bytes, max_urls: int) -> Sitemap | Problem:
    from lxml import etree

    events = etree.iterparse(
        io.BytesIO(xml),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
    )
    sitemap: Sitemap | None = None
    try:
        for event, element in events:
            name = _local(element.tag)
            if sitemap is None:
                if name not in SITEMAP_ROOTS:
                    return Problem("not_a_sitemap", f"not a sitemap: its root element is <{name}>")
                sitemap = Sitemap(name)
                continue
            if event != "end" or name not in ("url", "sitemap"):
                continue
            if len(sitemap.entries) >= max_urls:
                sitemap.overflow = True
                break
            entry = _entry(element)
            if entry is None:
                sitemap.invalid += 1
            else:
                sitemap.entries.append(entry)
            element.clear()
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        if sitemap is None or not sitemap.entries:
            return Problem("malformed_sitemap", f"XML broken before any entry: {exc}")
        sitemap.broken = str(exc)
    if sitemap is None:
        return Problem("not_a_sitemap", "no XML element")
    return sitemap


def _entry(element) -> SitemapEntry | None:
    values: dict[str, str] = {}  # loc, lastmod; and the news extension's, by their place in <news:news>
    for child in element.iter():
        if child is element or not isinstance(child.tag, str) or not (child.text and child.text.strip()):
            continue
        name, parent = _local(child.tag), _local(child.getparent().tag)
        if parent in ("url", "sitemap") or (parent, name) in _NEWS_FIELDS:
            values.setdefault(name, child.text.strip())
    loc = values.get("loc", "")
    if not loc.lower().startswith(("http://", "https://")) or any(c.isspace() for c in loc):
        return None
    language = text_of(values.get("language"))
    return SitemapEntry(
        loc=loc,
        lastmod=parse_date(values.get("lastmod"))[0],
        published_at=parse_date(values.get("publication_date"))[0],
        title=text_of(values.get("title")),
        language=language.split("-")[0].split("_")[0].lower() if language else None,
        publication=text_of(values.get("name")),
    )


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""
