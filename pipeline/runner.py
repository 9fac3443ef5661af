"""A run, start to end: plan (check setup, list inputs), process (stages to staging files), publish (load).

The CLI calls `run_ingest`, which does the three in one process; the Airflow DAG calls them as tasks.
"""

from __future__ import annotations

import ctypes
import gc
import itertools
import json
import logging
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.audit import AUDIT_FILE, Audit, audit_run
from pipeline.dedupe import DedupeStage
from pipeline.document import DocumentStage, DocumentSteps
from pipeline.errors import SetupError
from pipeline.fetch import Fetcher
from pipeline.models import Article, Skipped
from pipeline.raw import raw_articles
from pipeline.settings import Settings
from pipeline.sources import ReadStage, documents, expand_sources
from pipeline.stage import Item, Ledger, Stage
from pipeline.staging import LEDGER_FILE, StagingWriter, read_ledger, write_ledger, write_paragraphs
from pipeline.store import FEED_STATE_FILE, PARAGRAPHS_FILE, ROBOTS_FILE, STORIES_FILE, Store, utcnow
from pipeline.stories import StoryStage
from pipeline.validate import ValidateStage
from pipeline.web import WebReader, fetch_policy, is_url, read_sources_file
from pipeline.workers import stop_forkserver

log = logging.getLogger(__name__)
VALIDATION_FILE = "validation.json"  # the chunks' GX results, kept when a Data Docs report is asked for


def new_run_id() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def safe_run_id(text: str) -> str:
    """A run id usable as a folder name, from any string (Airflow's run ids contain ':' and '+')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or new_run_id()


@dataclass
class RunSummary:
    run_id: str
    status: str
    trigger: str
    db: str
    read: int
    landed: int
    duplicates: int
    quarantined: int
    skipped: int
    ignored_files: int = 0
    ignored_examples: list[str] = field(default_factory=list)
    started_at: str = ""
    ended_at: str = ""
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    audit: dict | None = None  # the batch-level checks: metrics, thresholds, failed expectations
    staging: str | None = None  # where a run held by a failed audit waits for `release`
    data_docs: str | None = None  # the run's validation report (index.html), when one was written

    def to_dict(self) -> dict:
        return asdict(self)

    def removed_by_rule(self) -> dict[str, int]:
        """Boilerplate lines the clean stage removed, by rule name."""
        clean = self.stages.get("clean", {})
        return {k.removeprefix("removed_"): n for k, n in clean.items() if k.startswith("removed_")}


@dataclass
class Plan:
    """What a run will read: file paths and URLs in order, files skipped for their type, names of sources."""

    sources: list[str]
    inputs: list[str]
    ignored: list[Path]
    names: dict[str, str] = field(default_factory=dict)  # URL -> name, from a sources file

    def meta(self) -> dict:
        """What a run's ledger says of its inputs besides the stage counts."""
        return {
            "sources": self.sources,
            "ignored_files": len(self.ignored),
            "ignored_examples": [str(p) for p in self.ignored[:3]],
        }


def plan_run(sources: list[str], settings: Settings, sources_file: Path | None = None) -> Plan:
    """Check the setup a run needs and list its inputs; raise `SetupError` with a fix otherwise.

    `sources_file` adds the sources it lists (see `pipeline.web.read_sources_file`) after `sources`.
    """
    sources = [str(s) for s in sources]
    names: dict[str, str] = {}
    if sources_file is not None:
        for spec in read_sources_file(sources_file):
            sources.append(spec.location)
            if spec.name:
                names[spec.location] = spec.name
    if not sources:
        raise SetupError("no sources given; pass files, folders or URLs to ingest, or a sources file")
    if not settings.suite_path.is_file():
        raise SetupError(
            f"expectation suite {settings.suite_path} not found; restore expectations/ or set PIPELINE_SUITE_PATH"
        )
    inputs, ignored = expand_sources(sources)
    return Plan(sources, inputs, ignored, names)


def process_run(
    plan: Plan,
    settings: Settings,
    run_id: str,
    history: Store | None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Run every stage over the plan's inputs and write the results to the run's staging folder; return it.

    `history` is the database as it stands (read-only is enough), or None for a first run. `progress`, if
    given, is called with (documents done, inputs named) as the run goes.
    """
    ledger = Ledger()
    with ExitStack() as resources:
        web = _web_reader(plan, settings, history, ledger, resources)
        return _stream_to_staging(plan, settings, run_id, history, web, ledger, progress)


def _web_reader(
    plan: Plan, settings: Settings, history: Store | None, ledger: Ledger, resources: ExitStack
) -> WebReader | None:
    """A fetcher for the plan's URLs (None when it has none), closed with `resources`."""
    if not any(is_url(location) for location in plan.inputs):
        return None
    robots = history.fresh_robots() if history is not None else {}
    if history is not None:  # the reader runs in the document feeder's thread: its own connection
        history = resources.enter_context(history.for_thread())
    return WebReader(
        resources.enter_context(Fetcher(fetch_policy(settings), robots=robots)),
        history,
        ledger_add=lambda counter: ledger.add("read", counter),
        names=plan.names,
        in_flight=settings.fetch_in_flight,
    )


def _stream_to_staging(
    plan: Plan,
    settings: Settings,
    run_id: str,
    history: Store | None,
    web: WebReader | None,
    ledger: Ledger,
    progress: Callable[[int, int], None] | None,
    stored: Iterable[Article] | None = None,
) -> Path:
    folder = settings.staging_root / run_id
    started_at = utcnow()
    writer = StagingWriter(folder, run_id)
    front = _front(plan, settings, run_id, web, ledger, writer, started_at, stored)  # the workers start now
    try:
        stream, finish = _back(front, settings, history, ledger)
        tally = writer.consume(stream, progress and (lambda done: progress(done, len(plan.inputs))))
    finally:
        _close(front)
    if web is not None:
        _stage_fetch_state(folder, web)
    finish(folder)
    if not tally.balanced():  # a bug in a stage, never bad input: fail loudly rather than lose an input
        raise RuntimeError(f"run {run_id} lost inputs: {tally}")
    write_ledger(
        folder,
        {
            **plan.meta(),
            "run_id": run_id,
            "started_at": started_at.isoformat(),
            "tally": asdict(tally),
            "counts": ledger.by_stage(),
        },
    )
    return folder


def _front(
    plan: Plan,
    settings: Settings,
    run_id: str,
    web: WebReader | None,
    ledger: Ledger,
    writer: StagingWriter,
    started_at,
    stored: Iterable[Article] | None = None,
    max_items: int | None = None,
) -> Iterator[Item]:
    """The stages up to enrich: read, then in worker processes keep raw bytes, extract, clean and enrich.

    With `stored` (reprocess), documents as reading made them come from raw_documents instead, and are not
    retained again.
    """
    steps = ("extract", "clean", "enrich")
    if stored is None:
        stream = ReadStage(ledger, settings.max_input_bytes, settings.max_file_bytes, web).run(
            documents(plan.inputs)
        )
        if max_items is not None:
            stream = itertools.islice(stream, max_items)
        steps = ("retain", *steps)
    else:
        stream = stored
    minhash = (settings.shingle_size, settings.minhash_perms, settings.lsh_bands)
    spec = DocumentSteps(steps, run_id, ingested_at=utcnow(), fetched_at=started_at, minhash=minhash)
    return DocumentStage(
        ledger,
        spec,
        settings.extract_workers,
        settings.extract_timeout_s,
        settings.extract_memory_mb,
        writer=writer,
        ahead=2 * settings.validate_chunk,  # the workers go on while validation waits for a whole chunk
    ).run(stream)


def _close(stream: Iterable) -> None:
    """Stop what an unfinished stream still runs (the document workers); nothing for a finished one."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def _back(
    stream: Iterable[Item], settings: Settings, history: Store | None, ledger: Ledger
) -> tuple[Iterator[Item], Callable[[Path], None]]:
    """Validate, dedupe, stories; and a function that stages what they learnt once the stream is consumed."""
    for stage in (
        validate := ValidateStage(
            ledger, settings
        ),  # before dedupe: a copy of a rejected input is judged alone
        dedupe := DedupeStage(ledger, settings, history),
        stories := StoryStage(ledger, history, utcnow()),
    ):
        stream = stage.run(stream)
    validate.warm_up()  # after the stages' own imports (numpy, datasketch): GX's import then runs alone

    def finish(folder: Path) -> None:
        with (folder / STORIES_FILE).open("w") as f:
            f.writelines(json.dumps(row) + "\n" for row in stories.rows())
        write_paragraphs(folder / PARAGRAPHS_FILE, dedupe.templates.counts)
        if validate.results is not None:
            (folder / VALIDATION_FILE).write_text(json.dumps(validate.results, default=str))

    return stream, finish


def _stage_fetch_state(folder: Path, web: WebReader) -> None:
    """What fetching learnt, for the load step to keep: feed states and robots.txt answers."""
    if web.feed_states:
        (folder / FEED_STATE_FILE).write_text(json.dumps(web.feed_states, default=str))
    if web.fetcher.robots_fetched:
        now = utcnow().isoformat()
        robots = {o: {"robots_txt": t, "fetched_at": now} for o, t in web.fetcher.robots_fetched.items()}
        (folder / ROBOTS_FILE).write_text(json.dumps(robots))


def publish_run(folder: Path, store: Store, trigger: str, status: str = "success") -> RunSummary:
    """Load a staged run into the database in one transaction and record its ledger row."""
    run = _run_row(folder, trigger, status)
    store.load(folder, run)
    summary = _summary(folder, run, store)
    shutil.rmtree(folder, ignore_errors=True)  # published: the database now holds everything it had
    shutil.rmtree(folder.with_name(folder.name + PARTS_SUFFIX), ignore_errors=True)  # and its partitions
    return summary


def write_docs(folder: Path, settings: Settings, audit: Audit) -> Path | None:
    """The run's Data Docs (row-level results per chunk, then the audit) in `settings.data_docs_dir`."""
    if settings.data_docs_dir is None:
        return None
    from pipeline.quality import write_run_docs

    index = write_run_docs(folder / VALIDATION_FILE, audit.result, settings.data_docs_dir)
    log.info("Data Docs written: %s", index)
    return index


def hold_run(folder: Path, store: Store, trigger: str, audit: Audit) -> RunSummary:
    """A run that failed its audit: record it as `audit_failed` and publish nothing; staging keeps it."""
    run = _run_row(folder, trigger, "audit_failed")
    run["error"] = f"audit failed: {audit.message()}"
    store.record_run(run)
    store.con.execute("CHECKPOINT")
    return _summary(folder, run, store)


def release_run(run_id: str, settings: Settings) -> RunSummary:
    """Publish a run held in staging by a failed audit, as it was staged (`python -m pipeline release`)."""
    folder = settings.staging_root / run_id
    if not (folder / LEDGER_FILE).is_file():
        held = sorted(p.name for p in settings.staging_root.glob("*") if (p / LEDGER_FILE).is_file())
        raise SetupError(
            f"no staged run {run_id!r} in {settings.staging_root}"
            + (f"; staged runs: {', '.join(held)}" if held else "; nothing is staged")
        )
    with Store(settings.db_path, lock_timeout_s=settings.lock_timeout_s) as store:
        recorded = store.run_summary(run_id)
        if recorded is not None and recorded["status"] in ("success", "released"):
            raise SetupError(f"run {run_id} was already published ({recorded['status']})")
        return publish_run(folder, store, "release", status="released")


def _run_row(folder: Path, trigger: str, status: str) -> dict:
    ledger = read_ledger(folder)
    tally = ledger["tally"]
    return {
        "run_id": ledger["run_id"],
        "trigger": trigger,
        "started_at": ledger["started_at"],
        "ended_at": utcnow(),
        "status": status,
        "sources": ledger.get("sources", []),
        **{k: tally[k] for k in ("read", "landed", "duplicates", "quarantined", "skipped")},
        "counts": ledger["counts"],
        "error": None,
    }


def _summary(folder: Path, run: dict, store: Store) -> RunSummary:
    ledger = read_ledger(folder)
    tally = ledger["tally"]
    audit_file = folder / AUDIT_FILE
    return RunSummary(
        run_id=run["run_id"],
        status=run["status"],
        trigger=run["trigger"],
        db=str(store.path),
        read=tally["read"],
        landed=tally["landed"],
        duplicates=tally["duplicates"],
        quarantined=tally["quarantined"],
        skipped=tally["skipped"],
        ignored_files=ledger.get("ignored_files", 0),
        ignored_examples=ledger.get("ignored_examples", []),
        started_at=str(run["started_at"]),
        ended_at=run["ended_at"].isoformat(),
        stages=ledger["counts"],
        quarantine_reasons=tally["quarantine_reasons"],
        audit=json.loads(audit_file.read_text()) if audit_file.is_file() else None,
        staging=str(folder) if run["status"] == "audit_failed" else None,
    )


def run_ingest(
    sources: list[str],
    settings: Settings,
    trigger: str = "cli",
    run_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    sources_file: Path | None = None,
) -> RunSummary:
    """The whole run in this process: the writer connection also serves as dedupe's history."""
    plan = plan_run(sources, settings, sources_file)
    run_id = run_id or new_run_id()
    with (
        Store(settings.db_path, lock_timeout_s=settings.lock_timeout_s) as store,
        _failures_recorded(store, run_id, trigger, plan.sources),
    ):
        folder = process_run(plan, settings, run_id, store, progress)
        return audit_and_publish(folder, settings, store, trigger)


def audit_and_publish(folder: Path, settings: Settings, store: Store, trigger: str) -> RunSummary:
    """Audit a staged run, write its report if asked, then publish it, or hold it when the audit failed."""
    release_memory()  # the stages' run state is garbage now: give it back before DuckDB's load takes memory
    audit = audit_run(folder, settings)
    docs = write_docs(folder, settings, audit)
    summary = (
        hold_run(folder, store, trigger, audit) if not audit.passed else publish_run(folder, store, trigger)
    )
    summary.data_docs = str(docs) if docs else None
    return summary


def release_memory() -> None:
    """Stop the idle forkserver, collect garbage and hand freed heap pages back to the OS (glibc keeps them)."""
    stop_forkserver()
    gc.collect()
    with suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@contextmanager
def _failures_recorded(store: Store, run_id: str, trigger: str, sources: list[str]):
    """A bug, not bad input, stopped the run: leave a trace in the ledger, then fail loudly."""
    started_at = utcnow()
    try:
        yield
    except Exception as exc:
        store.record_run(
            {
                "run_id": run_id,
                "trigger": trigger,
                "started_at": started_at,
                "ended_at": utcnow(),
                "status": "failed",
                "sources": sources,
                "error": f"{type(exc).__name__}: {exc}"[:2000],
            }
        )
        raise


def reprocess_run(
    settings: Settings,
    quarantined_only: bool = False,
    run_filter: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Run extraction, cleaning, dedupe and validation again over stored raw documents, then audit and publish.

    The latest stored version of each input is used; nothing is fetched or read from the sources. An article
    whose text comes out as before is skipped as unchanged; one that changes (a rule was added, say) is
    updated in place; an input quarantined before and valid now lands, and its quarantine rows are marked
    resolved. `quarantined_only` replays only inputs whose last outcome was quarantine; `run_filter` only the
    inputs a given run read.
    """
    run_id = new_run_id()
    with Store(settings.db_path, lock_timeout_s=settings.lock_timeout_s) as store:
        uris = store.raw_source_uris(quarantined_only=quarantined_only, run_id=run_filter)
        if not uris:
            what = (
                "quarantined inputs with stored raw documents" if quarantined_only else "stored raw documents"
            )
            raise SetupError(f"nothing to reprocess: no {what} in {settings.db_path}")
        plan = Plan(
            sources=[f"reprocess:{'quarantined' if quarantined_only else 'all'}"], inputs=uris, ignored=[]
        )
        with _failures_recorded(store, run_id, "reprocess", plan.sources):
            stored = raw_articles(store.raw_rows(uris))
            folder = _stream_to_staging(plan, settings, run_id, store, None, Ledger(), progress, stored)
            return audit_and_publish(folder, settings, store, "reprocess")


# Partitioned runs (the Airflow DAG): one mapped task per source reads, extracts, cleans and enriches into a
# partition of its own; one task then takes every partition's articles, in source order, through validate,
# dedupe and stories into the run's staging folder, which audit and load handle as usual.

PARTS_SUFFIX = ".parts"


def partitions_root(settings: Settings, run_id: str) -> Path:
    return settings.staging_root / f"{run_id}{PARTS_SUFFIX}"


class SinceStage(Stage):
    """Leave out articles published before a date (the DAG's `since`): skipped, counted `since.before_since`."""

    name = "since"

    def __init__(self, ledger: Ledger, since: datetime):
        super().__init__(ledger)
        self.since = since

    def process(self, article: Article) -> Article | Skipped:
        if article.published_at is not None and article.published_at < self.since:
            self.ledger.add(self.name, "before_since")
            return Skipped(article.source_uri, article.article_id)
        return article


def process_partition(
    source: str,
    index: int,
    settings: Settings,
    run_id: str,
    history: Store | None,
    names: dict | None = None,
    since: datetime | None = None,
    max_items: int | None = None,
) -> dict:
    """Read, keep raw, extract, clean and enrich one source; stage its articles before dedupe. Small counts out.

    `max_items` stops reading the source after that many documents (the rest are not read, so not counted);
    `since` skips articles published before it. Rerunning it (a retried task) rewrites the partition.
    """
    plan = plan_run([source], settings)
    plan.names = dict(names or {})
    folder = partitions_root(settings, run_id) / f"{index:04d}"
    ledger = Ledger()
    started_at = utcnow()
    with ExitStack() as resources:
        web = _web_reader(plan, settings, history, ledger, resources)
        writer = StagingWriter(folder, run_id)
        front = _front(plan, settings, run_id, web, ledger, writer, started_at, max_items=max_items)
        stream = SinceStage(ledger, since).run(front) if since is not None else front
        try:
            tally = writer.consume(stream)
        finally:
            _close(front)
        if web is not None:
            _stage_fetch_state(folder, web)
    write_ledger(
        folder,
        {**plan.meta(), "run_id": run_id, "started_at": started_at.isoformat(), "tally": asdict(tally),
         "counts": ledger.by_stage()},
    )  # fmt: skip
    return {
        "index": index,
        "source": source,
        "folder": str(folder),
        "read": tally.read,
        "articles": tally.landed,
        "quarantined": tally.quarantined,
        "skipped": tally.skipped,
    }


def merge_partitions(
    folders: list[Path], settings: Settings, run_id: str, history: Store | None, sources: list[str]
) -> Path:
    """The partitions' articles, in order, through validate, dedupe and stories, into the run's staging folder.

    Their quarantine rows, raw documents and fetch state are carried over as they are; the tally adds up.
    """
    folders = sorted(Path(f) for f in folders)
    ledgers = [read_ledger(f) for f in folders]
    ledger = Ledger()
    for part in ledgers:
        for stage, counters in part["counts"].items():
            for counter, n in counters.items():
                ledger.add(stage, counter, n)
    folder = settings.staging_root / run_id
    writer = StagingWriter(folder, run_id)
    stream, finish = _back(_staged_articles(folders), settings, history, ledger)
    tally = writer.consume(stream)
    finish(folder)
    reasons = dict(tally.quarantine_reasons)
    feeds, robots = [], {}
    for i, (part, meta) in enumerate(zip(folders, ledgers, strict=True)):
        t = meta["tally"]
        tally.read += t["read"] - t["landed"]  # its articles were read again from the partition just now
        tally.quarantined += t["quarantined"]
        tally.skipped += t["skipped"]
        for reason, n in t["quarantine_reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
        for kind in ("quarantine", "raw"):
            for f in sorted(part.glob(f"{kind}-*.parquet")):
                shutil.copyfile(f, folder / f"{kind}-p{i:04d}-{f.name.split('-', 1)[1]}")
        if (part / FEED_STATE_FILE).is_file():
            feeds += json.loads((part / FEED_STATE_FILE).read_text())
        if (part / ROBOTS_FILE).is_file():
            robots.update(json.loads((part / ROBOTS_FILE).read_text()))
    tally.quarantine_reasons = dict(sorted(reasons.items()))
    if feeds:
        (folder / FEED_STATE_FILE).write_text(json.dumps(feeds))
    if robots:
        (folder / ROBOTS_FILE).write_text(json.dumps(robots))
    if not tally.balanced():
        raise RuntimeError(f"run {run_id} lost inputs merging partitions: {tally}")
    write_ledger(
        folder,
        {
            "sources": sources,
            "ignored_files": sum(m.get("ignored_files", 0) for m in ledgers),
            "ignored_examples": [e for m in ledgers for e in m.get("ignored_examples", [])][:3],
            "run_id": run_id,
            "started_at": min((m["started_at"] for m in ledgers), default=utcnow().isoformat()),
            "tally": asdict(tally),
            "counts": ledger.by_stage(),
        },
    )
    return folder


def _staged_articles(folders: list[Path]) -> Iterator[Article]:
    """Enriched articles back from partitions' Parquet files, in partition and part order."""
    import duckdb

    con = duckdb.connect()
    try:
        for part in folders:
            for f in sorted(part.glob("articles-*.parquet")):
                rel = con.execute(f"SELECT * FROM read_parquet('{f}')")
                names = [d[0] for d in rel.description]
                while rows := rel.fetchmany(500):
                    for values in rows:
                        yield _article_from_row(dict(zip(names, values, strict=True)))
    finally:
        con.close()


def _article_from_row(row: dict) -> Article:
    fields = {
        k: row[k]
        for k in ("source_uri", "url", "source", "title", "title_source", "author", "published_at", "language",
                  "body", "word_count", "content_hash", "article_id", "story_id", "run_id", "ingested_at",
                  "extractor")
    }  # fmt: skip
    return Article(**fields, removed=json.loads(row["removed_rules"] or "{}"))
