"""Sources: expand the paths a run is given into input documents, and read each one's bytes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import Reject, SetupError
from pipeline.models import Article
from pipeline.stage import Stage

MEDIA_TYPES = {".txt": "text/plain", ".text": "text/plain", ".html": "text/html", ".htm": "text/html"}


def expand_sources(sources: list[str]) -> tuple[list[Path], list[Path]]:
    """Files to read, in a stable order, and files skipped inside directories for their type.

    A directory is walked recursively (hidden entries skipped); a file named explicitly is always read, so an
    unsupported type is quarantined rather than skipped. A path that does not exist is bad setup.
    """
    files: list[Path] = []
    ignored: list[Path] = []
    for source in sources:
        if "://" in source:
            raise SetupError(
                f"{source}: fetching URLs is not supported by this version; save the page and pass the file"
            )
        path = Path(source).expanduser()
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(names):
                    if name.startswith("."):
                        continue
                    file = Path(root, name)
                    (files if file.suffix.lower() in MEDIA_TYPES else ignored).append(file)
        elif path.exists():
            files.append(path)
        else:
            raise SetupError(f"source {source!r} does not exist; pass existing files or directories")
    unique = list(dict.fromkeys(f.resolve() for f in files))
    return unique, ignored


def documents(files: list[Path]) -> Iterator[Article]:
    """One `Article` stub per file: the reader stage fills in its bytes."""
    for file in files:
        yield Article(source_uri=str(file))


class ReadStage(Stage):
    """Read a file's bytes, refusing what is too large or of a type we cannot extract."""

    name = "read"

    def __init__(self, ledger, max_bytes: int):
        super().__init__(ledger)
        self.max_bytes = max_bytes

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
