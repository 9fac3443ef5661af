"""A site's template: paragraphs a host repeats across its articles, left out of near-duplicate comparison."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from pipeline.dedupe.history import HistoryCache
from pipeline.models import Article
from pipeline.text import fold


class SiteTemplates:
    """Paragraphs a site repeats across its articles (an "About us" box, a list of sections): its template.

    Boilerplate the rules did not remove would otherwise weigh in near-duplicate similarity: two different
    articles of one site look alike, and a copy on another site looks less like its original. A paragraph is
    template once `TEMPLATE_MIN_ARTICLES` other landed articles of the same host carried it, counting this run and
    everything landed before (`host_paragraphs` in DuckDB); signatures are computed without such paragraphs.
    The stored body keeps them: this only decides what is compared.
    """

    def __init__(self, history: HistoryCache | None):
        self.history = history
        self.counts: dict[str, dict[int, int]] = {}  # host -> paragraph key -> articles this run

    @staticmethod
    def paragraphs(article: Article) -> tuple[str, list[str], list[int]]:
        """The article's host, its paragraphs and their keys (folded and hashed once per article)."""
        if article.paragraph_keys is None:
            paragraphs = [p for p in article.body.split("\n\n") if p.strip()]
            article.paragraph_keys = paragraphs, [_paragraph_key(p) for p in paragraphs]
        return _host(article), *article.paragraph_keys

    def own_text(self, article: Article, overlay: dict[tuple[str, int], int] | None = None) -> str:
        """The body without its site's template paragraphs.

        With `overlay` (a look-ahead over a chunk), the article's paragraphs are counted there as if it
        landed, and the run's counts are left as they were.
        """
        host, paragraphs, keys = self.paragraphs(article)
        seen = self.counts.get(host, {})
        extra = overlay if overlay is not None else {}
        stored = self.history.paragraph_counts(host, keys) if self.history is not None and host else {}
        own = [
            p
            for p, k in zip(paragraphs, keys, strict=True)
            if seen.get(k, 0) + extra.get((host, k), 0) + stored.get(k, 0) < TEMPLATE_MIN_ARTICLES
        ]
        if overlay is not None:
            for key in set(keys):
                overlay[host, key] = overlay.get((host, key), 0) + 1
        text = "\n\n".join(own)
        return text if len(text.split()) >= MIN_OWN_WORDS else article.body

    def count(self, article: Article) -> None:
        """Count a landed article's paragraphs. Only landed ones count: three copies of one story on a site
        must not make the story's paragraphs look like the site's template."""
        host, _, keys = self.paragraphs(article)
        seen = self.counts.setdefault(host, {})
        for key in set(keys):
            seen[key] = seen.get(key, 0) + 1


TEMPLATE_MIN_ARTICLES = (
    2  # a paragraph two other landed articles of the site carried is the site's, not the story's
)
MIN_OWN_WORDS = 30  # if less than this is left, compare the whole body


def _host(article: Article) -> str:
    return (urlsplit(article.url).hostname if article.url else None) or article.source or ""


def _paragraph_key(paragraph: str) -> int:
    digest = hashlib.blake2b(fold(paragraph).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)
