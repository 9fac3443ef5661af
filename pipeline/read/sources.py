"""Sources: expand the paths a run is given into input documents, and read each one's bytes.

A document file (`.txt`, `.html`) is one article. A container file (JSON, JSONL, RSS/Atom feed: parsed by
`pipeline/read/formats.py`) is expanded lazily into one article per record or entry, with the metadata the record
gives (url, title, author, date, source) already filled in; its `source_uri` is `<path>#<n>`, n the line number
(JSONL) or the 1-based item position. Bad records and bad files are quarantined; the stream goes on.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote_to_bytes

from pipeline.errors import Reject, SetupError
from pipeline.models import Article, Quarantined, Skipped
from pipeline.read.formats import container_format, iter_records, record_cap
from pipeline.read.records import Fields, Passed, Problem, RecordOrError
from pipeline.read.sources_file import is_url
from pipeline.settings import Settings
from pipeline.stage import Item, Ledger, Stage

if TYPE_CHECKING:
    from pipeline.read.web import WebReader

log = logging.getLogger(__name__)

MEDIA_TYPES = {".txt": "text/plain", ".text": "text/plain", ".html": "text/html", ".htm": "text/html"}


IGNORE_FILE = ".pipelineignore"  # in a source folder: names (glob patterns) of files that are not inputs
_SPECIAL = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def readable(path: Path) -> bool:
    """A file of a type we read: a single document, or a container of records."""
    return path.suffix.lower() in MEDIA_TYPES or container_format(path) is not None


def source_uri_of(path: str | Path) -> str:
    """How a local input is named in the tables: its absolute path, as the user named it (a symlink keeps its
    own name). A path that is not valid UTF-8 (a file name in another encoding) becomes a `file://` URI with its
    bytes percent-encoded, which `local_path` turns back into the same path."""
    text = os.path.abspath(os.fspath(path))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # surrogate escapes: bytes the file system gave that are not UTF-8
        return "file://" + quote(os.fsencode(text), safe="/")
    return text


def local_path(source_uri: str) -> Path:
    """The file a local input's `source_uri` names (see `source_uri_of`)."""
    if source_uri.startswith("file://"):
        return Path(os.fsdecode(unquote_to_bytes(source_uri.removeprefix("file://"))))
    return Path(source_uri)


def expand_sources(sources: list[str]) -> tuple[list[str], list[Path]]:
    """Inputs to read (file paths and URLs), in a stable order, and files skipped inside directories for their type.

    A directory is walked recursively (hidden entries, and the names its `.pipelineignore` lists, skipped); a
    file named explicitly is always read, so an unsupported type is quarantined rather than skipped. A folder
    that cannot be listed is an input too: the read stage quarantines it with the reason (it never vanishes).
    A URL is kept as it is (the read stage fetches it). A path that does not exist is bad setup; a symlink that
    leads nowhere (broken, or a loop) exists as a name and is quarantined when read.
    """
    inputs: list[str] = []
    ignored: list[Path] = []
    for source in sources:
        if is_url(source):
            inputs.append(source)
            continue
        path = Path(source).expanduser()
        if path.is_dir():

            def unlisted(error: OSError) -> None:
                inputs.append(source_uri_of(error.filename))  # the read stage says why it cannot be listed

            for root, dirs, names in os.walk(path, onerror=unlisted):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                skip = _ignore_patterns(Path(root))
                for name in sorted(names):
                    if name.startswith(".") or any(fnmatch.fnmatchcase(name, pattern) for pattern in skip):
                        continue
                    file = Path(root, name)
                    if readable(file):
                        inputs.append(source_uri_of(file))
                    else:
                        ignored.append(file)
        elif os.path.lexists(path):
            inputs.append(source_uri_of(path))
        else:
            raise SetupError(f"source {source!r} does not exist; pass existing files, folders or URLs")
    return list(dict.fromkeys(inputs)), ignored


def _ignore_patterns(folder: Path) -> list[str]:
    try:
        lines = (folder / IGNORE_FILE).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def documents(inputs: list[str]) -> Iterator[Article]:
    """One `Article` stub per input: the reader stage fills in its bytes, or expands it into records."""
    for location in inputs:
        yield Article(source_uri=str(location))


def record_article(source_uri: str, fields: Fields) -> Article:
    """The article a record starts as: its body as UTF-8 bytes, and the metadata it gives."""
    return Article(
        source_uri=source_uri,
        raw=fields.raw if fields.raw is not None else (fields.body or "").encode("utf-8"),
        media_type=fields.media_type,
        url=fields.url,
        source=fields.source,
        title=fields.title,
        title_source="source" if fields.title else None,
        author=fields.author,
        published_at=fields.published_at,
        language=fields.language,
        fetched_at=fields.fetched_at,
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
        self,
        ledger: Ledger,
        max_bytes: int,
        max_file_bytes: int | None = None,
        web: WebReader | None = None,
        refused: dict[str, tuple[str, str]] | None = None,
    ):
        super().__init__(ledger)
        self.refused = dict(refused or {})  # input -> (reason, detail): quarantined without being read
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
            refused = self.refuse(item)
            if refused is not None:
                yield refused
            elif container_format(local_path(item.source_uri)) is None:
                yield self.apply(item)
            else:
                yield from self.expand(item)

    def refuse(self, stub: Article) -> Quarantined | None:
        """Quarantine what is not a file to read, before anything opens it: a FIFO would block the run forever,
        a device never ends; a folder here is one that could not be listed; a name that leads nowhere (a
        broken symlink, a loop) is unreadable; and what the run was told not to read (`refused`)."""
        if stub.source_uri in self.refused:
            return self.quarantine(stub, *self.refused[stub.source_uri])
        path = local_path(stub.source_uri)
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            return self.quarantine(stub, "unreadable", f"{type(exc).__name__}: {exc.strerror or exc}")
        if stat.S_ISDIR(mode):
            try:
                os.listdir(path)
                detail = "a folder that could not be listed when the run started"
            except OSError as exc:
                detail = f"cannot list the folder: {exc.strerror or exc}"
            return self.quarantine(stub, "unreadable", detail + "; its files were not read")
        for test, kind in _SPECIAL:
            if test(mode):
                return self.quarantine(stub, "unsupported_type", f"{kind}, not a regular file: not read")
        return None

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
        path = local_path(stub.source_uri)
        try:
            for entry in iter_records(path, self.max_file_bytes, record_cap(self.max_bytes)):
                if isinstance(entry, Passed):  # a WARC revisit, request, non-HTML response: counted only
                    self.ledger.add(self.name, entry.counter)
                    continue
                yield self.emit(stub.source_uri, entry)
        except Exception as exc:
            log.exception("%s failed on %s", self.name, path)
            yield self.quarantine(stub, f"error_{type(exc).__name__}", str(exc)[:500])

    def emit(self, file_uri: str, entry: RecordOrError) -> Item:
        if entry.index is None:  # a problem with the whole file
            return self.quarantine(Article(source_uri=file_uri), entry.reason, entry.detail)
        self.ledger.add(self.name, "records")
        source_uri = f"{file_uri}#{entry.index}"
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
        path = local_path(article.source_uri)
        media_type = MEDIA_TYPES.get(path.suffix.lower())
        if media_type is None:
            raise Reject("unsupported_type", f"no reader for {path.suffix or 'files without extension'}")
        try:
            article.raw = read_capped(path, self.max_bytes)
        except OSError as exc:
            raise Reject("unreadable", f"{type(exc).__name__}: {exc.strerror or exc}") from exc
        article.media_type = media_type
        return article


def read_capped(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, at most `max_bytes` (`too_large` past it). Opened without blocking and checked
    after opening, so a file swapped for a FIFO or a device since it was listed is refused, never waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Reject("unsupported_type", "not a regular file: not read")
        if info.st_size > max_bytes:
            raise Reject("too_large", f"{info.st_size} bytes, over the {max_bytes}-byte input cap")
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= max_bytes and (chunk := os.read(fd, min(1 << 20, max_bytes + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > max_bytes:  # grew between stat and read
        raise Reject("too_large", f"over the {max_bytes}-byte input cap")
    return b"".join(chunks)
