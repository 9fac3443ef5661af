"""RSS and Atom feeds from untrusted bytes: feedparser given checked UTF-8 in memory, entity declarations refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

from pipeline.read.records import (
    HTML_CONTENT_TYPES,
    Fields,
    Problem,
    Record,
    RecordOrError,
    as_html,
    author_name,
    body_of,
    parse_date,
    text_of,
)

# RFC 3023: an application/xml charset wins over whatever the document declares.
_UTF8_XML = {"content-type": "application/xml; charset=utf-8"}


# What the XML parser reads before the root element: processing instructions, comments, a DOCTYPE.
_PROLOG_MARKUP = re.compile(rb"<(?:\?|!--|!doctype|[A-Za-z_:\x80-\xff])", re.IGNORECASE)


# Inside a DOCTYPE: literals, comments and PIs (each to its end, or to the end of the input), brackets, the end.
_DOCTYPE_TOKEN = re.compile(
    rb"\"[^\"]*(?:\"|\Z)|'[^']*(?:'|\Z)|<!--.*?(?:-->|\Z)|<\?.*?(?:\?>|\Z)|[\[\]>]", re.DOTALL
)


_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)


# `<!ENTITY nbsp "&#160;">`: one character, no nesting, nothing external (feeds declare HTML names this way).
_CHARACTER_ENTITY = re.compile(
    rb"<!ENTITY\s+[A-Za-z_][\w.-]*\s+([\"'])&#(?:[0-9]{1,7}|x[0-9A-Fa-f]{1,6});\1\s*>"
)


# feedparser's loose parser takes entity declarations from the text before the first match of this.
_FEEDPARSER_HEAD_END = re.compile(rb"<\w")


_ELEMENT = re.compile(rb"<([A-Za-z_:][\w:.-]*)")


def parse_feed(data: bytes) -> Iterator[RecordOrError]:
    """RSS / Atom entries from a feed's bytes, or why there are none: `not_a_feed` or `malformed_feed`.

    Feeds come from untrusted servers. feedparser is given an in-memory stream of checked UTF-8, never the
    bytes themselves: `feedparser.parse(b"/etc/passwd")` opens and parses that file (bytes that name a path
    are taken for one; `b"/dev/zero"` fills memory), and a str would be fetched as a URL.

    - `not_a_feed`: no feed at all (an HTML page, JSON, text): no entries, no feed version, no feed title.
    - `malformed_feed`: refused by `_feed_xml` (entity declarations, an undecodable declared encoding), or
      XML broken beyond recovery: feedparser found a feed but no entries, and says the XML is broken.
    - A feed whose XML is broken but recoverable (feedparser's `bozo`: a stray `&`, an unclosed tag, an HTML
      entity, a truncated tail) yields the entries its loose parser found, as before.
    - A feed with no entries and no error yields nothing (`iter_records` calls that `no_entries`).
    """
    import io

    import feedparser  # imported where used, never at DAG parse time

    xml, refused = _feed_xml(data)
    if xml is None:
        yield Problem("malformed_feed", refused)
        return
    parsed = feedparser.parse(io.BytesIO(xml), response_headers=_UTF8_XML)
    feed, entries = parsed.get("feed", {}), parsed.get("entries", [])
    error = parsed.get("bozo_exception")
    if not entries and not parsed.get("version") and not feed.get("title"):
        root = _ELEMENT.search(xml)
        what = f"its root element is <{root[1].decode(errors='replace')}>" if root else "no XML element"
        yield Problem("not_a_feed", f"not an RSS or Atom feed: {what}" + (f" ({error})" if error else ""))
        return
    if not entries and error is not None:
        yield Problem("malformed_feed", f"a feed whose XML is broken beyond recovery, no entries: {error}")
        return
    source = text_of(feed.get("title"))
    for index, entry in enumerate(entries, 1):
        yield Record(index, entry_to_fields(entry, source))


def _feed_xml(data: bytes) -> tuple[bytes | None, str]:
    """The feed as UTF-8 XML without a DOCTYPE, for feedparser; or None and why the feed is refused.

    Decoded first, checked after: the XML parsers read the decoded text, and a document declaring UTF-7 (or
    `unicode_escape`) spells `<!ENTITY` in other bytes (`+ADw-!ENTITY`). The bytes are decoded by feedparser's
    own `convert_to_utf8` (what `feedparser.parse` calls), checked, and handed to `feedparser.parse` as UTF-8
    with a charset that says so: what was checked is what its parsers read.

    Bytes that are valid UTF-8 (and hold no NUL, as UTF-16 or UTF-32 without a byte-order mark would) are
    read as UTF-8, whatever the document declares: a declaration that lies (iso-8859-1, koi8-r, even utf-16
    over UTF-8 bytes) otherwise turns every accent into mojibake, or the whole feed into nothing, while
    legacy-encoded text is almost never valid UTF-8 by chance. Other bytes are decoded as feedparser does:
    the declared encoding, else UTF-8, else windows-1252. A declared codec that raises instead of failing to
    decode (`undefined`; `unicode_escape` making a lone surrogate of `\\ud800`) makes feedparser raise: that
    feed is refused.
    """
    from feedparser.encodings import convert_to_utf8

    try:
        xml = convert_to_utf8(_UTF8_XML if _is_utf8(data) else {}, data, {})
    except (ValueError, LookupError) as exc:  # UnicodeError is a ValueError
        return None, f"its declared encoding cannot be decoded: {type(exc).__name__}: {exc}"
    return _without_doctype(xml)


def _is_utf8(data: bytes) -> bool:
    """Valid UTF-8 without NUL (XML has no NUL; UTF-16 and UTF-32 text is full of them)."""
    if b"\0" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _without_doctype(xml: bytes) -> tuple[bytes | None, str]:
    """`xml` without its DOCTYPE; or None and why, when the DOCTYPE declares entities.

    Entities are how a feed attacks its parser: nested ones (billion laughs) and one big one referenced many
    times (quadratic blowup) cost memory and time, external ones (`SYSTEM "file:///..."`, a DTD URL) read
    files or make requests. feedparser 6.0.14 does not stop them all: it keeps "safe" declarations (any value
    without `&`) and its loose parser, its fallback for any XML error, expands them without limit (130 KB of
    feed became a 1 GB summary, 3 GB and 44 s); a comment holding `<x` before the DOCTYPE hides it from
    feedparser's own DOCTYPE filter, and expat then expands nested entities up to its amplification limit.

    So a DOCTYPE that declares an entity is refused, whole: stripping it would leave its references as
    literal `&name;` text in titles and bodies, and a feed that declares entities is hostile or broken
    beyond what it is worth. The one exception is a DOCTYPE whose every entity is a single character
    reference (`<!ENTITY nbsp "&#160;">`, how feeds declare HTML names): harmless, it is stripped like any
    other, and feedparser's loose parser reads HTML names (`&nbsp;`, `&eacute;`) without it. A DOCTYPE that
    declares nothing (RSS 0.91's `<!DOCTYPE rss PUBLIC ... "http://my.netscape.com/...dtd">`) is stripped:
    nothing is ever fetched, whatever XML parser feedparser would pick. An unterminated DOCTYPE, a second one
    (XML allows one), or an entity declaration left where either parser would read it, is refused.
    """
    end_of_prolog, pos, stripped = len(xml), 0, False
    while (markup := _PROLOG_MARKUP.search(xml, pos)) is not None:
        start, what = markup.start(), markup.group().lower()
        if what in (b"<?", b"<!--"):
            close = b"?>" if what == b"<?" else b"-->"
            end = xml.find(close, markup.end())
            if end == -1:
                break  # unterminated: the XML parser reads nothing after it either
            pos = end + len(close)
        elif what == b"<!doctype":
            if stripped:
                return None, "more than one DOCTYPE: refused"
            end = _doctype_end(xml, markup.end())
            if end is None:
                return None, "an unterminated DOCTYPE: refused"
            declared = len(_ENTITY_DECLARATION.findall(xml, start, end))
            if declared > len(_CHARACTER_ENTITY.findall(xml, start, end)):
                return None, "a DOCTYPE with entity declarations: refused (entity expansion, external files)"
            xml, pos, stripped = xml[:start] + xml[end:], start, True
        else:  # the root element
            end_of_prolog = start
            break
    head = _FEEDPARSER_HEAD_END.search(xml)
    if _ENTITY_DECLARATION.search(xml, 0, max(end_of_prolog, head.end() if head else 0)):
        return None, "an entity declaration outside a DOCTYPE: refused"
    return xml, ""


def _doctype_end(xml: bytes, pos: int) -> int | None:
    """Where the DOCTYPE whose name starts at `pos` ends (after its `>`), or None when it does not."""
    in_subset = False
    for token in _DOCTYPE_TOKEN.finditer(xml, pos):
        if token[0] == b"[":
            in_subset = True
        elif token[0] == b"]":
            in_subset = False
        elif token[0] == b">" and not in_subset:
            return token.end()
    return None


def entry_to_fields(entry: dict, source: str | None) -> Fields:
    """A feedparser entry's article fields: content (HTML preferred), else summary; UTC dates."""
    body, media_type, summary_only = entrybody_of(entry)
    published_at, date_problem = entry_date(entry)
    return Fields(
        body=body,
        media_type=media_type,
        summary_only=summary_only,
        url=text_of(entry.get("link")),
        title=text_of(entry.get("title")),
        author=author_name(entry.get("author")),  # not author_detail: its e-mail pattern misreads long TLDs
        source=source,
        published_at=published_at,
        date_problem=date_problem,
    )


def entrybody_of(entry: dict) -> tuple[str | None, str, bool]:
    """The entry's content (an HTML one first), else its summary, typed by what the feed says it is, and
    whether it was only the summary."""
    contents = [c for c in entry.get("content") or [] if body_of(c.get("value"))]
    contents.sort(key=lambda c: c.get("type") not in HTML_CONTENT_TYPES)  # stable: feed order otherwise
    if contents:
        value, kind, summary_only = contents[0]["value"], contents[0].get("type"), False
    elif body_of(entry.get("summary")):
        value, kind, summary_only = entry["summary"], (entry.get("summary_detail") or {}).get("type"), True
    else:
        return None, "text/plain", True
    return (value, "text/plain", summary_only) if kind == "text/plain" else (*as_html(value), summary_only)


def entry_date(entry: dict) -> tuple[datetime | None, str | None]:
    """feedparser's `published_parsed` / `updated_parsed` (UTC); a date it could not parse is `date_unparsed`."""
    for key in ("published", "updated"):
        if entry.get(f"{key}_parsed"):
            return parse_date(entry[f"{key}_parsed"])
        if entry.get(key):
            return parse_date(entry[key])
    return None, None
