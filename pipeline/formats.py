"""Container formats: files that hold many articles (JSONL, JSON, RSS/Atom and JSON Feed), read as records.

Pure parsing: no stages, no ledger. `iter_records(path, max_file_bytes)` yields, in file order, a `Record` (what
one record or feed entry says of its article) or a `Problem` (a quarantine reason and detail, for one record or,
when `index` is None, for the whole file). The read stage in `pipeline/sources.py` turns them into articles and
quarantine rows.

- JSONL (`.jsonl`, `.ndjson`): one JSON object per line, streamed line by line; a record's index is its line number.
- JSON (`.json`): a JSON Feed (`version` https://jsonfeed.org/version/...), an array of records, or one record.
- Feeds (`.xml`, `.rss`, `.atom`, and fetched feeds): feedparser, given an in-memory stream of checked UTF-8,
  never a URL, a path or raw bytes (it opens bytes that name a file, and its own fetcher follows file:// and
  network addresses). A DOCTYPE that declares entities is refused (`malformed_feed`): see `parse_feed`.

Nothing is extracted from bodies here: the extract stage does that, keeping the metadata a record gave. A body
is text/html when it came from an HTML field or HTML feed content and holds markup; an "HTML" body without a
single tag (an RSS description in plain words) is text/plain with its escapes decoded.

Dates are kept only when they parse and are plausible (naive UTC, from 1990 up to now); otherwise the
record says why in `Fields.date_problem`, a ledger counter name.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

CONTAINER_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
}
JSON_FEED_VERSION = "https://jsonfeed.org/version/"
EARLIEST_DATE = datetime(1990, 1, 1)
MAX_UTC_OFFSET = timedelta(hours=14)  # the widest real time zones are UTC-12 and UTC+14
FUTURE_SLACK = timedelta(0)  # "never in the future": a date ahead of now is wrong, whatever the reason

# Record fields and their aliases: the first non-empty one wins.
URL_KEYS = ("url", "link", "canonical_url")
TITLE_KEYS = ("title", "headline")
HTML_KEYS = ("html", "content_html", "raw_html")
TEXT_KEYS = ("text", "body", "content_text", "content")
AUTHOR_KEYS = ("author", "byline")
DATE_KEYS = ("published_at", "published", "date_published", "date", "pubDate", "updated")
SOURCE_KEYS = ("source", "site", "site_name")
# JSON Feed items (https://www.jsonfeed.org/version/1.1/); the feed's title is the source.
FEED_URL_KEYS = ("url", "external_url")
FEED_HTML_KEYS = ("content_html",)
FEED_TEXT_KEYS = ("content_text", "summary")
FEED_AUTHOR_KEYS = ("authors", "author")
FEED_DATE_KEYS = ("date_published", "date_modified")
HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")
_EMAIL = re.compile(r"<?[^\s<>()]+@[^\s<>()]+>?")
_MARKUP = re.compile(r"<(?:[A-Za-z][A-Za-z0-9-]*|/[A-Za-z]|!)[^>]*>")


@dataclass(frozen=True)
class Fields:
    """What one record or feed entry says of its article. `body` is None when it has no HTML or text body."""

    body: str | None = None
    media_type: str = "text/plain"  # text/html when the body came from an HTML field or HTML feed content
    url: str | None = None
    title: str | None = None
    author: str | None = None
    source: str | None = None
    published_at: datetime | None = None  # naive UTC
    date_problem: str | None = None  # why a date the record gave was not kept: date_unparsed, date_dropped_*
    summary_only: bool = False  # a feed entry carrying only its summary: the article page holds the text


@dataclass(frozen=True)
class Record:
    """One record of a container file; `index` is 1-based: the line number (JSONL) or the item's position."""

    index: int
    fields: Fields


@dataclass(frozen=True)
class Problem:
    """Bad input: a quarantine `reason` and a human `detail`, for record `index`, or for the file when None."""

    reason: str
    detail: str
    index: int | None = None


RecordOrError = Record | Problem


def container_format(path: Path) -> str | None:
    """`jsonl`, `json` or `feed` for a file holding many records, None for anything else."""
    return CONTAINER_FORMATS.get(path.suffix.lower())


def iter_records(path: Path, max_file_bytes: int) -> Iterator[RecordOrError]:
    """The records of a container file in file order; bad input is a `Problem`, never an exception.

    A file over `max_file_bytes` is one `too_large` problem; a file with no records is one `no_entries`
    problem, so that it stays visible. JSONL is streamed: memory does not grow with the file.
    """
    kind = container_format(path)
    if kind is None:
        raise ValueError(f"{path}: not a container file")
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            yield Problem("too_large", f"{size} bytes, over the {max_file_bytes}-byte file cap")
            return
        if kind == "jsonl":
            yield from _at_least_one(jsonl_records(path))
            return
        with path.open("rb") as file:
            data = file.read(max_file_bytes + 1)
    except OSError as exc:
        yield Problem("unreadable", f"{type(exc).__name__}: {exc.strerror or exc}")
        return
    if len(data) > max_file_bytes:  # grew between stat and read
        yield Problem("too_large", f"over the {max_file_bytes}-byte file cap")
        return
    yield from _at_least_one(json_records(data) if kind == "json" else parse_feed(data))


def _at_least_one(items: Iterable[RecordOrError]) -> Iterator[RecordOrError]:
    empty = True
    for item in items:
        empty = False
        yield item
    if empty:
        yield Problem("no_entries", "the file parses but holds no records or entries")


def jsonl_records(path: Path) -> Iterator[RecordOrError]:
    """One record per non-blank line, read one line at a time; a bad line is a problem and the rest go on."""
    with path.open("rb") as file:
        for number, line in enumerate(file, 1):
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
            if line.strip():
                yield jsonl_record(number, line)


def jsonl_record(number: int, line: bytes) -> RecordOrError:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem("bad_encoding", f"line {number}: not valid UTF-8 at byte {exc.start}", number)
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return Problem("bad_record", f"line {number}: invalid JSON: {exc}", number)
    return to_record(number, obj, record_to_fields, "line")


def json_records(data: bytes) -> Iterator[RecordOrError]:
    """A JSON Feed's items, an array's records, or a single record object."""
    try:
        doc = json.loads(data)  # UTF-8, or UTF-16/32 recognised by the json module
    except UnicodeDecodeError as exc:
        yield Problem("bad_encoding", f"not valid {exc.encoding.upper()} at byte {exc.start}")
        return
    except (ValueError, RecursionError) as exc:
        yield Problem("bad_json", f"invalid JSON: {exc}")
        return
    if is_json_feed(doc):
        yield from json_feed_records(doc)
    elif isinstance(doc, list):
        for index, obj in enumerate(doc, 1):
            yield to_record(index, obj, record_to_fields, "item")
    elif isinstance(doc, dict):
        yield to_record(1, doc, record_to_fields, "item")
    else:
        yield Problem("bad_json", f"the top level is {_kind(doc)}: expected an object or an array of objects")


def is_json_feed(doc: Any) -> bool:
    return isinstance(doc, dict) and str(doc.get("version", "")).startswith(JSON_FEED_VERSION)


def json_feed_records(doc: dict) -> Iterator[RecordOrError]:
    items = doc.get("items")
    if not isinstance(items, list):
        yield Problem("bad_json", f"a JSON Feed whose items is {_kind(items)}, not an array")
        return
    source = _text(doc.get("title"))
    for index, item in enumerate(items, 1):
        yield to_record(index, item, lambda obj: json_feed_item_to_fields(obj, source), "item")


def to_record(index: int, obj: Any, convert: Callable[[dict], Fields], unit: str) -> RecordOrError:
    """A record from one decoded JSON value, or why it cannot be one."""
    if not isinstance(obj, dict):
        return Problem("bad_record", f"{unit} {index} is {_kind(obj)}, not an object", index)
    record = convert(obj)
    if not _encodable(record):
        return Problem(
            "bad_encoding", f"{unit} {index}: a text field holds an unpaired surrogate escape", index
        )
    return Record(index, record)


def record_to_fields(obj: dict) -> Fields:
    """A JSON record's article fields, accepting the common aliases (first non-empty wins)."""
    return _fields(
        obj,
        url_keys=URL_KEYS,
        html_keys=HTML_KEYS,
        text_keys=TEXT_KEYS,
        author_keys=AUTHOR_KEYS,
        date_keys=DATE_KEYS,
        source=_first_text(obj, SOURCE_KEYS),
    )


def json_feed_item_to_fields(item: dict, source: str | None) -> Fields:
    """A JSON Feed item's article fields; `source` is the feed's title."""
    summary_only = not _first_body(item, ("content_html", "content_text"))
    return replace(
        _fields(
            item,
            url_keys=FEED_URL_KEYS,
            html_keys=FEED_HTML_KEYS,
            text_keys=FEED_TEXT_KEYS,
            author_keys=FEED_AUTHOR_KEYS,
            date_keys=FEED_DATE_KEYS,
            source=source,
        ),
        summary_only=summary_only,
    )


def _fields(
    obj: dict,
    *,
    url_keys: tuple[str, ...],
    html_keys: tuple[str, ...],
    text_keys: tuple[str, ...],
    author_keys: tuple[str, ...],
    date_keys: tuple[str, ...],
    source: str | None,
) -> Fields:
    markup = _first_body(obj, html_keys)
    body, media_type = as_html(markup) if markup is not None else (_first_body(obj, text_keys), "text/plain")
    raw_date = next((obj[k] for k in date_keys if obj.get(k) not in (None, "")), None)
    published_at, date_problem = parse_date(raw_date) if raw_date is not None else (None, None)
    return Fields(
        body=body,
        media_type=media_type,
        url=_first_text(obj, url_keys),
        title=_first_text(obj, TITLE_KEYS),
        author=next((a for a in (author_name(obj.get(k)) for k in author_keys) if a), None),
        source=source,
        published_at=published_at,
        date_problem=date_problem,
    )


def author_name(value: Any) -> str | None:
    """An author given as a string, an object with a `name`, or a list of either (names joined by commas)."""
    if isinstance(value, dict):
        return person_name(value.get("name"))
    if isinstance(value, list):
        names = [name for name in (author_name(v) for v in value if not isinstance(v, list)) if name]
        return ", ".join(dict.fromkeys(names)) or None
    return person_name(value)


def person_name(value: Any) -> str | None:
    """A name string without the e-mail address RSS puts beside it: `desk@x.org (Ana Ruiz)` is `Ana Ruiz`."""
    text = _text(value)
    if text is None or "@" not in text:
        return text
    return _text(_EMAIL.sub(" ", text).replace("()", " ").strip(" ()"))


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
    source = _text(feed.get("title"))
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
    body, media_type, summary_only = entry_body(entry)
    published_at, date_problem = entry_date(entry)
    return Fields(
        body=body,
        media_type=media_type,
        summary_only=summary_only,
        url=_text(entry.get("link")),
        title=_text(entry.get("title")),
        author=author_name(entry.get("author")),  # not author_detail: its e-mail pattern misreads long TLDs
        source=source,
        published_at=published_at,
        date_problem=date_problem,
    )


def entry_body(entry: dict) -> tuple[str | None, str, bool]:
    """The entry's content (an HTML one first), else its summary, typed by what the feed says it is, and
    whether it was only the summary."""
    contents = [c for c in entry.get("content") or [] if _body(c.get("value"))]
    contents.sort(key=lambda c: c.get("type") not in HTML_CONTENT_TYPES)  # stable: feed order otherwise
    if contents:
        value, kind, summary_only = contents[0]["value"], contents[0].get("type"), False
    elif _body(entry.get("summary")):
        value, kind, summary_only = entry["summary"], (entry.get("summary_detail") or {}).get("type"), True
    else:
        return None, "text/plain", True
    return (value, "text/plain", summary_only) if kind == "text/plain" else (*as_html(value), summary_only)


def as_html(value: str) -> tuple[str, str]:
    """A body from an HTML field: text/html, unless it holds no markup at all (a feed's plain description).

    Such a body is text with HTML escapes; trafilatura finds no article in a page without tags, so it goes on
    as text/plain with its escapes (`&amp;`) decoded.
    """
    if _MARKUP.search(value):
        return value, "text/html"
    return html.unescape(value), "text/plain"


def entry_date(entry: dict) -> tuple[datetime | None, str | None]:
    """feedparser's `published_parsed` / `updated_parsed` (UTC); a date it could not parse is `date_unparsed`."""
    for key in ("published", "updated"):
        if entry.get(f"{key}_parsed"):
            return parse_date(entry[f"{key}_parsed"])
        if entry.get(key):
            return parse_date(entry[key])
    return None, None


def parse_date(value: Any, now: datetime | None = None) -> tuple[datetime | None, str | None]:
    """A date as naive UTC, or None and why: `date_unparsed`, `date_dropped_future`, `date_dropped_implausible`.

    Accepts ISO 8601 and RFC 822 strings, datetimes and UTC `struct_time`s; a naive value is taken as UTC.
    After `now` is the future (never stored); before 1990 is implausible for a news article.
    """
    moment = _to_datetime(value)
    if moment is None:
        return None, "date_unparsed"
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
            return None, "date_dropped_implausible"
    now = now if now is not None else datetime.now(UTC).replace(tzinfo=None)
    if moment > now + FUTURE_SLACK:
        return None, "date_dropped_future"
    if moment < EARLIEST_DATE:
        return None, "date_dropped_implausible"
    return moment, None


def _to_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, time.struct_time):
        try:
            return datetime(*value[:6])
        except (TypeError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():  # epoch seconds or millis, or a bare year: not guessed
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    offset = moment.utcoffset()
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:  # "+9900" is a typo, not a 99-hour zone
        return None
    return moment


def _text(value: Any) -> str | None:
    """A metadata string with its whitespace collapsed, or None when it is not a non-empty string."""
    return (" ".join(value.split()) or None) if isinstance(value, str) else None


def _body(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _first_text(obj: dict, keys: tuple[str, ...]) -> str | None:
    return next((t for t in (_text(obj.get(k)) for k in keys) if t), None)


def _first_body(obj: dict, keys: tuple[str, ...]) -> str | None:
    return next((b for b in (_body(obj.get(k)) for k in keys) if b), None)


def _encodable(record: Fields) -> bool:
    """False when a text field holds an unpaired surrogate (JSON allows "\\ud800"; UTF-8 and DuckDB do not)."""
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
