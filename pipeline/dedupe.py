"""Dedupe: unchanged re-reads, exact copies (folded-body hash), the same URL, and near copies (MinHash LSH).

Near copies are found with MinHash signatures over word shingles, banded for LSH. Band keys of landed
articles are rows of `article_lsh` in DuckDB, so a run compares its articles with the whole history through
index lookups (one per article) without loading the history. A candidate becomes a duplicate when its
estimated Jaccard similarity, or the containment of the shorter text in the longer, passes the threshold.
The first article to land keeps its id; later copies are recorded in `article_duplicates`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from pipeline.clean import fold
from pipeline.models import Article, Duplicate, Skipped
from pipeline.settings import Settings
from pipeline.stage import Stage
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


class SiteTemplates:
    """Paragraphs a site repeats across its articles (an "About us" box, a list of sections): its template.

    Boilerplate the rules did not remove would otherwise weigh in near-duplicate similarity: two different
    articles of one site look alike, and a copy on another site looks less like its original. A paragraph is
    template once `TEMPLATE_MIN_ARTICLES` other articles of the same host carried it, counting this run and
    everything landed before (`host_paragraphs` in DuckDB); signatures are computed without such paragraphs.
    The stored body keeps them: this only decides what is compared.
    """

    def __init__(self, history: Store | None):
        self.history = history
        self.counts: dict[str, dict[int, int]] = {}  # host -> paragraph key -> articles this run

    def own_text(self, article: Article) -> str:
        host = _host(article)
        paragraphs = [p for p in article.body.split("\n\n") if p.strip()]
        keys = [_paragraph_key(p) for p in paragraphs]
        seen = self.counts.setdefault(host, {})
        stored = self.history.paragraph_counts(host, keys) if self.history is not None and host else {}
        own = [
            p
            for p, k in zip(paragraphs, keys, strict=True)
            if seen.get(k, 0) + stored.get(k, 0) < TEMPLATE_MIN_ARTICLES
        ]
        for key in set(keys):
            seen[key] = seen.get(key, 0) + 1
        text = "\n\n".join(own)
        return text if len(text.split()) >= MIN_OWN_WORDS else article.body

    def rows(self) -> list[tuple[str, int, int]]:
        """(host, paragraph key, articles) this run saw, for the load step to add up."""
        return [(host, key, n) for host, counts in self.counts.items() for key, n in counts.items()]


TEMPLATE_MIN_ARTICLES = 2  # a paragraph two other articles of the site carried is the site's, not the story's
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
        self.history = history
        self.hasher = MinHasher(settings.shingle_size, settings.minhash_perms, settings.lsh_bands)
        # This run's articles: enough to dedupe within the run without holding bodies.
        self.run_ids: set[str] = set()
        self.run_hashes: dict[str, str] = {}
        self.run_buckets: dict[int, list[str]] = {}
        self.run_signatures: dict[str, Signature] = {}
        self.templates = SiteTemplates(history)

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

        sig = self.hasher.signature(self.templates.own_text(article))
        keys = self.hasher.band_keys(sig)
        match = self._near_match(aid, sig, keys)
        if match is not None:
            return self._duplicate(article, *match)

        self.run_ids.add(aid)
        self.run_hashes[chash] = aid
        self.run_signatures[aid] = sig
        for key in keys:
            self.run_buckets.setdefault(key, []).append(aid)
        article.shingle_count = sig.shingles
        article.lsh_bands = keys
        article.minhash = sig.to_bytes()
        return article

    def _near_match(self, aid: str, sig: Signature, keys: list[int]) -> tuple[str, str, float] | None:
        candidates: dict[str, Signature] = {}
        for key in keys:
            for other in self.run_buckets.get(key, ()):
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
