"""The per-document stages in worker processes: keep the raw bytes, extract, clean and enrich, one input each.

These steps depend on the document alone, so they run in parallel (`pipeline.document.workers`, `extract_workers`
processes) and the main process keeps only what needs the whole run: validation, dedupe, stories and
staging. Each worker runs the stages in order on its document with a ledger of its own and sends back the
outcome, its counts and the raw row to retain; the main process adds the counts to the run's ledger, so a
run counts exactly what the stages counted in one process.

A document whose extraction runs over `timeout_s`, crashes its worker or exhausts its memory is quarantined
by the extract stage (`extract_timeout`, `extract_crashed`, `extract_out_of_memory`) and the run goes on; its
raw bytes are still retained, by the main process. Items leave in the order they came, outcomes of earlier
stages included; at most two per worker are in flight and `READ_AHEAD` inputs read ahead, so memory stays
flat.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from pipeline.models import Article
from pipeline.stage import Item, Ledger, Stage

log = logging.getLogger(__name__)

STEPS = ("retain", "extract", "clean", "enrich")
AHEAD = 1024  # default: finished items the feeder may queue ahead of the consumer (a few KB each)
# Inputs the reader thread reads ahead of the workers (an HTML page's bytes each): about 80 ms of two workers'
# pages, enough that a worker done with its page never waits on a read or the unchanged check's lookup.
READ_AHEAD = 8  # at most 8 x `max_input_bytes` held (the check's batch of 16 is read before any of them)


class _Stopped(Exception):
    """The consumer went away: the feeder stops."""


@dataclass(frozen=True)
class DocumentSteps:
    """Which stages a worker runs on each document, and the run's values they need."""

    steps: tuple[str, ...] = ("extract",)
    run_id: str = ""
    ingested_at: datetime | None = None  # enrich: the run's one ingestion time
    fetched_at: datetime | None = None  # retain: the run's read time
    # (shingle size, permutations, bands): also compute the body's MinHash for dedupe, after enrich.
    minhash: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        unknown = [s for s in self.steps if s not in STEPS]
        if unknown or list(self.steps) != [s for s in STEPS if s in self.steps]:
            raise ValueError(f"steps must be in the order {STEPS}, got {self.steps}")


class _Collector:
    """Stands in for the staging writer in a worker: the raw row goes back with the result."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add_raw(self, row: dict) -> None:
        self.rows.append(row)


def _stages(spec: DocumentSteps, ledger: Ledger, collector: _Collector) -> list[Stage]:
    from pipeline.document.clean import CleanStage
    from pipeline.document.enrich import EnrichStage
    from pipeline.document.extract import ExtractStage
    from pipeline.document.retain import RetainStage

    make = {
        "retain": lambda: RetainStage(ledger, collector, spec.run_id, spec.fetched_at),
        "extract": lambda: ExtractStage(ledger),
        "clean": lambda: CleanStage(ledger),
        "enrich": lambda: EnrichStage(ledger, spec.run_id, spec.ingested_at),
    }
    return [make[step]() for step in spec.steps]


def document_job(job: tuple[Article, DocumentSteps]) -> tuple[Item, dict[str, int], list[dict]]:
    """In a worker: the stages on one article. Returns its outcome, the counts and the raw rows to stage."""
    article, spec = job
    ledger, collector = Ledger(), _Collector()
    item: Item = article
    for stage in _stages(spec, ledger, collector):
        if not isinstance(item, Article):
            break
        item = stage.apply(item)
    if spec.minhash is not None and isinstance(item, Article) and item.content_hash:
        from pipeline.dedupe.minhash import precompute_signature

        precompute_signature(item, spec.minhash)
    return item, dict(ledger.counts), collector.rows


# What a worker's failure means for the page it was extracting.
_FAILURES = {
    "timeout": ("extract_timeout", "extraction ran over the {timeout:g} s limit and was stopped"),
    "crashed": ("extract_crashed", "the extraction process died: {detail}"),
}


class DocumentStage(Stage):
    """`spec.steps` of each document in worker processes, up to `workers` at once, `timeout_s` at most each.

    `workers=0` runs them in this process instead (no timeout, no isolation): for debugging and profiling.

    `writer` receives the raw rows when `retain` is a step.
    """

    name = "extract"  # a worker's failure is the extract stage's: the other steps cannot hang or crash
    # What the workers import before their first document (once, in the forkserver), with py3langid's model.
    PRELOAD = (
        "pipeline.document.forkserver",  # ties the forkserver to the run's process
        "pipeline.document.stage",
        "pipeline.document.extract",
        "pipeline.document.cascade",
        "pipeline.document.clean",
        "pipeline.document.enrich",
        "pipeline.document.retain",
        "pipeline.document.language_model",
        "pipeline.dedupe.minhash",
        "trafilatura",
    )

    def __init__(
        self,
        ledger: Ledger,
        spec: DocumentSteps,
        workers: int = 2,
        timeout_s: float = 30.0,
        memory_limit_mb: int | None = None,
        writer=None,
        ahead: int = AHEAD,
    ):
        super().__init__(ledger)
        self.ahead = ahead
        if "retain" in spec.steps and writer is None:
            raise ValueError("the retain step needs a writer")
        self.spec, self.writer = spec, writer
        self.workers, self.timeout_s, self.memory_limit_mb = workers, timeout_s, memory_limit_mb

    def run(self, items: Iterable[Item]) -> Iterator[Item]:
        """The items in input order, each article through the steps.

        The workers start at once, not at the first item asked for: a reader thread reads the input ahead
        (`_read_ahead`) and a feeder thread keeps them busy, up to `ahead` finished items ahead of the
        consumer. So they extract while the later stages are still being set up, and while those stages take
        their time (a validation chunk, the first import of Great Expectations). `close()` the result (or drop
        it) to stop them early.
        """
        if self.workers == 0:
            return self._in_process(items)
        from pipeline.document.workers import prepare

        prepare(self.PRELOAD)  # the forkserver from this thread, not the feeder's: it then dies with the run
        return _Feed(self, items)

    def _feed(self, items: Iterable[Item], done: queue.Queue, stop: threading.Event, pools: list) -> None:
        """In the feeder thread: read, hand articles to the workers, queue outcomes in input order.

        The pool is put in `pools`, so that the consumer's `close` can interrupt it at once."""

        def put(*message) -> None:
            if not _offer(done, message, stop):
                raise _Stopped

        pending: deque[Item] = deque()  # everything read so far, in order; articles await a worker

        def jobs() -> Iterator[tuple[Article, DocumentSteps]]:
            with contextlib.closing(_read_ahead(items, stop)) as ahead:  # closed with this: the reader joined
                for item in ahead:
                    pending.append(item)
                    if isinstance(item, Article):
                        yield item, self.spec

        from pipeline.document.workers import PoolInterrupted, WorkerPool

        pool = WorkerPool(
            document_job,
            workers=self.workers,
            timeout_s=self.timeout_s,
            memory_limit_mb=self.memory_limit_mb,
            preload=self.PRELOAD,
        )
        pools.append(pool)
        if stop.is_set():  # closed while the pool was being made
            pool.interrupt()
        source = jobs()  # closed below however the map ends, so the reader thread is joined here
        try:
            with pool, contextlib.closing(source):
                for result in pool.map(source):
                    while not isinstance(pending[0], Article):  # outcomes of earlier stages pass in order
                        put("item", pending.popleft())
                    article = pending.popleft()
                    if result.ok:  # the worker's article carries it on; only a failure needs the bytes (up
                        article = replace(article, raw=b"")  # to `ahead` results wait in `done`)
                    put("result", article, result)
                for item in pending:
                    put("item", item)
            put("end")
        except (_Stopped, PoolInterrupted):
            pass
        except BaseException as exc:  # raised again in the consumer's thread
            with contextlib.suppress(_Stopped):
                put("error", exc)

    def _in_process(self, items: Iterable[Item]) -> Iterator[Item]:
        """workers=0: the same steps in this process, for debugging and profiling. No timeout applies."""
        from pipeline.document.workers import TaskResult

        for item in items:
            yield (
                self._from_worker(item, TaskResult(True, document_job((item, self.spec))))
                if isinstance(item, Article)
                else item
            )

    def _from_worker(self, article: Article, result) -> Item:
        """Add a worker's counts and raw rows to the run, or turn its failure into the article's outcome."""
        if result.ok:
            item, counts, raw_rows = result.value
            self.ledger.counts.update(Counter(counts))
            for row in raw_rows:
                self.writer.add_raw(row)
            return item
        if "retain" in self.spec.steps:  # the worker died with the document: keep its bytes here
            from pipeline.document.retain import RetainStage

            RetainStage(self.ledger, self.writer, self.spec.run_id, self.spec.fetched_at).apply(article)
        self.ledger.add(self.name, "total")
        article.raw = b""
        if result.failure in _FAILURES:
            reason, template = _FAILURES[result.failure]
            detail = template.format(timeout=self.timeout_s, detail=result.detail)
        elif result.error_type == "MemoryError":
            reason, detail = "extract_out_of_memory", "extraction ran out of its worker's memory limit"
        else:
            log.error("extract failed on %s: %s", article.source_uri, result.detail)
            reason, detail = f"error_{result.error_type}", result.detail
        return self.reject(article, (reason,), detail)


def _read_ahead(items: Iterable[Item], stop: threading.Event, ahead: int = READ_AHEAD) -> Iterator[Item]:
    """`items`, in order, read by a thread of their own up to `ahead` in advance.

    Reading an input (a file, the unchanged check's lookup a batch at a time: 11 ms every 16 HTML pages) in the
    feeder's thread held up every worker that finished meanwhile: its next page came only after the read. An
    error reading is raised here in its place. Closing this generator, or `stop`, ends the thread; it is
    joined before this returns, so `items` is never left running in two threads. The join waits for the read
    in hand (a fetch ends within its timeout)."""
    ready: queue.Queue = queue.Queue(maxsize=ahead)
    done = threading.Event()

    def put(entry: tuple) -> bool:
        return _offer(ready, entry, stop, done)

    reader = threading.Thread(target=_read, args=(items, put), name="document-reader", daemon=True)
    reader.start()
    try:
        while True:
            try:
                kind, value = ready.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set() or (not reader.is_alive() and ready.empty()):
                    return
                continue
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        done.set()
        reader.join()


def _offer(into: queue.Queue, entry: tuple, *stops: threading.Event) -> bool:
    """Put `entry` into the bounded queue, waiting for room; False, not put, once one of `stops` is set."""
    while not any(s.is_set() for s in stops):
        with contextlib.suppress(queue.Full):
            into.put(entry, timeout=0.1)
            return True
    return False


def _read(items: Iterable[Item], put: Callable[[tuple], bool]) -> None:
    """The reader thread of `_read_ahead`: each item, then the end or the error, until `put` says stop."""
    try:
        for item in items:
            if not put(("item", item)):
                return
        put(("end", None))
    except BaseException as exc:  # raised again in the consumer's thread, in its place
        put(("error", exc))


class _Feed:
    """A DocumentStage's output: its feeder thread runs from creation until the end, an error or close()."""

    def __init__(self, stage: DocumentStage, items: Iterable[Item]):
        self.stage, self.finished = stage, False
        self.done: queue.Queue = queue.Queue(maxsize=stage.ahead)
        self.stop = threading.Event()
        self.pools: list = []
        self.feeder = threading.Thread(
            target=stage._feed,
            args=(items, self.done, self.stop, self.pools),
            name="document-feeder",
            daemon=True,
        )
        self.feeder.start()

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> Item:
        if self.finished:
            raise StopIteration
        try:
            kind, *value = self.done.get()
            if kind == "item":
                return value[0]
            if kind == "result":
                return self.stage._from_worker(*value)
        except BaseException:
            self.close()
            raise
        self.close()
        if kind == "error":
            raise value[0]
        raise StopIteration

    def close(self) -> None:
        """Stop the feeder and its workers (a worker's page in hand is abandoned); wait for them. Safe to call
        twice."""
        self.finished = True
        self.stop.set()
        for pool in self.pools:
            pool.interrupt()
        if self.feeder.is_alive() and self.feeder is not threading.current_thread():
            self.feeder.join()

    def __del__(self) -> None:
        if not self.finished:
            self.close()
