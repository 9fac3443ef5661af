"""The stage base: it owns the loop, the batching, the counting and the bad-input policy; a stage writes a hook.

Items flowing between stages are `Article`s still in play, or outcomes (`Quarantined`, `Duplicate`, `Skipped`)
that earlier stages decided; outcomes pass through later stages untouched so the sink sees every input once,
in input order.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator

from pipeline.errors import Reject
from pipeline.models import Article, Duplicate, Quarantined, Skipped

log = logging.getLogger(__name__)

Item = Article | Quarantined | Duplicate | Skipped
Result = Article | Duplicate | Skipped  # what a hook may return for an article it does not reject


class Ledger:
    """Counters of one run, named `<stage>.<counter>`: `total`, `forwarded`, `dropped_<reason>`, and extras."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, stage: str, counter: str, n: int = 1) -> None:
        self.counts[f"{stage}.{counter}"] += n

    def get(self, stage: str, counter: str) -> int:
        return self.counts.get(f"{stage}.{counter}", 0)

    def merge(self, by_stage: dict[str, dict[str, int]]) -> None:
        """Add counts in `by_stage` form (another run part's ledger)."""
        for stage, counters in by_stage.items():
            for counter, n in counters.items():
                self.add(stage, counter, n)

    def by_stage(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, n in sorted(self.counts.items()):
            stage, counter = key.split(".", 1)
            out.setdefault(stage, {})[counter] = n
        return out


class Stage:
    """One step. A subclass writes `process` (one article) or, when it needs a whole batch, `process_batch`.

    `process(article)` returns the article to forward it (changed in place or not), or an outcome
    (`Duplicate`, `Skipped`) to stop it here, or raises `Reject(reason)` to quarantine it. Any other exception
    is a bug met on one input: it is quarantined as `error_<ExceptionName>` and logged, and the run goes on.

    A stage that sets `batch_size` sees the articles in batches of that many (`batch_sizes` may grow them):
    `process_batch(articles)` returns one result per article, in order, each an outcome as `process` gives or
    a `Reject`. By default it calls `process` on each under the same error policy, so a stage can also only
    prepare the batch (ask a database once for all of it) and hand on to `super().process_batch`. An exception
    raised out of `process_batch` stops the run: it is not one input's fault.
    """

    name = "stage"
    batch_size: int | None = None  # None: one article at a time

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def process(self, article: Article) -> Result:
        raise NotImplementedError

    def process_batch(self, articles: list[Article]) -> list[Result | Reject]:
        return [self._guarded(article) for article in articles]

    def batch_sizes(self) -> Iterator[int]:
        """The size of each batch in turn; by default `batch_size` for all."""
        while True:
            yield self.batch_size or 1

    def run(self, items: Iterable[Item]) -> Iterator[Item]:
        if self.batch_size is None:
            for item in items:
                yield self.apply(item) if isinstance(item, Article) else item
            return
        sizes = self.batch_sizes()
        chunk: list[Item] = []
        articles, limit = 0, next(sizes)
        for item in items:
            chunk.append(item)
            if isinstance(item, Article):
                articles += 1
                if articles >= limit:
                    yield from self._flush(chunk)
                    chunk, articles, limit = [], 0, next(sizes)
        yield from self._flush(chunk)

    def _flush(self, chunk: list[Item]) -> Iterator[Item]:
        articles = [item for item in chunk if isinstance(item, Article)]
        results = iter(self.process_batch(articles) if articles else ())
        for item in chunk:
            if isinstance(item, Article):
                self.ledger.add(self.name, "total")
                yield self.outcome(item, next(results))
            else:
                yield item

    def apply(self, article: Article) -> Item:
        """Run the hook on one article with the stage's counting and error policy."""
        self.ledger.add(self.name, "total")
        return self.outcome(article, self._guarded(article))

    def _guarded(self, article: Article) -> Result | Reject:
        try:
            return self.process(article)
        except Reject as reject:
            return reject
        except MemoryError:  # in a worker under its memory cap (`extract_memory_mb`): the input's fault
            return Reject(f"{self.name}_out_of_memory", f"{self.name} ran out of memory")
        except Exception as exc:
            log.exception("%s failed on %s", self.name, article.source_uri)
            return Reject(f"error_{type(exc).__name__}", str(exc)[:500])

    def outcome(self, article: Article, result: Result | Reject) -> Item:
        """Count a hook's result for `article` (its `total` already counted) and turn a Reject into quarantine."""
        if isinstance(result, Reject):
            return self.reject(article, result.reasons, result.detail)
        self.count(result)
        return result

    def count(self, result: Item) -> None:
        """Count where an item went: forwarded, or dropped with its reason."""
        if isinstance(result, Article):
            self.ledger.add(self.name, "forwarded")
        elif isinstance(result, Duplicate):
            self.ledger.add(self.name, f"dropped_duplicate_{result.method}")
        elif isinstance(result, Skipped):
            self.ledger.add(self.name, "dropped_unchanged")
        elif isinstance(result, Quarantined):
            for reason in result.reasons:
                self.ledger.add(self.name, f"dropped_{reason}")

    def reject(self, article: Article, reasons: tuple[str, ...], detail: str) -> Quarantined:
        for reason in reasons:
            self.ledger.add(self.name, f"dropped_{reason}")
        return Quarantined(
            source_uri=article.source_uri,
            stage=self.name,
            reasons=reasons,
            detail=detail,
            payload=article.payload(),
        )
