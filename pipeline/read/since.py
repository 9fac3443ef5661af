"""`since`: leave out articles published before a day (the trigger form's and the CLI's `since`)."""

from __future__ import annotations

from datetime import datetime

from pipeline.models import Article, Skipped
from pipeline.stage import Ledger, Stage


class SinceStage(Stage):
    """Articles published before `since` are skipped, counted `since.before_since`; undated ones are kept."""

    name = "since"

    def __init__(self, ledger: Ledger, since: datetime):
        super().__init__(ledger)
        self.since = since

    def process(self, article: Article) -> Article | Skipped:
        if article.published_at is not None and article.published_at < self.since:
            self.ledger.add(self.name, "before_since")
            return Skipped(article.source_uri, article.article_id)
        return article
