"""Dedupe: unchanged re-reads, exact copies (folded-body hash), the same URL, and near copies (MinHash LSH).

Near copies are found with MinHash signatures over word shingles, banded for LSH. Band keys of landed
articles are rows of `article_lsh` in DuckDB, so a run compares its articles with the whole history through
index lookups (one per article) without loading the history. A candidate becomes a duplicate when its
estimated Jaccard similarity, or the containment of the shorter text in the longer, passes the threshold.
The first article to land keeps its id; later copies are recorded in `article_duplicates`.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlsplit

import numpy as np

from pipeline.clean import fold
from pipeline.models import Article, Duplicate, Skipped
from pipeline.settings import Settings
from pipeline.stage import Item, Stage
from pipeline.store import Store

MIN_CONTAINED_SHARE = 0.3  # measured on the dedupe eval set (make eval): below it, containment is noise


@dataclass(frozen=True)
class Signature:
    shingles: int
    minhash: np.ndarray  # uint32, one value per permutation

    def to_bytes(self) -> bytes:
        return self.minhash.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, shingles: int, blob: bytes) -> Signature:
        return cls(shingles, np.frombuffer(blob, dtype="<u4"))


@cache
def _hasher(shingle_size: int, perms: int, bands: int) -> MinHasher:
    return MinHasher(shingle_size, perms, bands)


def precompute_signature(article: Article, setup: tuple[int, int, int]) -> None:
    """The whole body's MinHash signature and band keys, kept on the article for dedupe to reuse.

    Run in the extraction workers, where it is parallel: dedupe compares the body without its site's template
    paragraphs, which only the run knows, but for most articles that is the whole body.
    """
    hasher = _hasher(*setup)
    sig = hasher.signature(article.body)
    article.body_signature = (setup, sig, hasher.band_keys(sig))


class MinHasher:
    """Word-shingle MinHash signatures and their LSH band keys."""

    def __init__(self, shingle_size: int, perms: int, bands: int):
        from datasketch import MinHash  # imported here: keeps DAG parsing and CLI --help light

        self._minhash = MinHash
        self.shingle_size, self.perms, self.bands = shingle_size, perms, bands
        self.rows = perms // bands
        self._seed_hash = MinHash(num_perm=perms, seed=1)  # permutations are computed once and reused

    def shingles(self, text: str) -> set[bytes]:
        words = fold(text).split()
        n = self.shingle_size
        if len(words) <= n:
            return {" ".join(words).encode()} if words else set()
        return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}

    def signature(self, text: str) -> Signature:
        shingles = self.shingles(text)
        m = self._minhash(
            num_perm=self.perms, seed=1, permutations=self._seed_hash.permutations, scheme="affine32"
        )
        m.update_batch(list(shingles))
        return Signature(len(shingles), m.hashvalues.astype(np.uint32))

    @property
    def setup(self) -> tuple[int, int, int]:
        return self.shingle_size, self.perms, self.bands

    def of(self, article: Article, text: str) -> tuple[Signature, list[int]]:
        """Signature and band keys of `text`, a form of the article's body: the body's are computed once,
        in the extraction worker (`precompute_signature`), and reused here when `text` is the whole body."""
        cached = article.body_signature
        if cached is not None and cached[0] == self.setup and text == article.body:
            return cached[1], cached[2]
        sig = self.signature(text)
        return sig, self.band_keys(sig)

    def band_keys(self, sig: Signature) -> list[int]:
        """One signed 64-bit key per band: the band's index and values, hashed."""
        keys = []
        values = sig.minhash.astype("<u4")
        for band in range(self.bands):
            chunk = values[band * self.rows : (band + 1) * self.rows].tobytes()
            digest = hashlib.blake2b(band.to_bytes(2, "little") + chunk, digest_size=8).digest()
            keys.append(int.from_bytes(digest, "little", signed=True))
        return keys


def similarity(a: Signature, b: Signature) -> tuple[float, float]:
    """Estimated (Jaccard, containment of the smaller shingle set in the larger).

    Containment is estimated as J·(|A|+|B|)/((1+J)·|A|), which multiplies the MinHash error by about
    |B|/|A|: for a text under `MIN_CONTAINED_SHARE` of the other's size it is noise (shared site boilerplate
    alone could pass), so it is reported as 0 and only Jaccard counts.
    """
    jaccard = float(np.mean(a.minhash == b.minhash))
    small, large = sorted((a.shingles, b.shingles))
    if small == 0 or small < MIN_CONTAINED_SHARE * large:
        return jaccard, 0.0
    # |A∩B| = J·|A∪B| and |A∪B| = (|A|+|B|)/(1+J)
    containment = jaccard * (small + large) / ((1 + jaccard) * small)
    return jaccard, min(containment, 1.0)


class _Lookup:
    """A bulk query memoised per key: `prefetch` asks for many keys at once, `get` for one (a miss queries)."""

    def __init__(self, fetch: Callable[[list], dict]):
        self.fetch = fetch
        self.values: dict = {}
        self.asked: set = set()

    def prefetch(self, keys: Iterable) -> None:
        missing = [k for k in dict.fromkeys(keys) if k not in self.asked]
        if missing:
            self.values.update(self.fetch(missing))
            self.asked.update(missing)

    def get(self, key):
        self.prefetch((key,))
        return self.values.get(key)


class HistoryCache:
    """The landed history's answers to dedupe's questions, fetched a chunk of articles at a time.

    History does not change during a run (the load comes after), so a bulk answer is the one a query per
    article would give. `clear` drops the answers between chunks: memory stays bounded by the chunk.
    """

    def __init__(self, store: Store):
        self.store = store
        self.queries = 0
        self.clear()

    def clear(self) -> None:
        self.landed = _Lookup(self._counted(self.store.landed_hashes))
        self.first_by_hash = _Lookup(self._counted(self.store.ids_for_hashes))
        self.known = _Lookup(self._counted(self._known_by_uri))
        self.paragraphs = _Lookup(self._counted(self.store.paragraph_counts))
        self.bands = _Lookup(self._counted(self.store.band_members))
        self.signatures = _Lookup(self._counted(self.store.signatures))

    def _counted(self, fetch):
        def counted(keys):
            self.queries += 1
            return fetch(keys)

        return counted

    def _known_by_uri(self, uris: list[str]) -> dict[str, dict[str, str]]:
        by_uri: dict[str, dict[str, str]] = {}
        for (uri, chash), original in self.store.known_duplicates(uris).items():
            by_uri.setdefault(uri, {})[chash] = original
        return by_uri

    def landed_hash(self, article_id: str) -> str | None:
        return self.landed.get(article_id)

    def id_for_hash(self, content_hash: str) -> str | None:
        return self.first_by_hash.get(content_hash)

    def known_duplicate(self, source_uri: str, content_hash: str) -> str | None:
        return (self.known.get(source_uri) or {}).get(content_hash)

    def paragraph_counts(self, host: str, keys: list[int]) -> dict[int, int]:
        pairs = [(host, k) for k in keys]
        self.paragraphs.prefetch(pairs)
        return {k: n for (h, k) in pairs if (n := self.paragraphs.values.get((h, k))) is not None}

    def near_candidates(self, band_keys: list[int]) -> list[tuple[str, int, bytes]]:
        """Landed articles sharing at least one LSH band: (article_id, shingles, minhash)."""
        self.bands.prefetch(band_keys)
        ids = list(dict.fromkeys(aid for key in band_keys for aid in self.bands.values.get(key, ())))
        self.signatures.prefetch(ids)
        return [(aid, *self.signatures.values[aid]) for aid in ids if aid in self.signatures.values]


class RunSignatures:
    """The signatures of the articles this run landed, in uint32 blocks of `BLOCK` rows (a row each: 4 bytes a
    permutation, 512 bytes an article with 128) rather than an object per article. Blocks, not one matrix
    that doubles: growing never copies, and at most one block stands empty."""

    BLOCK = 4096

    def __init__(self, perms: int) -> None:
        self.perms = perms
        self.rows: dict[str, int] = {}
        self.minhash: list[np.ndarray] = []
        self.shingles: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, article_id: str, sig: Signature) -> None:
        block, row = divmod(len(self.rows), self.BLOCK)
        if block == len(self.minhash):
            self.minhash.append(np.empty((self.BLOCK, self.perms), dtype=np.uint32))
            self.shingles.append(np.empty(self.BLOCK, dtype=np.int64))
        self.minhash[block][row], self.shingles[block][row] = sig.minhash, sig.shingles
        self.rows[article_id] = len(self.rows)

    def __getitem__(self, article_id: str) -> Signature:
        block, row = divmod(self.rows[article_id], self.BLOCK)
        return Signature(int(self.shingles[block][row]), self.minhash[block][row])


class RunIndex:
    """This run's LSH buckets (band key -> articles landed in the run), kept compact.

    A dict of lists costs about 150 bytes an entry, and a run holds `lsh_bands` entries per landed article
    (6.4 million for 100k articles with 64 bands). Here the entries live in two sorted numpy arrays (12 bytes
    an entry), with the newest in a small dict until `FLUSH_AT` of them are merged in. Members come out in the
    order they were added, key by key, as a dict of lists would give them.
    """

    FLUSH_AT = 65_536
    FILTER_BITS = 1 << 26  # a bit per key hash: 8 MB, about 10% of the bits set at 6.4 million entries

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.int64)
        self.owners = np.empty(0, dtype=np.int32)  # index into `ids`
        # Bit (key mod FILTER_BITS) is set for every key in the arrays: a key whose bit is clear is in no
        # bucket, without a binary search through the arrays (most keys are in none; the arrays outgrow the
        # CPU caches, so each search costs a few cache misses).
        self.filter = np.zeros(self.FILTER_BITS // 8, dtype=np.uint8)
        self.ids: list[str] = []
        self.pending: dict[int, list[int]] = {}
        self.pending_entries = 0

    def __len__(self) -> int:
        return len(self.keys) + self.pending_entries

    def add(self, article_id: str, keys: list[int]) -> None:
        owner = len(self.ids)
        self.ids.append(article_id)
        for key in keys:
            self.pending.setdefault(key, []).append(owner)
        self.pending_entries += len(keys)
        if self.pending_entries >= self.FLUSH_AT:
            self.flush()

    def members(self, keys: list[int]) -> list[str]:
        """Articles sharing at least one of `keys`, each once, in the order a dict of lists would give."""
        found: dict[int, None] = {}
        ranges: dict[int, tuple[int, int]] = {}
        if len(self.keys):
            # Keys passing the filter get one binary search each, and a second only for the keys found.
            query = np.asarray(keys, dtype=np.int64)
            bits = query & (self.FILTER_BITS - 1)
            maybe = np.flatnonzero((self.filter[bits >> 3] >> (bits & 7).astype(np.uint8)) & 1)
            lo = np.searchsorted(self.keys, query[maybe], side="left")
            found_at = self.keys[np.minimum(lo, len(self.keys) - 1)] == query[maybe]
            hit, lo = maybe[found_at], lo[found_at]
            if len(hit):
                hi = np.searchsorted(self.keys, query[hit], side="right")
                ranges = dict(zip(hit.tolist(), zip(lo.tolist(), hi.tolist(), strict=True), strict=True))
        for i, key in enumerate(keys):
            if i in ranges:
                a, b = ranges[i]
                found.update(dict.fromkeys(self.owners[a:b].tolist()))
            if key in self.pending:
                found.update(dict.fromkeys(self.pending[key]))
        return [self.ids[o] for o in found]

    def flush(self) -> None:
        """Merge the pending entries into the sorted arrays (after those of equal key: insertion order kept)."""
        if not self.pending:
            return
        new_keys = np.fromiter((k for k, os in self.pending.items() for _ in os), dtype=np.int64)
        new_owners = np.fromiter((o for os in self.pending.values() for o in os), dtype=np.int32)
        order = np.argsort(new_keys, kind="stable")
        new_keys, new_owners = new_keys[order], new_owners[order]
        at = np.searchsorted(self.keys, new_keys, side="right")
        self.keys = np.insert(self.keys, at, new_keys)
        self.owners = np.insert(self.owners, at, new_owners)
        bits = new_keys & (self.FILTER_BITS - 1)
        np.bitwise_or.at(self.filter, bits >> 3, np.left_shift(1, bits & 7).astype(np.uint8))
        self.pending.clear()
        self.pending_entries = 0


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


class DedupeStage(Stage):
    """Stop inputs that are already landed (unchanged) or copies of an article landed now or before."""

    name = "dedupe"

    def __init__(self, ledger, settings: Settings, history: Store | None):
        super().__init__(ledger)
        self.settings = settings
        self.history = HistoryCache(history) if history is not None else None
        self.hasher = MinHasher(settings.shingle_size, settings.minhash_perms, settings.lsh_bands)
        # This run's articles: enough to dedupe within the run without holding bodies.
        self.run_ids: set[str] = set()
        self.run_hashes: dict[str, str] = {}
        self.run_index = RunIndex()
        self.run_signatures = RunSignatures(settings.minhash_perms)
        self.templates = SiteTemplates(self.history)
        self._lookahead: dict[
            int, tuple[str, Signature, list[int]]
        ] = {}  # id(article) -> own text, sig, keys

    def run(self, items: Iterable[Item]) -> Iterator[Item]:
        """Chunk by chunk: the history's answers for a whole chunk first, then each article in order."""
        if self.history is None:
            yield from super().run(items)
            return
        it = iter(items)
        while chunk := list(itertools.islice(it, self.settings.dedupe_chunk)):
            self.history.clear()
            self._prefetch([item for item in chunk if isinstance(item, Article)])
            yield from super().run(chunk)
        self._lookahead.clear()

    def _prefetch(self, articles: list[Article]) -> None:
        """Ask the history everything the chunk will ask, in one query per kind of question.

        Band keys depend on the signature, which depends on the site's template paragraphs seen so far; they
        are computed here looking ahead (counting the chunk's articles in order, as `process` will) and
        reused by `process` when its text is the same. Any question not foreseen is still answered, by
        its own query.
        """
        h = self.history
        h.landed.prefetch(a.article_id for a in articles)
        h.known.prefetch(a.source_uri for a in articles)
        h.first_by_hash.prefetch(a.content_hash for a in articles)
        settled = {
            id(a)
            for a in articles
            if h.landed.values.get(a.article_id) == a.content_hash
            or a.content_hash in (h.known.values.get(a.source_uri) or {})
            or h.first_by_hash.values.get(a.content_hash) not in (None, a.article_id)
        }
        need = [a for a in articles if id(a) not in settled]
        pairs = []
        for article in need:
            host, _, keys = SiteTemplates.paragraphs(article)
            if host:
                pairs.extend((host, k) for k in keys)
        h.paragraphs.prefetch(pairs)
        overlay: dict[tuple[str, int], int] = {}
        self._lookahead.clear()
        all_keys: list[int] = []
        for article in need:
            text = self.templates.own_text(article, overlay)
            sig, keys = self.hasher.of(article, text)
            self._lookahead[id(article)] = (text, sig, keys)
            all_keys.extend(keys)
        h.near_candidates(all_keys)

    def _signature(self, article: Article) -> tuple[Signature, list[int]]:
        text = self.templates.own_text(article)
        ahead = self._lookahead.pop(id(article), None)
        if ahead is not None and ahead[0] == text:
            return ahead[1], ahead[2]
        return self.hasher.of(article, text)

    def process(self, article: Article) -> Article | Duplicate | Skipped:
        aid, chash = article.article_id, article.content_hash
        if self.history is not None:
            if self.history.landed_hash(aid) == chash:
                return Skipped(article.source_uri, aid)
            if (known := self.history.known_duplicate(article.source_uri, chash)) is not None:
                return Skipped(article.source_uri, known)
        if aid in self.run_ids:
            return self._duplicate(article, aid, "url", 1.0)
        original = self.run_hashes.get(chash) or (self.history.id_for_hash(chash) if self.history else None)
        if original is not None and original != aid:
            return self._duplicate(article, original, "exact", 1.0)

        sig, keys = self._signature(article)
        match = self._near_match(aid, sig, keys)
        if match is not None:
            return self._duplicate(article, *match)

        self.templates.count(article)
        self.run_ids.add(aid)
        self.run_hashes[chash] = aid
        self.run_signatures.add(aid, sig)
        self.run_index.add(aid, keys)
        article.shingle_count = sig.shingles
        article.lsh_bands = keys
        article.minhash = sig.to_bytes()
        return article

    def _near_match(self, aid: str, sig: Signature, keys: list[int]) -> tuple[str, str, float] | None:
        candidates: dict[str, Signature] = {}
        for other in self.run_index.members(keys):
            candidates[other] = self.run_signatures[other]
        if self.history is not None:
            for other, shingles, blob in self.history.near_candidates(keys):
                candidates.setdefault(other, Signature.from_bytes(shingles, blob))
        candidates.pop(aid, None)  # a revised version of the same article is an update, not a copy
        best = None
        for other, other_sig in candidates.items():
            jaccard, containment = similarity(sig, other_sig)
            if jaccard >= self.settings.near_dup_jaccard:
                score = jaccard
            elif containment >= self.settings.near_dup_containment:
                score = containment
            else:
                continue
            if best is None or score > best[2]:
                best = (other, "near", round(score, 4))
        return best

    def _duplicate(self, article: Article, original: str, method: str, score: float) -> Duplicate:
        return Duplicate(
            source_uri=article.source_uri,
            url=article.url,
            duplicate_of=original,
            method=method,
            similarity=score,
            title=article.title,
            content_hash=article.content_hash,
        )
