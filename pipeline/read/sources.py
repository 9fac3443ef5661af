"""Sources: expand the paths a run is given into input documents, and read each one's bytes.

A document file (`.txt`, `.html`) is one article. A container file (JSON, JSONL, RSS/Atom feed: parsed by
`pipeline/read/formats.py`) is expanded lazily into one article per record or entry, with the metadata the record
gives (url, title, author, date, source) already filled in; its `source_uri` is `<path>#<n>`, n the line number
(JSONL) or the 1-based item position. Bad records and bad files are quarantined; the stream goes on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import Reject, SetupError
from pipeline.models import Article, Quarantined, Skipped
from pipeline.read.formats import container_format, iter_records
from pipeline.read.records import Fields, Problem, RecordOrError
from pipeline.read.sources_file import is_url
from pipeline.settings import Settings
from pipeline.stage import Item, Ledger, Stage

if TYPE_CHECKING:
    from pipeline.read.web import WebReader

log = logging.getLogger(__name__)

MEDIA_TYPES = {".txt": "text/plain", ".text": "text/plain", ".html": "text/html", ".htm": "text/html"}


def readable(path: Path) -> bool:
    """A file of a type we read: a single document, or a container of records."""
    return path.suffix.lower() in MEDIA_TYPES or container_format(path) is not None


def expand_sources(sources: list[str]) -> tuple[list[str], list[Path]]:
    """Inputs to read (file paths and URLs), in a stable order, and files skipped inside directories for their type.

    A directory is walked recursively (hidden entries skipped); a file named explicitly is always read, so an
    unsupported type is quarantined rather than skipped. A URL is kept as it is (the read stage fetches it). A
    path that does not exist is bad setup.
    """
    inputs: list[str] = []
    ignored: list[Path] = []
    for source in sources:
        if is_url(source):
            inputs.append(source)
            continue
        path = Path(source).expanduser()
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.startswith("."):
                        continue
                    file = Path(root, name)
                    if readable(file):
                        inputs.append(str(file.resolve()))
                    else:
                        ignored.append(file)
        elif path.exists():
            inputs.append(str(path.resolve()))
        else:
            raise SetupError(f"source {source!r} does not exist; pass existing files, folders or URLs")
    return list(dict.fromkeys(inputs)), ignored


def documents(inputs: list[str]) -> Iterator[Article]:
    """One `Article` stub per input: the reader stage fills in its bytes, or expands it into records."""
    for location in inputs:
        yield Article(source_uri=str(location))


def record_article(source_uri: str, fields: Fields) -> Article:
    """The article a record starts as: its body as UTF-8 bytes, and the metadata it gives."""
    return Article(
        source_uri=source_uri,
        raw=(fields.body or "").encode("utf-8"),
        media_type=fields.media_type,
        url=fields.url,
        source=fields.source,
        title=fields.title,
        title_source="source" if fields.title else None,
        author=fields.author,
        published_at=fields.published_at,
    )


class RecordCheck(Stage):
    """The read hook for one record of a container file: its body came with it, so only check that body."""

    name = "read"

    def __init__(self, ledger: Ledger, max_bytes: int):
        super().__init__(ledger)
        self.max_bytes = max_bytes

    def process(self, article: Article) -> Article:
        if not article.raw:
            raise Reject("no_content", "the record has no HTML or text body")
        if len(article.raw) > self.max_bytes:
            raise Reject(
                "too_large", f"a {len(article.raw)}-byte body, over the {self.max_bytes}-byte input cap"
            )
        return article


class ReadStage(Stage):
    """Read a file's bytes, refusing what is too large or of a type we cannot extract.

    Container files are expanded here, lazily, into one item per record: besides `total`, `forwarded` and
    `dropped_<reason>` (per item), the stage counts `files` (inputs named by the run), `records` (items that
    stand for a record or entry of a container file) and dates a record gave but we did not keep
    (`date_unparsed`, `date_dropped_future`, `date_dropped_implausible`).
    """

    name = "read"

    def __init__(
        self, ledger: Ledger, max_bytes: int, max_file_bytes: int | None = None, web: WebReader | None = None
    ):
        super().__init__(ledger)
        self.max_bytes = max_bytes
        self.max_file_bytes = Settings().max_file_bytes if max_file_bytes is None else max_file_bytes
        self.records = RecordCheck(ledger, max_bytes)
        self.web = web

    def run(self, items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            if not isinstance(item, Article):
                yield item
                continue
            if is_url(item.source_uri):
                self.ledger.add(self.name, "urls")
                yield from self.fetch(item)
                continue
            self.ledger.add(self.name, "files")
            if container_format(Path(item.source_uri)) is None:
                yield self.apply(item)
            else:
                yield from self.expand(item)

    def fetch(self, stub: Article) -> Iterator[Item]:
        """The items a URL gives (a page, or a feed's entries), counted like a file's; a bug quarantines the URL."""
        if self.web is None:
            yield self.quarantine(stub, "no_fetcher", "this run was not set up to fetch URLs")
            return
        try:
            for item in self.web.read(stub.source_uri):
                self.ledger.add(self.name, "total")
                if isinstance(item, Skipped):  # an entry whose article landed in an earlier run
                    self.ledger.add(self.name, "dropped_already_landed")
                else:
                    self.count(item)
                yield item
        except Exception as exc:
            log.exception("%s failed on %s", self.name, stub.source_uri)
            yield self.quarantine(stub, f"error_{type(exc).__name__}", str(exc)[:500])

    def expand(self, stub: Article) -> Iterator[Item]:
        """One item per record of a container file, in file order; a bug here quarantines the file."""
        path = Path(stub.source_uri)
        try:
            for entry in iter_records(path, self.max_file_bytes):
                yield self.emit(path, entry)
        except Exception as exc:
            log.exception("%s failed on %s", self.name, path)
            yield self.quarantine(stub, f"error_{type(exc).__name__}", str(exc)[:500])

    def emit(self, path: Path, entry: RecordOrError) -> Item:
        if entry.index is None:  # a problem with the whole file
            return self.quarantine(Article(source_uri=str(path)), entry.reason, entry.detail)
        self.ledger.add(self.name, "records")
        source_uri = f"{path}#{entry.index}"
        if isinstance(entry, Problem):
            return self.quarantine(Article(source_uri=source_uri), entry.reason, entry.detail)
        if entry.fields.date_problem:
            self.ledger.add(self.name, entry.fields.date_problem)
        return self.records.apply(record_article(source_uri, entry.fields))

    def quarantine(self, article: Article, reason: str, detail: str) -> Quarantined:
        """Quarantine an item that never reached a hook, counted like one that did."""
        self.ledger.add(self.name, "total")
        return self.reject(article, (reason,), detail)

    def process(self, article: Article) -> Article:
        path = Path(article.source_uri)
        media_type = MEDIA_TYPES.get(path.suffix.lower())
        if media_type is None:
            raise Reject("unsupported_type", f"no reader for {path.suffix or 'files without extension'}")
        try:
            size = path.stat().st_size
            if size > self.max_bytes:
                raise Reject("too_large", f"{size} bytes, over the {self.max_bytes}-byte input cap")
            article.raw = path.read_bytes()[: self.max_bytes + 1]
        except OSError as exc:
            raise Reject("unreadable", f"{type(exc).__name__}: {exc.strerror or exc}") from exc
        if len(article.raw) > self.max_bytes:  # grew between stat and read
            raise Reject("too_large", f"over the {self.max_bytes}-byte input cap")
        article.media_type = media_type
        return article
