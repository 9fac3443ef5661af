"""What a record or feed entry says of its article (`Fields`), and the parsing every container format shares:
dates (naive UTC, plausible or dropped with a reason), author names, HTML or plain bodies."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

EARLIEST_DATE = datetime(1990, 1, 1)


MAX_UTC_OFFSET = timedelta(hours=14)  # the widest real time zones are UTC-12 and UTC+14


FUTURE_SLACK = timedelta(0)  # "never in the future": a date ahead of now is wrong, whatever the reason


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
    language: str | None = None  # what the source declares (a news sitemap's news:language)
    date_problem: str | None = None  # why a date the record gave was not kept: date_unparsed, date_dropped_*
    summary_only: bool = False  # a feed entry carrying only its summary: the article page holds the text
    raw: bytes | None = None  # the body as bytes, when the record gave bytes (a WARC payload), not text
    fetched_at: datetime | None = None  # when the page was fetched, when the record says (a WARC-Date)


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


@dataclass(frozen=True)
class Passed:
    """A record that is not an article and not a problem (a WARC revisit or request): counted as `counter`
    under the read stage, and nothing else."""

    counter: str


RecordOrError = Record | Problem


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
    text = text_of(value)
    if text is None or "@" not in text:
        return text
    return text_of(_EMAIL.sub(" ", text).replace("()", " ").strip(" ()"))


def as_html(value: str) -> tuple[str, str]:
    """A body from an HTML field: text/html, unless it holds no markup at all (a feed's plain description).

    Such a body is text with HTML escapes; trafilatura finds no article in a page without tags, so it goes on
    as text/plain with its escapes (`&amp;`) decoded.
    """
    if _MARKUP.search(value):
        return value, "text/html"
    return html.unescape(value), "text/plain"


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


def text_of(value: Any) -> str | None:
    """A metadata string with its whitespace collapsed, or None when it is not a non-empty string."""
    return (" ".join(value.split()) or None) if isinstance(value, str) else None


def body_of(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
