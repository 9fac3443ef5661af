"""Inputs read again unchanged: skipped before extraction, at the cost of a hash and a lookup.

Each landed row records the sha256 of the input it was extracted from (`articles.input_sha256`: its bytes and
what its source said of it, `input_digest`), and so does each input recorded as a duplicate
(`article_duplicates.input_sha256`). An input that hashes to that of the row it landed as (or was recorded as),
under the same source_uri, is the same document: it leaves the run as skipped (unchanged), without extraction,
cleaning or validation. A changed rule does not make it change: `python -m pipeline reprocess` runs the stages again
over the stored raw documents for that.
"""

from __future__ import annotations

from pipeline.models import Article, Skipped, input_digest
from pipeline.stage import Ledger, Stage
from pipeline.store.history import History

LOOKUP_BATCH = 16  # inputs per lookup: one query answers them all, and a batch holds few inputs' bytes


class UnchangedStage(Stage):
    """Hash each input (kept as `input_sha256`); skip those landed, or recorded as duplicates, from the same
    input before."""

    name = "unchanged"
    batch_size = LOOKUP_BATCH

    def __init__(self, ledger: Ledger, history: History | None):
        super().__init__(ledger)
        self.history = history

    def process_batch(self, articles: list[Article]) -> list[Article | Skipped]:
        for article in articles:
            if article.raw:
                article.input_sha256 = input_digest(article)
        hashed = [a.source_uri for a in articles if a.input_sha256]
        landed = self.history.landed_from(hashed) if self.history is not None and hashed else {}
        out: list[Article | Skipped] = []
        for article in articles:
            article_id = landed.get((article.source_uri, article.input_sha256))
            out.append(article if article_id is None else Skipped(article.source_uri, article_id))
        return out
