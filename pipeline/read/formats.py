"""Container formats: files that hold many articles (JSONL, JSON, RSS/Atom and JSON Feed), read as records.

Pure parsing: no stages, no ledger. `iter_records(path, max_file_bytes)` yields, in file order, a `Record` (what
one record or feed entry says of its article) or a `Problem` (a quarantine reason and detail, for one record or,
when `index` is None, for the whole file). The read stage in `pipeline/read/sources.py` turns them into articles and
quarantine rows.

- JSONL (`.jsonl`, `.ndjson`): one JSON object per line, streamed line by line; a record's index is its line number.
  A line over the record cap (`record_cap`: three times the input cap, and 1 MB) is `too_large`, never read whole.
- JSON (`.json`): a JSON Feed (`version` https://jsonfeed.org/version/...), an array of records, or one record.
- Feeds (`.xml`, `.rss`, `.atom`, and fetched feeds): feedparser, given an in-memory stream of checked UTF-8,
  never a URL, a path or raw bytes (it opens bytes that name a file, and its own fetcher follows file:// and
  network addresses). A DOCTYPE that declares entities is refused (`malformed_feed`): see
  `pipeline.read.feeds.parse_feed`.

Nothing is extracted from bodies here: the extract stage does that, keeping the metadata a record gave. A body
is text/html when it came from an HTML field or HTML feed content and holds markup; an "HTML" body without a
single tag (an RSS description in plain words) is text/plain with its escapes decoded.

Dates are kept only when they parse and are plausible (naive UTC, from 1990 up to now); otherwise the
record says why in `Fields.date_problem`, a ledger counter name (`pipeline.read.records`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from pipeline.read.feeds import parse_feed
from pipeline.read.records import (
    Fields,
    Passed,
    Problem,
    Record,
    RecordOrError,
    as_html,
    author_name,
    body_of,
    parse_date,
    text_of,
)
from pipeline.read.warc import is_warc, warc_records
from pipeline.settings import Settings

CONTAINER_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
}


JSON_FEED_VERSION = "https://jsonfeed.org/version/"


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


def container_format(path: Path) -> str | None:
    """`jsonl`, `json`, `feed` or `warc` for a file holding many records, None for anything else."""
    if is_warc(path):
        return "warc"
    return CONTAINER_FORMATS.get(path.suffix.lower())


def record_cap(max_input_bytes: int) -> int:
    """The longest JSONL line read as a record, for a run whose input cap (a body's) is `max_input_bytes`.

    Three times the body cap: a body within the cap takes at most that once JSON escapes it, in letters of
    any script (`json.dumps` writes non-ASCII as \\uXXXX by default: 6 bytes for a 2-byte Cyrillic or Greek
    letter, 12 for a 4-byte emoji), and a record carrying its body twice (`html` and `text`) takes 2x. One
    more MB is room for the metadata fields. So a longer line is a record that would be quarantined as
    `too_large` anyway (short of a body of escaped control characters), and it need never be held whole.
    """
    return 3 * max_input_bytes + 1_000_000


def iter_records(
    path: Path, max_file_bytes: int, max_record_bytes: int | None = None
) -> Iterator[RecordOrError | Passed]:
    """The records of a container file in file order; bad input is a `Problem`, never an exception.

    A file over `max_file_bytes` is one `too_large` problem; a file with no records is one `no_entries`
    problem, so that it stays visible. JSONL is streamed: memory does not grow with the file, and a line
    over `max_record_bytes` (default: `record_cap` of the default input cap) is a `too_large` record, read
    past in bounded chunks. A WARC file is streamed record by record (`pipeline.read.warc`), with no cap on
    the file (CC-NEWS files are a gigabyte each), only on each record; it also yields `Passed` records.
    """
    if max_record_bytes is None:
        max_record_bytes = record_cap(Settings().max_input_bytes)
    kind = container_format(path)
    if kind is None:
        raise ValueError(f"{path}: not a container file")
    try:
        if kind == "warc":
            yield from _at_least_one(warc_records(path, max_record_bytes))
            return
        size = path.stat().st_size
        if size > max_file_bytes:
            yield Problem("too_large", f"{size} bytes, over the {max_file_bytes}-byte file cap")
            return
        if kind == "jsonl":
            yield from _at_least_one(jsonl_records(path, max_record_bytes))
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


def _at_least_one(items: Iterable[RecordOrError | Passed]) -> Iterator[RecordOrError | Passed]:
    empty = True
    for item in items:
        empty = False
        yield item
    if empty:
        yield Problem("no_entries", "the file parses but holds no records or entries")


SKIP_CHUNK = 1 << 20  # how much of a line over the record cap is read at a time, to find its end


def jsonl_records(path: Path, max_record_bytes: int) -> Iterator[RecordOrError]:
    """One record per non-blank line, read one line at a time; a bad line is a problem and the rest go on.

    A line is read up to `max_record_bytes` (and its newline): a longer one is a `too_large` problem, and
    the rest of it is read past `SKIP_CHUNK` bytes at a time, so no more than the cap is ever held.
    """
    with path.open("rb") as file:
        number = 0
        while line := file.readline(max_record_bytes + 1):
            number += 1
            over = len(line) > max_record_bytes and not line.endswith(b"\n")  # the cap, and more to come
            if number == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
            if over:
                size, blank = len(line), not line.strip()
                while not line.endswith(b"\n") and (line := file.readline(SKIP_CHUNK)):
                    size += len(line)
                    blank = blank and not line.strip()
                if line.endswith(b"\n"):
                    size -= 1  # the newline is not the record's
                if not blank:  # a long line of white space is a blank line, skipped as one
                    yield Problem(
                        "too_large",
                        f"line {number}: a {size}-byte record, over the {max_record_bytes}-byte record cap",
                        number,
                    )
            elif line.strip():
                yield jsonl_record(number, line)


def jsonl_record(number: int, line: bytes) -> RecordOrError:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Problem(
            "bad_encoding", f"line {number}: not valid UTF-8 at byte {exc.start}; re-save as UTF-8", number
        )
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
        yield Problem(
            "bad_encoding", f"not valid {exc.encoding.upper()} at byte {exc.start}; re-save the file as UTF-8"
        )
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
    source = text_of(doc.get("title"))
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


def _first_text(obj: dict, keys: tuple[str, ...]) -> str | None:
    return next((t for t in (text_of(obj.get(k)) for k in keys) if t), None)


def _first_body(obj: dict, keys: tuple[str, ...]) -> str | None:
    return next((b for b in (body_of(obj.get(k)) for k in keys) if b), None)


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
