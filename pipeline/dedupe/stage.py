"""Dedupe: unchanged re-reads, exact copies (folded-body hash), the same URL, and near copies (MinHash LSH).

Near copies are found with MinHash signatures over word shingles, banded for LSH (`pipeline.dedupe.minhash`).
Band keys of landed articles are rows of `article_lsh` in DuckDB, so a run compares its articles with the whole
history through bulk lookups (`pipeline.dedupe.history`) without loading the history; within the run, through
compact in-memory buckets (`pipeline.dedupe.index`). A candidate becomes a duplicate when its estimated Jaccard
similarity, or the containment of the shorter text in the longer, passes the threshold. Paragraphs a site
repeats across its articles are left out of the comparison (`pipeline.dedupe.templates`). The first article to
land keeps its id; later copies are recorded in `article_duplicates`.
"""

from __future__ import annotations

from pipeline.dedupe.compact import HexKeys
from pipeline.dedupe.history import HistoryCache
from pipeline.dedupe.index import RunIndex, RunSignatures
from pipeline.dedupe.minhash import MinHasher, Signature, similarity
from pipeline.dedupe.templates import SiteTemplates
from pipeline.document.enrich import content_hash, count_words
from pipeline.document.rules import SITE_TEMPLATE_RULE
from pipeline.errors import Reject
from pipeline.models import Article, Duplicate, Skipped
from pipeline.settings import Settings
from pipeline.stage import Result, Stage
from pipeline.store.history import History


class DedupeStage(Stage):
    """Stop inputs that are already landed (unchanged) or copies of an article landed now or before."""

    name = "dedupe"

    def __init__(self, ledger, settings: Settings, history: History | None):
        super().__init__(ledger)
        self.settings = settings
        self.batch_size = settings.dedupe_chunk
        self.history = HistoryCache(history) if history is not None else None
        self.hasher = MinHasher(settings.shingle_size, settings.minhash_perms, settings.lsh_bands)
        # This run's landed articles: enough to dedupe within the run without holding bodies, a few bytes
        # each in memory (`pipeline.dedupe.compact`). Each structure numbers them in the order they landed.
        self.run_signatures = RunSignatures(settings.minhash_perms)  # article id -> signature
        self.run_hashes = HexKeys(64)  # content hash -> number of the article that landed with it
        self.run_index = RunIndex()  # band key -> articles; `run_index.ids`: number -> article id
        self.templates = SiteTemplates(self.history)
        self._lookahead: dict[
            int, tuple[str, Signature, list[int]]
        ] = {}  # id(article) -> own text, sig, keys

    def process_batch(self, articles: list[Article]) -> list[Result | Reject]:
        """The history's answers for the whole batch first, then each article in order."""
        if self.history is None:
            return super().process_batch(articles)
        self.history.clear()
        self._prefetch(articles)
        results = super().process_batch(articles)
        self._lookahead.clear()
        return results

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
        for article in articles:  # `process` trims every article's template before it asks anything else
            host, _, keys = SiteTemplates.paragraphs(article)
            if host:
                pairs.extend((host, k) for k in keys)
        h.paragraphs.prefetch(pairs)
        overlay: dict[tuple[str, int], int] = {}
        self._lookahead.clear()
        all_keys: list[int] = []
        trimmed_hashes = []
        for article in need:
            if (trimmed := self.templates.trimmed(article, overlay)) is not None:
                trimmed_hashes.append(content_hash(trimmed[0]))  # what `process` will ask about, most likely
            text = self.templates.own_text(article, overlay)
            sig, keys = self.hasher.of(article, text)
            self._lookahead[id(article)] = (text, sig, keys)
            all_keys.extend(keys)
        h.first_by_hash.prefetch(trimmed_hashes)
        h.near_candidates(all_keys)

    def _signature(self, article: Article) -> tuple[Signature, list[int]]:
        text = self.templates.own_text(article)
        ahead = self._lookahead.pop(id(article), None)
        if ahead is not None and ahead[0] == text:
            return ahead[1], ahead[2]
        return self.hasher.of(article, text)

    def process(self, article: Article) -> Article | Duplicate | Skipped:
        trimmed = self._trim_template(article)
        aid, chash = article.article_id, article.content_hash
        if self.history is not None:
            if self.history.landed_hash(aid) == chash:  # other bytes, the same text: noted for next time
                return Skipped(article.source_uri, aid, article.input_sha256)
            if (known := self.history.known_duplicate(article.source_uri, chash)) is not None:
                return Skipped(article.source_uri, known)
        if aid in self.run_signatures:  # landed in this run
            return self._duplicate(article, aid, "url", 1.0)
        landed = self.run_hashes.get(chash)
        original = (self.run_index.ids[landed] if landed is not None else None) or (
            self.history.id_for_hash(chash) if self.history else None
        )
        if original is not None and original != aid:
            return self._duplicate(article, original, "exact", 1.0)

        sig, keys = self._signature(article)
        match = self._near_match(aid, sig, keys)
        if match is not None:
            return self._duplicate(article, *match)

        self.templates.count(article)
        self.run_hashes[chash] = len(self.run_signatures)
        self.run_signatures.add(aid, sig)
        self.run_index.add(aid, keys)
        article.shingle_count = sig.shingles
        article.lsh_bands = keys
        article.minhash = sig.to_bytes()
        if trimmed:  # counted for articles that land, as the clean stage's removals are
            self.ledger.add("clean", f"removed_{SITE_TEMPLATE_RULE}", trimmed)
        return article

    def _trim_template(self, article: Article) -> int:
        """Cleaning's last rule, which needs the site's other articles: the template's furniture leaves the body
        (`SiteTemplates.trimmed`), and the body's hash and word count follow; how many paragraphs went.
        Comparison is unchanged: it already leaves every template paragraph out."""
        trimmed = self.templates.trimmed(article)
        if trimmed is None:
            return 0
        body, removed = trimmed
        article.body = body
        article.content_hash = content_hash(body)
        article.word_count = count_words(body)
        article.body_signature = None  # the worker's signature is of the body before: never reuse it
        article.removed_rules = {**article.removed_rules, SITE_TEMPLATE_RULE: removed}
        return removed

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
            input_sha256=article.input_sha256,
        )
