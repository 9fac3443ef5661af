"""Web sources: feed URLs and article URLs, fetched with `pipeline.read.fetch` and turned into articles.

A URL source is fetched once (a conditional GET when an earlier run left the feed's ETag or Last-Modified), with
the feed cap (`max_feed_bytes`): it may be a feed of thousands of entries. What turns out to be a page is still
held to the page cap (the fetcher's, `max_input_bytes`), as are the article pages of summary-only entries. A feed
(RSS, Atom or JSON Feed) becomes one article per entry: an entry carrying its full content is used as it is; an
entry with only a summary has its article page fetched. An entry whose canonical URL already landed is skipped
before any fetch. A URL that is not a feed but a page is one article. Every failure is a quarantine item with the
fetcher's reason (timeout, too_large, blocked_address, http_404, robots_disallowed, ...) and, for a feed, a
feed-state error; a broken feed never stops the others. The feed states a run leaves are handed to the load step
(`feed_states`), which writes them to the `feeds` table with the run.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from pipeline.clock import utcnow
from pipeline.document.enrich import canonical_url, stable_id
from pipeline.models import Article, Quarantined, Skipped
from pipeline.read.feeds import parse_feed
from pipeline.read.fetch import Fetcher, FetchError, FetchPolicy, Response
from pipeline.read.formats import is_json_feed, json_feed_records
from pipeline.read.records import Fields, Problem
from pipeline.settings import Settings
from pipeline.store.history import History

FEED_TYPES = ("xml", "rss", "atom", "json")  # content-type words that announce a feed (or might)
_Item = Article | Quarantined | Skipped


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        deadline_s=settings.fetch_deadline_s,
        max_bytes=settings.max_input_bytes,
        retries=settings.fetch_retries,
        host_delay_s=settings.host_delay_s,
        max_in_flight=settings.fetch_in_flight,
        allow_private=settings.allow_private_network,
        respect_robots=settings.respect_robots,
    )


@dataclass
class WebReader:
    """Reads URL sources for the read stage; `ledger_add(counter)` counts what happens under `read.*`."""

    fetcher: Fetcher
    history: History | None
    ledger_add: Callable[[str], None]
    names: dict[str, str] = field(default_factory=dict)  # URL -> name from a sources file
    in_flight: int = 4
    feed_states: list[dict] = field(default_factory=list)
    max_feed_bytes: int | None = None  # cap on a source URL's body; None: the fetcher's page cap

    def read(self, url: str) -> Iterator[_Item]:
        """The items one URL source gives, in order: the page, or the feed's entries; or why there are none."""
        state = self.history.feed_state(url) if self.history is not None else None
        try:
            response = self.fetcher.get(url, _conditional_headers(state), max_bytes=self.max_feed_bytes)
        except FetchError as exc:
            self._feed_failed(url, state, exc.reason, exc.status)
            yield _quarantine(url, exc.reason, exc.detail)
            return
        if response.status == 304:
            self.ledger_add("feeds_unchanged")
            self._feed_fetched(url, state, response, entries=None)
            return
        if not _looks_like_feed(response):
            cap = self.fetcher.policy.max_bytes
            if len(response.body) > cap:  # fetched under the feed cap, but a page: what the page cap refuses
                self._feed_failed(url, state, "too_large", response.status)
                yield _quarantine(
                    url, "too_large", f"a {len(response.body)} byte page, over the {cap} byte cap"
                )
                return
            self.ledger_add("pages")
            yield Article(source_uri=url, raw=response.body, media_type="text/html", url=response.url)
            return
        records = _feed_records(response)
        problem = next((r for r in records if isinstance(r, Problem) and r.index is None), None)
        if problem is not None and problem.reason == "no_entries":  # nothing in the feed today: not a failure
            self._feed_fetched(url, state, response, entries=0)
            self.ledger_add("feeds_empty")
            return
        if problem is not None:
            self._feed_failed(url, state, problem.reason, response.status)
            yield _quarantine(url, problem.reason, problem.detail)
            return
        self.ledger_add("feeds")
        self._feed_fetched(url, state, response, entries=len(records))
        yield from self._entries(url, records)

    def _entries(self, feed_url: str, records: list) -> Iterator[_Item]:
        """The feed's entries in order; the article pages of summary-only entries are fetched in parallel."""
        window: deque[_Item | Future] = deque()
        with ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="fetch") as pool:
            for record in records:
                window.append(self._entry(feed_url, record, pool))
                while len(window) > 2 * self.in_flight or (window and not isinstance(window[0], Future)):
                    head = window.popleft()
                    yield head.result() if isinstance(head, Future) else head
            while window:
                head = window.popleft()
                yield head.result() if isinstance(head, Future) else head

    def _entry(self, feed_url: str, record, pool: ThreadPoolExecutor) -> _Item | Future:
        if isinstance(record, Problem):
            return _quarantine(f"{feed_url}#{record.index}", record.reason, record.detail)
        fields: Fields = record.fields
        self.ledger_add("entries")
        if fields.date_problem:
            self.ledger_add(fields.date_problem)
        link = canonical_url(fields.url)
        if link and self.history is not None:
            article_id = stable_id("url", link)
            if self.history.article_exists(article_id):
                self.ledger_add("entries_already_landed")
                return Skipped(source_uri=fields.url, article_id=article_id)
        article = _entry_article(feed_url, record.index, fields, self.names.get(feed_url))
        if fields.summary_only and link:
            self.ledger_add("pages")
            return pool.submit(self._page, article)
        if not article.raw:
            return _quarantine(article.source_uri, "no_content", "the entry has no content and no link")
        return article

    def _page(self, article: Article) -> _Item:
        """Fetch an entry's article page; its HTML replaces the summary, the entry's metadata stays."""
        try:
            response = self.fetcher.get(article.url)
        except FetchError as exc:
            return _quarantine(article.source_uri, exc.reason, exc.detail, article)
        article.raw, article.media_type = response.body, "text/html"
        return article

    def _feed_fetched(self, url: str, state: dict | None, response: Response, entries: int | None) -> None:
        now = utcnow().isoformat()
        previous = state or {}
        unchanged = response.status == 304
        self.feed_states.append(
            {
                "feed_url": url,
                "name": self.names.get(url) or previous.get("name"),
                "etag": response.headers.get("etag") or (previous.get("etag") if unchanged else None),
                "last_modified": response.headers.get("last-modified")
                or (previous.get("last_modified") if unchanged else None),
                "last_fetch_at": now,
                "last_status": response.status,
                "last_error": None,
                "consecutive_failures": 0,
                "last_success_at": now,
                "entries_last_fetch": previous.get("entries_last_fetch") if entries is None else entries,
            }
        )

    def _feed_failed(self, url: str, state: dict | None, reason: str, status: int | None) -> None:
        previous = state or {}
        self.ledger_add("feeds_failed")
        self.feed_states.append(
            {
                **{
                    k: previous.get(k)
                    for k in ("etag", "last_modified", "last_success_at", "entries_last_fetch")
                },
                "feed_url": url,
                "name": self.names.get(url) or previous.get("name"),
                "last_fetch_at": utcnow().isoformat(),
                "last_status": status,
                "last_error": reason,
                "consecutive_failures": (previous.get("consecutive_failures") or 0) + 1,
            }
        )


def _conditional_headers(state: dict | None) -> dict[str, str]:
    headers = {}
    if state and state.get("etag"):
        headers["If-None-Match"] = state["etag"]
    if state and state.get("last_modified"):
        headers["If-Modified-Since"] = state["last_modified"]
    return headers


def _feed_records(response: Response) -> list:
    """The entries of a fetched feed, or one whole-feed `Problem` (`not_a_feed`, `malformed_feed`, ...)."""
    if not _is_json(response):
        return list(parse_feed(response.body))
    try:
        doc = json.loads(response.body)
    except (ValueError, RecursionError) as exc:
        return [Problem("malformed_feed", f"invalid JSON: {exc}")]
    if not is_json_feed(doc):
        return [Problem("not_a_feed", "JSON, but not a JSON Feed (no version https://jsonfeed.org/...)")]
    return list(json_feed_records(doc))


def _is_json(response: Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    return "json" in content_type or response.body.lstrip()[:1] in (b"{", b"[")


def _looks_like_feed(response: Response) -> bool:
    """A feed by its content type, or by its first bytes when the server calls it text or octets."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    head = response.body.lstrip()[:512].lower()
    if any(word in content_type for word in FEED_TYPES):
        return True
    if content_type in ("", "text/plain", "application/octet-stream"):
        return head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf", b"{", b"["))
    return content_type == "text/html" and head.startswith((b"<?xml", b"<rss", b"<feed", b"<rdf:rdf"))


def _entry_article(feed_url: str, index: int, fields: Fields, name: str | None) -> Article:
    return Article(
        source_uri=fields.url or f"{feed_url}#{index}",
        raw=(fields.body or "").encode("utf-8"),
        media_type=fields.media_type,
        url=fields.url,
        source=name or fields.source,
        title=fields.title,
        title_source="source" if fields.title else None,
        author=fields.author,
        published_at=fields.published_at,
    )


def _quarantine(source_uri: str, reason: str, detail: str, article: Article | None = None) -> Quarantined:
    return Quarantined(
        source_uri=source_uri,
        stage="read",
        reasons=(reason,),
        detail=detail,
        payload=article.payload() if article is not None else {},
    )
