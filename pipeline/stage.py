"""The stage base: it owns the loop, the counting and the bad-input policy; a stage writes one hook.

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


class Ledger:
    """Counters of one run, named `<stage>.<counter>`: `total`, `forwarded`, `dropped_<reason>`, and extras."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, stage: str, counter: str, n: int = 1) -> None:
        self.counts[f"{stage}.{counter}"] += n

    def get(self, stage: str, counter: str) -> int:
        return self.counts.get(f"{stage}.{counter}", 0)

    def by_stage(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for key, n in sorted(self.counts.items()):
            stage, counter = key.split(".", 1)
            out.setdefault(stage, {})[counter] = n
        return out


class Stage:
    """One step. Subclasses implement `process`; `run` applies it to a stream.

    `process(article)` returns the article to forward it (changed in place or not), or an outcome
    (`Duplicate`, `Skipped`) to stop it here, or raises `Reject(reason)` to quarantine it. Any other exception
    is a bug met on one input: it is quarantined as `error_<ExceptionName>` and logged, and the run goes on.
    """

    name = "stage"

    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def process(self, article: Article) -> Article | Duplicate | Skipped:
        raise NotImplementedError

    def run(self, items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            if not isinstance(item, Article):
                yield item
                continue
            yield self.apply(item)

    def apply(self, article: Article) -> Item:
        """Run the hook on one article with the stage's counting and error policy."""
        self.ledger.add(self.name, "total")
        try:
            result = self.process(article)
        except Reject as reject:
            return self.reject(article, (reject.reason,), reject.detail)
        except MemoryError:  # in a worker under its memory cap (`extract_memory_mb`): the input's fault
            return self.reject(article, (f"{self.name}_out_of_memory",), f"{self.name} ran out of memory")
        except Exception as exc:
            log.exception("%s failed on %s", self.name, article.source_uri)
            return self.reject(article, (f"error_{type(exc).__name__}",), str(exc)[:500])
        if isinstance(result, Article):
            self.ledger.add(self.name, "forwarded")
        elif isinstance(result, Duplicate):
            self.ledger.add(self.name, f"dropped_duplicate_{result.method}")
        elif isinstance(result, Skipped):
            self.ledger.add(self.name, "dropped_unchanged")
        return result

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
