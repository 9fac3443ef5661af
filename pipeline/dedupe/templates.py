"""A site's template: paragraphs a host repeats across its articles, left out of near-duplicate comparison."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from urllib.parse import urlsplit

import numpy as np

from pipeline.dedupe.history import HistoryCache
from pipeline.models import Article
from pipeline.text import fold, looks_like_text


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
        self.seen = ParagraphCounts()  # host, paragraph key -> articles this run

    @property
    def counts(self) -> dict[str, Mapping[int, int]]:
        """Host -> paragraph key -> articles this run, for the load step (`write_paragraphs`)."""
        return self.seen.by_host()

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
        template = self.template_keys(article, overlay)
        own = [p for p, k in zip(paragraphs, keys, strict=True) if k not in template]
        if overlay is not None:
            for key in set(keys):
                overlay[host, key] = overlay.get((host, key), 0) + 1
        text = "\n\n".join(own)
        return text if len(text.split()) >= MIN_OWN_WORDS else article.body

    def template_keys(self, article: Article, overlay: dict[tuple[str, int], int] | None = None) -> set[int]:
        """Keys of the article's paragraphs that are its site's template: carried by `TEMPLATE_MIN_ARTICLES`
        other landed articles of the host (this run, `overlay`'s look-ahead, and the history)."""
        host, _, keys = self.paragraphs(article)
        seen = self.seen.get(host, keys)
        extra = overlay if overlay is not None else {}
        stored = self.history.paragraph_counts(host, keys) if self.history is not None and host else {}
        return {
            k
            for k in keys
            if seen.get(k, 0) + extra.get((host, k), 0) + stored.get(k, 0) >= TEMPLATE_MIN_ARTICLES
        }

    def trimmed(
        self, article: Article, overlay: dict[tuple[str, int], int] | None = None
    ) -> tuple[str, int] | None:
        """The body without the site's template where it is furniture, and how many paragraphs went; None when
        nothing is removed (rule `pipeline.document.rules.SITE_TEMPLATE_RULE`).

        Removed: template paragraphs that are not prose (a label, a "read more" line, the site's name and
        slogan), wherever they are, and the run of template paragraphs that ends the body (the site's footer
        boxes: "originally published by", "support our journalism"). Template prose elsewhere stays: an agency
        repeats a background paragraph across its reports, and a developing story's versions share their lead;
        that is the story's text. Nothing is removed when less than `MIN_OWN_WORDS` words would be left.
        """
        host, paragraphs, keys = self.paragraphs(article)
        template = self.template_keys(article, overlay) if host else set()  # without a site, no site template
        if not template:
            return None
        flags = [k in template for k in keys]
        footer = len(flags) - next((n for n, f in enumerate(reversed(flags)) if not f), len(flags))
        kept = [
            p
            for n, (p, f) in enumerate(zip(paragraphs, flags, strict=True))
            if n < footer and not (f and not looks_like_text(p))
        ]
        if len(kept) == len(paragraphs):
            return None
        text = "\n\n".join(kept)
        return (text, len(paragraphs) - len(kept)) if len(text.split()) >= MIN_OWN_WORDS else None

    def count(self, article: Article) -> None:
        """Count a landed article's paragraphs. Only landed ones count: three copies of one story on a site
        must not make the story's paragraphs look like the site's template."""
        host, _, keys = self.paragraphs(article)
        self.seen.add(host, set(keys))


class ParagraphCounts:
    """How many of this run's landed articles of a host carried a paragraph, compact.

    A dict per host of paragraph key -> count costs about 100 bytes a paragraph, and most paragraphs are an
    article's own, seen once. Here a (paragraph key, host) pair is 16 bytes in numpy columns sorted by key,
    then host (hosts numbered in the order they were first counted); a count of a pair already there is
    added in place, and new pairs wait in a small dict until `FLUSH_AT` of them are merged in.
    """

    FLUSH_AT = 32_768  # about 3 MB of pending pairs

    def __init__(self) -> None:
        self.hosts: dict[str, int] = {}  # host -> its number
        self.keys = np.empty(0, dtype=np.int64)
        self.host_numbers = np.empty(0, dtype=np.int32)
        self.counts = np.empty(0, dtype=np.int32)
        # Pairs not in the columns yet -> count, a pair as one int: host number << 64 | key (unsigned).
        self.pending: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.keys) + len(self.pending)

    def _rows(self, host: int, keys: list[int]) -> list[int | None]:
        """The row of each (host, key) pair in the columns, or None."""
        if not len(self.keys) or not keys:
            return [None] * len(keys)
        query = np.asarray(keys, dtype=np.int64)
        lo = np.searchsorted(self.keys, query, side="left").tolist()
        hi = np.searchsorted(self.keys, query, side="right").tolist()
        rows: list[int | None] = []
        for a, b in zip(lo, hi, strict=True):
            at = a + int(self.host_numbers[a:b].searchsorted(host)) if b > a else a
            rows.append(at if at < b and self.host_numbers[at] == host else None)
        return rows

    def get(self, host: str, keys: list[int]) -> dict[int, int]:
        """The counts of `keys` for `host` (keys never counted are left out)."""
        number = self.hosts.get(host)
        if number is None:
            return {}
        out = {}
        for key, row in zip(keys, self._rows(number, keys), strict=True):
            n = int(self.counts[row]) if row is not None else self.pending.get(_pair(number, key), 0)
            if n:
                out[key] = n
        return out

    def add(self, host: str, keys: set[int]) -> None:
        """Count one article of `host` carrying each of `keys`."""
        number = self.hosts.setdefault(host, len(self.hosts))
        keys = list(keys)
        for key, row in zip(keys, self._rows(number, keys), strict=True):
            if row is not None:
                self.counts[row] += 1
            else:
                pair = _pair(number, key)
                self.pending[pair] = self.pending.get(pair, 0) + 1
        if len(self.pending) >= self.FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Merge the pending pairs into the columns, keeping them sorted by key, then host."""
        if not self.pending:
            return
        hosts = np.fromiter((p >> 64 for p in self.pending), dtype=np.int32, count=len(self.pending))
        keys = np.fromiter((p & _KEY for p in self.pending), dtype=np.uint64, count=len(self.pending))
        keys = keys.view(np.int64)
        counts = np.fromiter(self.pending.values(), dtype=np.int32, count=len(self.pending))
        order = np.lexsort((hosts, keys))
        hosts, keys, counts = hosts[order], keys[order], counts[order]
        at = np.searchsorted(self.keys, keys, side="left")
        hi = np.searchsorted(self.keys, keys, side="right")
        for i in np.flatnonzero(hi > at).tolist():  # a key other hosts carry: after their lower numbers
            at[i] += int(self.host_numbers[at[i] : hi[i]].searchsorted(hosts[i]))
        self.keys = np.insert(self.keys, at, keys)
        self.host_numbers = np.insert(self.host_numbers, at, hosts)
        self.counts = np.insert(self.counts, at, counts)
        self.pending.clear()

    def by_host(self) -> dict[str, Mapping[int, int]]:
        """Every host's counts, as a mapping of paragraph key -> count (in key order)."""
        self.flush()
        order = np.argsort(self.host_numbers, kind="stable")  # hosts apart, each still in key order
        bounds = np.searchsorted(self.host_numbers[order], np.arange(len(self.hosts) + 1)).tolist()
        return {
            host: _HostCounts(
                self.keys[order[bounds[n] : bounds[n + 1]]], self.counts[order[bounds[n] : bounds[n + 1]]]
            )
            for host, n in self.hosts.items()
        }


_KEY = (1 << 64) - 1


def _pair(host: int, key: int) -> int:
    return host << 64 | key & _KEY


class _HostCounts(Mapping):
    """One host's paragraph key -> count, over two sorted arrays."""

    def __init__(self, keys: np.ndarray, counts: np.ndarray):
        self.keys, self.counts = keys, counts

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self):
        return iter(self.keys.tolist())

    def __getitem__(self, key: int) -> int:
        at = int(self.keys.searchsorted(key))
        if at == len(self.keys) or self.keys[at] != key:
            raise KeyError(key)
        return int(self.counts[at])

    def values(self):
        return self.counts.tolist()

    def items(self):
        return zip(self.keys.tolist(), self.counts.tolist(), strict=True)


TEMPLATE_MIN_ARTICLES = (
    2  # a paragraph two other landed articles of the site carried is the site's, not the story's
)
MIN_OWN_WORDS = 30  # if less than this is left, compare the whole body


def _host(article: Article) -> str:
    return (urlsplit(article.url).hostname if article.url else None) or article.source or ""


def _paragraph_key(paragraph: str) -> int:
    digest = hashlib.blake2b(fold(paragraph).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)
