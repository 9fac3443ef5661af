"""A run, start to end: plan (check setup, list inputs), process (stages to staging files), publish (load).

The CLI calls `run_ingest`, which does the three in one process; the Airflow DAG calls them as tasks
(`pipeline.airflow_tasks`, with the partitioned processing of `pipeline.run.partitions`). Both assemble their
stages from `pipeline.run.assemble`.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterable
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.clock import utcnow
from pipeline.document.retain import raw_articles
from pipeline.document.workers import release_memory
from pipeline.errors import Interrupted, SetupError
from pipeline.models import Article
from pipeline.quality.audit import AUDIT_FILE, Audit, audit_run
from pipeline.run.assemble import (
    VALIDATION_FILE,
    Plan,
    StagedPart,
    back,
    close,
    front,
    new_run_id,
    plan_run,
    web_reader,
)
from pipeline.settings import Settings
from pipeline.stage import Ledger
from pipeline.store import Store
from pipeline.store.connection import run_lock
from pipeline.store.history import History
from pipeline.store.schema import SCHEMA_VERSION
from pipeline.store.staging import LEDGER_FILE, MANIFEST_FILE, read_ledger, sweep_debris

log = logging.getLogger(__name__)
PARTS_SUFFIX = ".parts"  # a partitioned run's partitions: <staging>/<run_id>.parts/<n>/


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


def process_run(
    plan: Plan,
    settings: Settings,
    run_id: str,
    history: History | None,
    progress: Callable[[int, int], None] | None = None,
    stored: Iterable[Article] | None = None,
    since: datetime | None = None,
    max_items: int | None = None,
) -> Path:
    """Run every stage over the plan's inputs and write the results to the run's staging folder; return it.

    `history` is the database as it stands (read-only is enough), or None for a first run. `progress`, if
    given, is called with (documents done, inputs named) as the run goes. With `stored` (reprocess), the
    documents come from raw_documents instead of the plan's inputs.
    """
    ledger = Ledger()
    part = StagedPart(settings.run_folder(run_id), run_id)
    with ExitStack() as resources:
        web = web_reader(plan, settings, history, ledger, resources, since) if stored is None else None
        documents = front(  # the workers start now
            plan.groups or plan.inputs,
            settings,
            run_id,
            ledger,
            part.writer,
            part.started_at,
            web=web,
            stored=stored,
            since=since,
            max_items=max_items,
            refused=plan.refused,
            landed=resources.enter_context(history.for_thread()) if history is not None else None,
        )
        try:
            stream, finish = back(documents, settings, history, ledger)
        except BaseException:
            close(documents)
            raise
        part.write(
            stream,
            ledger,
            plan.meta(),
            web=web,
            finish=finish,
            progress=progress and (lambda done: progress(done, len(plan.inputs))),
            closing=documents,
        )
    return part.folder


def publish_run(folder: Path, store: Store, trigger: str, status: str = "success") -> RunSummary:
    """Load a staged run into the database in one transaction and record its ledger row."""
    run = _run_row(folder, trigger, status)
    store.load(folder, run)
    summary = _summary(folder, run, store.path)
    shutil.rmtree(folder, ignore_errors=True)  # published: the database now holds everything it had
    shutil.rmtree(folder.with_name(folder.name + PARTS_SUFFIX), ignore_errors=True)  # and its partitions
    return summary


def write_docs(folder: Path, settings: Settings, audit: Audit) -> Path | None:
    """The run's Data Docs (row-level results per chunk, then the audit) in `settings.data_docs_dir`, and beside
    them the run's own self-contained report (`report.html`: `pipeline.quality.report`)."""
    if settings.data_docs_dir is None:
        return None
    from pipeline.quality.docs import write_run_docs
    from pipeline.quality.report import read_json, write_run_report

    index = write_run_docs(folder / VALIDATION_FILE, audit.result, settings.data_docs_dir)
    report = write_run_report(
        read_ledger(folder), read_json(folder / AUDIT_FILE), settings.data_docs_dir, folder.name
    )
    log.info("Data Docs written: %s; the run's own report (opens offline): %s", index, report)
    return index


def hold_run(folder: Path, store: Store, trigger: str, audit: Audit) -> RunSummary:
    """A run that failed its audit: record it as `audit_failed` and publish nothing; staging keeps it."""
    run = _run_row(folder, trigger, "audit_failed")
    run["error"] = f"audit failed: {audit.message()}"
    store.record_run(run)
    store.checkpoint(run["run_id"])
    return _summary(folder, run, store.path)


def release_run(run_id: str, settings: Settings) -> RunSummary:
    """Publish a run held in staging by a failed audit, as it was staged (`python -m pipeline release`)."""
    folder = settings.run_folder(run_id)
    if not (folder / LEDGER_FILE).is_file():
        held = sorted(
            read_ledger(p)["run_id"] for p in settings.staging_root.glob("*") if (p / LEDGER_FILE).is_file()
        )
        raise SetupError(
            f"no staged run {run_id!r} in {settings.staging_root}"
            + (f"; staged runs: {', '.join(held)}" if held else "; nothing is staged")
        )
    run_id = read_ledger(folder)["run_id"]  # the run's own id (a folder name is only its safe form)
    with (
        run_lock(settings.db_path, settings.lock_timeout_s),
        Store(settings.db_path, lock_timeout_s=settings.lock_timeout_s) as store,
    ):
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


def _summary(folder: Path, run: dict, db: Path) -> RunSummary:
    ledger = read_ledger(folder)
    tally = ledger["tally"]
    audit_file = folder / AUDIT_FILE
    return RunSummary(
        run_id=run["run_id"],
        status=run["status"],
        trigger=run["trigger"],
        db=str(db),
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
    since: datetime | None = None,
    max_items: int | None = None,
    dry_run: bool = False,
    refused: dict[str, tuple[str, str]] | None = None,
) -> RunSummary:
    """The whole run in this process: the writer connection also serves as dedupe's history.

    `max_items` caps the documents read from each source, `since` skips articles published before it (as the
    DAG's trigger form does). `refused` names sources quarantined unread, each with its (reason, detail).
    `dry_run` does everything but the publish: the database is only read (not even
    created), the run is not recorded, and its staging is removed; the summary says what would have landed.
    """
    plan = plan_run(sources, settings, sources_file, refused)
    run_id = run_id or new_run_id()
    sweep_debris(settings.staging_root)
    if dry_run:
        return _dry_run(plan, settings, run_id, trigger, progress, since, max_items)
    wait = settings.lock_timeout_s
    with run_lock(settings.db_path, wait):  # one ingest per database at a time
        _ready_for_reading(settings.db_path, wait)
        writer = lambda: Store(settings.db_path, lock_timeout_s=wait)  # noqa: E731
        # a failure is recorded if the file can be had soon; a signal's exit is not held up for long
        recorder = lambda: Store(settings.db_path, lock_timeout_s=min(wait, FAILURE_RECORD_WAIT_S))  # noqa: E731
        with _failures_recorded(recorder, run_id, trigger, plan.sources, settings.run_folder(run_id)):
            # Processing reads the database shared (`sql` queries go on meanwhile); only the load locks it.
            with Store(settings.db_path, read_only=True, lock_timeout_s=wait) as reader:
                folder = process_run(
                    plan, settings, run_id, reader.history, progress, since=since, max_items=max_items
                )
            return audit_and_publish(folder, settings, writer, trigger)


FAILURE_RECORD_WAIT_S = 5.0


def _ready_for_reading(path: Path, wait: float) -> None:
    """Create the database, or migrate it, when it needs it: the only write before the load (a file at the
    current schema is only read here, so the run does not lock it at its start)."""
    if path.exists():
        with Store(path, read_only=True, lock_timeout_s=wait) as reader:
            if reader.schema_version() == SCHEMA_VERSION:
                return
    Store(path, lock_timeout_s=wait).close()


def _dry_run(
    plan: Plan,
    settings: Settings,
    run_id: str,
    trigger: str,
    progress: Callable[[int, int], None] | None,
    since: datetime | None,
    max_items: int | None,
) -> RunSummary:
    folder = settings.run_folder(run_id)
    history = Store.for_reading(settings.db_path, settings.lock_timeout_s)
    try:
        folder = process_run(
            plan,
            settings,
            run_id,
            history.history if history else None,
            progress,
            since=since,
            max_items=max_items,
        )
        audit = audit_run(folder, settings)
        run = _run_row(folder, trigger, "dry_run")
        summary = _summary(folder, run, settings.db_path)
        summary.audit = audit.to_dict()
        return summary
    finally:
        if history is not None:
            history.close()
        shutil.rmtree(folder, ignore_errors=True)


def audit_and_publish(
    folder: Path, settings: Settings, writer: Callable[[], Store], trigger: str
) -> RunSummary:
    """Audit a staged run, write its report if asked, then publish it, or hold it when the audit failed.

    `writer` opens the database for writing (the run's own open store, or a fresh one): only once the audit
    and the report are done, so the file is write-locked just while the load commits."""
    release_memory()  # the stages' run state is garbage now: give it back before DuckDB's load takes memory
    audit = audit_run(folder, settings)
    docs = write_docs(folder, settings, audit)
    try:
        opened = writer()
    except SetupError as exc:  # locked past the wait: the run's work is staged whole, and can be published
        run_id = read_ledger(folder)["run_id"]
        raise SetupError(
            f"{exc}; the run is staged whole in {folder}: publish it with "
            f"python -m pipeline release {run_id} --db {settings.db_path}"
        ) from exc
    with opened as store:
        summary = (
            hold_run(folder, store, trigger, audit)
            if not audit.passed
            else publish_run(folder, store, trigger)
        )
    summary.data_docs = str(docs) if docs else None
    return summary


@contextmanager
def _failures_recorded(
    writer: Callable[[], Store], run_id: str, trigger: str, sources: list[str], staging: Path
):
    """A bug, a storage fault or a signal, not bad input, stopped the run: tidy its staging, leave a trace in the
    ledger, then raise (a signal as `Interrupted`, with the run's id and whether its staging was kept).

    Staging is kept only when it is whole (its manifest was written) and not published: `release` can then
    publish it; an unfinished folder is removed, so no debris stays behind.
    """
    started_at = utcnow()
    try:
        yield
    except KeyboardInterrupt as exc:
        kept = _tidy_staging(staging)
        name = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
        _record_failure(writer, run_id, trigger, started_at, sources, "interrupted", f"stopped by {name}")
        raise Interrupted(name, run_id, staging if kept else None) from None
    except Exception as exc:
        _tidy_staging(staging)
        _record_failure(
            writer, run_id, trigger, started_at, sources, "failed", f"{type(exc).__name__}: {exc}"
        )
        raise


def _tidy_staging(folder: Path) -> bool:
    """Remove a run's unfinished staging (and partitions); True when it is whole and kept for `release`."""
    if (folder / MANIFEST_FILE).is_file():
        return True
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(folder.with_name(folder.name + PARTS_SUFFIX), ignore_errors=True)
    return False


def _record_failure(
    writer: Callable[[], Store],
    run_id: str,
    trigger: str,
    started_at: datetime,
    sources: list[str],
    status: str,
    error: str,
) -> None:
    """The run's ledger row for a run that did not finish, unless a load already published it; never raises (the
    error that stopped the run, a full disk or a damaged file, may stop this too: that one is reported)."""
    try:
        with writer() as store:
            recorded = store.run_summary(run_id)
            if recorded is not None and recorded["status"] in ("success", "released"):
                return
            store.record_run(
                {
                    "run_id": run_id,
                    "trigger": trigger,
                    "started_at": started_at,
                    "ended_at": utcnow(),
                    "status": status,
                    "sources": sources,
                    "error": error[:2000],
                }
            )
    except Exception as exc:
        log.info("could not record run %s as %s: %s", run_id, status, str(exc).splitlines()[0])


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
    with (
        run_lock(settings.db_path, settings.lock_timeout_s),
        Store(settings.db_path, lock_timeout_s=settings.lock_timeout_s) as store,
    ):
        uris = store.history.raw_source_uris(quarantined_only=quarantined_only, run_id=run_filter)
        if not uris:
            what = (
                "quarantined inputs with stored raw documents" if quarantined_only else "stored raw documents"
            )
            raise SetupError(f"nothing to reprocess: no {what} in {settings.db_path}")
        plan = Plan(
            sources=[f"reprocess:{'quarantined' if quarantined_only else 'all'}"], inputs=uris, ignored=[]
        )
        same = lambda: nullcontext(store)  # noqa: E731  (reprocess reads raw rows as it goes: one connection)
        with _failures_recorded(same, run_id, "reprocess", plan.sources, settings.run_folder(run_id)):
            stored = raw_articles(store.history.raw_rows(uris))
            folder = process_run(plan, settings, run_id, store.history, progress, stored=stored)
            return audit_and_publish(folder, settings, same, "reprocess")
