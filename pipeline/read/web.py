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

Sitemaps (`pipeline.read.sitemaps`) are told from feeds and pages by their root element, gzip or not. A source
that is a site's homepage (a URL without a path) or its `/robots.txt` is read through the sitemaps its
robots.txt lists (`Sitemap:` lines), or `/sitemap.xml` when it lists none. A sitemap index is walked depth
first, each child sitemap once per run (`sitemap_loop` for one listed again), at most `max_sitemap_depth`
indexes deep (`sitemap_too_deep`) and `max_sitemaps` sitemaps per source (`too_many_sitemaps`); a child whose
`<lastmod>` is not newer than its last successful visit is not fetched. Each sitemap's state (ETag,
Last-Modified, last visit) is kept in `feeds` like a feed's. A `<url>` is fetched when its page has not landed,
or when its `<lastmod>` is newer than the sitemap's last visit; one whose news or lastmod date is before the
run's `since`, and one listed twice in a run, is not. Those not fetched are counted (`sitemap_urls_*`), not
yielded: a sitemap of 50,000 landed URLs costs 50,000 lookups, not 50,000 items against the run's item cap. The
news extension's title, publication date, language and publication name are the article's metadata.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from pipeline.clock import utcnow
from pipeline.document.enrich import canonical_url, stable_id
from pipeline.models import Article, Quarantined, Skipped
from pipeline.read.feeds import parse_feed
from pipeline.read.fetch import Fetcher, FetchError, FetchPolicy, Response
from pipeline.read.formats import is_json_feed, json_feed_records
from pipeline.read.records import Fields, Problem, Record, parse_date
from pipeline.read.sitemaps import SitemapEntry, is_sitemap, parse_sitemap
from pipeline.settings import Settings
from pipeline.store.history import History

FEED_TYPES = ("xml", "rss", "atom", "json")  # content-type words that announce a feed (or might)
_Item = Article | Quarantined | Skipped


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        deadline_s=settings.fetch_deadline_s,
        total_s=max(settings.fetch_total_s, settings.fetch_deadline_s),
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
    max_sitemap_urls: int = 50_000  # entries read from one sitemap (the protocol's limit)
    max_sitemap_depth: int = 3  # sitemap indexes nested below the source's
    max_sitemaps: int = 1_000  # sitemaps fetched for one source
    since: datetime | None = None  # sitemap URLs dated before this are not fetched
    _visited: set[str] = field(default_factory=set)  # sitemaps read in this run
    _listed: set[str] = field(default_factory=set)  # canonical URLs a sitemap listed in this run
    _fetched_for_source: int = 0

    def read(self, url: str) -> Iterator[_Item]:
        """The items one URL source gives, in order: the page, the feed's entries, the pages its sitemaps
        list; or why there are none."""
        self._fetched_for_source = 0
        if _is_site(url):
            yield from self._site(url)
            return
        yield from self._read(url, depth=0)

    def _site(self, url: str) -> Iterator[_Item]:
        """A homepage or robots.txt source: the sitemaps robots.txt lists, else the site's /sitemap.xml."""
        try:
            listed = self.fetcher.sitemaps_listed(url)
        except FetchError as exc:
            yield _quarantine(url, exc.reason, exc.detail)
            return
        self.ledger_add("sites")
        if not listed:  # the conventional place, when robots.txt names none
            fallback = urljoin(url, "/sitemap.xml")
            for item in self._read(fallback, depth=0, sitemap_only=True, site=url):
                if (
                    isinstance(item, Quarantined)
                    and item.source_uri == fallback
                    and item.reasons[0] == "http_404"
                ):
                    item = _quarantine(
                        url, "no_sitemap", f"robots.txt lists no Sitemap: and {fallback} answers 404"
                    )
                yield item
            return
        for sitemap in listed:
            if sitemap not in self._visited:
                yield from self._read(sitemap, depth=0, sitemap_only=True, site=url)

    def _read(
        self,
        url: str,
        depth: int,
        listed_lastmod: datetime | None = None,
        sitemap_only: bool = False,
        site: str | None = None,
    ) -> Iterator[_Item]:
        state = self.history.feed_state(url) if self.history is not None else None
        last_visit = _visited_at(state)
        if listed_lastmod is not None and last_visit is not None and listed_lastmod <= last_visit:
            self.ledger_add("sitemaps_unchanged")  # the index says it has not changed since we read it
            return
        if depth:
            self._fetched_for_source += 1
        try:
            response = self.fetcher.get(url, _conditional_headers(state), max_bytes=self.max_feed_bytes)
        except FetchError as exc:
            self._feed_failed(url, state, exc.reason, exc.status)
            yield _quarantine(url, exc.reason, exc.detail)
            return
        if response.status == 304:
            self.ledger_add("sitemaps_unchanged" if depth or sitemap_only else "feeds_unchanged")
            self._feed_fetched(url, state, response, entries=None)
            return
        if is_sitemap(response.body):
            yield from self._sitemap(url, state, response, depth)
            return
        if sitemap_only:
            self._feed_failed(url, state, "not_a_sitemap", response.status)
            yield _quarantine(
                url, "no_sitemap", f"{site} lists no sitemap that could be read: {url} is not one"
            )
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

    def _sitemap(self, url: str, state: dict | None, response: Response, depth: int) -> Iterator[_Item]:
        """A fetched sitemap: an index's sitemaps in turn, or a urlset's pages (see the module docstring)."""
        cap = self.max_feed_bytes or self.fetcher.policy.max_bytes
        parsed = parse_sitemap(response.body, self.max_sitemap_urls, cap)
        if isinstance(parsed, Problem):
            self._feed_failed(url, state, parsed.reason, response.status)
            yield _quarantine(url, parsed.reason, parsed.detail)
            return
        self._visited.add(url)
        self.ledger_add("sitemaps")
        self._feed_fetched(url, state, response, entries=len(parsed.entries))
        if parsed.invalid:
            self.ledger_add("sitemap_entries_invalid", parsed.invalid)
        if parsed.overflow:
            yield _quarantine(
                url,
                "too_many_urls",
                f"more than {self.max_sitemap_urls} entries (PIPELINE_MAX_SITEMAP_URLS): the first "
                f"{self.max_sitemap_urls} are read, the rest are not",
            )
        if parsed.broken:
            yield _quarantine(
                url,
                "malformed_sitemap",
                f"the XML breaks after {len(parsed.entries)} entries, which are read: {parsed.broken}",
            )
        if parsed.kind == "sitemapindex":
            yield from self._index(url, parsed.entries, depth)
            return
        records = self._pages(url, parsed.entries, _visited_at(state))
        yield from self._entries(url, records, make=self._sitemap_page)

    def _index(self, url: str, children: list[SitemapEntry], depth: int) -> Iterator[_Item]:
        if depth >= self.max_sitemap_depth:
            yield _quarantine(
                url,
                "sitemap_too_deep",
                f"a sitemap index {depth} indexes deep (the cap is {self.max_sitemap_depth}): "
                f"its {len(children)} sitemaps are not read",
            )
            return
        for child in children:
            if child.loc in self._visited:
                yield _quarantine(
                    child.loc, "sitemap_loop", f"listed again by {url}: a sitemap is read once a run"
                )
                continue
            if self._fetched_for_source >= self.max_sitemaps:
                yield _quarantine(
                    url,
                    "too_many_sitemaps",
                    f"this source's sitemaps pass {self.max_sitemaps} (PIPELINE_MAX_SITEMAPS): "
                    f"{child.loc} and those after it are not read",
                )
                return
            self._visited.add(child.loc)
            yield from self._read(child.loc, depth + 1, listed_lastmod=child.lastmod)

    def _pages(
        self, sitemap_url: str, entries: list[SitemapEntry], last_visit: datetime | None
    ) -> Iterator[Record]:
        """The urlset's entries worth a fetch, as records; the others counted (see the module docstring)."""
        for index, entry in enumerate(entries, 1):
            link = canonical_url(entry.loc)
            if link is None or link in self._listed:
                self.ledger_add("sitemap_urls_repeated")
                continue
            self._listed.add(link)
            dated = entry.published_at or entry.lastmod
            if self.since is not None and dated is not None and dated < self.since:
                self.ledger_add("sitemap_urls_before_since")
                continue
            if self.history is not None and self.history.article_exists(stable_id("url", link)):
                changed = entry.lastmod is not None and last_visit is not None and entry.lastmod > last_visit
                if not changed:
                    self.ledger_add("sitemap_urls_already_landed")
                    continue
                self.ledger_add("sitemap_urls_changed")
            yield Record(
                index,
                Fields(
                    url=entry.loc,
                    title=entry.title,
                    published_at=entry.published_at,
                    source=entry.publication,
                    language=entry.language,
                    summary_only=True,
                ),
            )

    def _sitemap_page(self, sitemap_url: str, record: Record, pool: ThreadPoolExecutor) -> Future:
        self.ledger_add("sitemap_urls")
        article = _entry_article(sitemap_url, record.index, record.fields, self.names.get(sitemap_url))
        self.ledger_add("pages")
        return pool.submit(self._page, article)

    def _entries(self, feed_url: str, records: Iterable, make: Callable | None = None) -> Iterator[_Item]:
        """The feed's entries in order; the article pages of summary-only entries are fetched in parallel."""
        make = make or self._entry
        window: deque[_Item | Future] = deque()
        with ThreadPoolExecutor(max_workers=self.in_flight, thread_name_prefix="fetch") as pool:
            for record in records:
                window.append(make(feed_url, record, pool))
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


def _is_site(url: str) -> bool:
    """A site's homepage (no path, no query) or its robots.txt: read through the sitemaps robots.txt lists."""
    parts = urlsplit(url)
    return not parts.query and (parts.path in ("", "/") or parts.path == "/robots.txt")


def _visited_at(state: dict | None) -> datetime | None:
    """When a feed or sitemap was last read successfully (naive UTC), from its stored state."""
    value = (state or {}).get("last_success_at")
    if value is None or isinstance(value, datetime):
        return value
    return parse_date(str(value))[0]


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
        language=fields.language,
    )


def _quarantine(source_uri: str, reason: str, detail: str, article: Article | None = None) -> Quarantined:
    return Quarantined(
        source_uri=source_uri,
        stage="read",
        reasons=(reason,),
        detail=detail,
        payload=article.payload() if article is not None else {},
    )
