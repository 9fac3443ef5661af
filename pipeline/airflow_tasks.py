"""The functions the Airflow DAG's tasks call: small dicts in and out (they travel through XCom).

Nothing here imports Airflow; the DAG file only wires these together.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from pipeline.cli_output import format_summary
from pipeline.errors import AuditFailed, SetupError
from pipeline.quality.audit import audit_run
from pipeline.read.sources_file import is_url
from pipeline.run.assemble import plan_run
from pipeline.run.partitions import merge_partitions, partitions_root, process_partition
from pipeline.run.runner import PARTS_SUFFIX, hold_run, publish_run, write_docs
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import Store, remote
from pipeline.store.staging import sweep_debris

log = logging.getLogger(__name__)
# A load waits longer than the reading tasks (Settings.lock_timeout_s): DuckDB's file lock is what keeps one
# writer per database (no Airflow pool to set up), so one DAG's load waits here for another's (or a CLI run's)
# to commit. PIPELINE_LOCK_TIMEOUT_S, when set, is taken for both.
WRITER_WAIT_S = 600.0


def _writer_wait(settings: Settings) -> float:
    return settings.lock_timeout_s if "PIPELINE_LOCK_TIMEOUT_S" in os.environ else WRITER_WAIT_S


def _project_path(path: str) -> Path:
    """Relative paths in DAG params are relative to the project, whatever the worker's working directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


def _settings(
    db: str, allow_private_network: bool | None = None, data_docs_dir: str | None = None
) -> Settings:
    return Settings.from_env(
        db_path=_project_path(db),
        allow_private_network=allow_private_network or None,
        data_docs_dir=Path(data_docs_dir) if data_docs_dir else None,
    )


@contextmanager
def _history(settings: Settings):
    """The database read-only (None before the first run), for the steps before the load."""
    history = Store.for_reading(settings.db_path, settings.lock_timeout_s)
    try:
        yield history.history if history is not None else None
    finally:
        if history is not None:
            history.close()


def plan_task(
    sources: list[str],
    db: str,
    run_id: str,
    trigger: str,
    sources_file: str | None = None,
    allow_private_network: bool = False,
    data_docs: bool = False,
    since: str | None = None,
    max_items: int | None = None,
    dry_run: bool = False,
) -> dict:
    """Check the setup and list the run's sources, one partition each (the extract step maps over them)."""
    resolved = [s if is_url(s) else str(_project_path(s)) for s in sources]
    sources_path = str(_project_path(sources_file)) if sources_file else None
    settings = _settings(db, allow_private_network)
    plan = plan_run(resolved, settings, Path(sources_path) if sources_path else None)
    sweep_debris(settings.staging_root)  # what runs killed outright left (not this run's: it has none yet)
    if since:
        try:
            datetime.fromisoformat(since)
        except ValueError as exc:
            raise SetupError(f"since must be a date like 2026-11-01, not {since!r}") from exc
    if max_items is not None and max_items < 1:
        raise SetupError(f"max items per source must be at least 1, not {max_items}")
    return {
        "run_id": run_id,
        "sources": plan.sources,
        "names": plan.names,
        "sources_file": sources_path,
        "allow_private_network": settings.allow_private_network,
        "db": str(settings.db_path),
        "data_docs_dir": str(settings.db_path.parent / "quality") if data_docs else None,
        "trigger": trigger,
        "since": since or None,
        "max_items": max_items,
        "dry_run": bool(dry_run),
        "inputs": len(plan.inputs),
        "parts_url": _parts_url(settings, run_id),
        "ignored_files": len(plan.ignored),
    }


def partitions_task(planned: dict) -> list[dict]:
    """One small dict per source, for the extract step to map over; `label` names its task in the UI."""
    names = planned.get("names") or {}
    return [
        {"index": i, "source": source, "label": source_label(source, names.get(source))}
        for i, source in enumerate(planned["sources"])
    ]


def source_label(source: str, name: str | None = None) -> str:
    """A short name for a source: its name in the sources file, a URL's host and path, a path's last parts."""
    if name:
        return name[:100]
    if is_url(source):
        from urllib.parse import urlsplit

        parts = urlsplit(source)
        return (parts.netloc + parts.path.rstrip("/"))[:100]
    path = Path(source)
    return "/".join(path.parts[-2:])[-100:] if path.parts else source[:100]


def extract_task(planned: dict, partition: dict) -> dict:
    """Mapped, one per source: read, extract, clean and enrich into the source's partition (reads the DB only).

    With `PIPELINE_STAGING_URL` the partition is staged in a scratch folder and uploaded there, for a worker
    that shares no folder with the database's (the DB is then read only if this machine has it)."""
    settings = _settings(planned["db"], planned.get("allow_private_network"), planned.get("data_docs_dir"))
    if settings.staging_url:
        with tempfile.TemporaryDirectory(prefix="article-partition-") as scratch:
            done = _extract(planned, partition, replace(settings, staging_dir=Path(scratch)))
            url = remote.join(planned["parts_url"], Path(done["folder"]).name)
            remote.upload(Path(done["folder"]), url)
        return {**done, "folder": url}
    return _extract(planned, partition, settings)


def _parts_url(settings: Settings, run_id: str) -> str | None:
    """Where a run's partitions go on object storage: chosen once, by `plan`, and passed on. Unique per run
    (two deployments or databases sharing one staging URL have runs of the same id: `scheduled__<date>`)."""
    if not settings.staging_url:
        return None
    name = settings.run_folder(run_id, f"-{secrets.token_hex(4)}{PARTS_SUFFIX}").name
    return remote.join(settings.staging_url, name)


def _extract(planned: dict, partition: dict, settings: Settings) -> dict:
    since = datetime.fromisoformat(planned["since"]) if planned.get("since") else None
    if since is not None and since.tzinfo is not None:
        since = since.astimezone(UTC).replace(tzinfo=None)
    with _history(settings) as history:
        return process_partition(
            partition["source"],
            partition["index"],
            settings,
            planned["run_id"],
            history,
            names=planned.get("names"),
            since=since,
            max_items=planned.get("max_items"),
        )


def dedupe_task(planned: dict, parts: list[dict]) -> dict:
    """All partitions, in source order, through validate, dedupe and stories into the run's staging folder."""
    settings = _settings(planned["db"], planned.get("allow_private_network"), planned.get("data_docs_dir"))
    folders = []
    for part in parts:  # partitions on object storage come to this machine's staging first
        if "://" in part["folder"]:
            local = (
                partitions_root(settings, planned["run_id"]) / part["folder"].rstrip("/").rsplit("/", 1)[-1]
            )
            remote.download(part["folder"], local)
            folders.append(local)
        else:
            folders.append(Path(part["folder"]))
    with _history(settings) as history:
        folder = merge_partitions(folders, settings, planned["run_id"], history, planned["sources"])
    return {**planned, "staging": str(folder)}


def audit_task(staged: dict) -> dict:
    """The batch-level expectations on the staged run (reads staging only); their verdict goes to `load`."""
    settings = _settings(staged["db"], staged.get("allow_private_network"), staged.get("data_docs_dir"))
    folder = Path(staged["staging"])
    audit = audit_run(folder, settings)
    docs = write_docs(folder, settings, audit)
    return {
        **staged,
        "audit_passed": audit.passed,
        "audit_failed": [f["name"] for f in audit.failed],
        "data_docs": str(docs) if docs else None,
    }


def load_task(staged: dict) -> dict:
    """Publish an audited run; a run that failed its audit is recorded as such and `AuditFailed` raised."""
    settings = Settings.from_env(db_path=Path(staged["db"]))
    folder = Path(staged["staging"])
    try:
        return _load(staged, settings, folder)
    finally:  # published, held (its staging is whole on this machine) or a dry run: the partitions are done
        if staged.get("parts_url"):
            remote.remove(staged["parts_url"])


def _load(staged: dict, settings: Settings, folder: Path) -> dict:
    from pipeline.quality.audit import Audit

    with Store(settings.db_path, lock_timeout_s=_writer_wait(settings)) as store:
        if not folder.exists():  # a retry after a publish that succeeded: report what was published
            recorded = store.run_summary(staged["run_id"])
            if recorded is None:
                raise FileNotFoundError(
                    f"staging folder {folder} is gone and run {staged['run_id']} was never loaded"
                )
            return recorded
        if staged.get("dry_run"):  # everything but the publish: drop what was staged, report the counts
            summary = _dry_run_summary(folder)
            shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(folder.with_name(folder.name + PARTS_SUFFIX), ignore_errors=True)
            return summary
        if not staged.get("audit_passed", True):
            audit = Audit(**{k: v for k, v in _audit_file(folder).items() if k != "result"})
            summary = hold_run(folder, store, staged["trigger"], audit)
            raise AuditFailed(summary.run_id, audit.failed, folder, settings.db_path)
        summary = publish_run(folder, store, staged["trigger"])
    log.info("%s", format_summary(summary))  # what the CLI prints, in the task's log
    result = summary.to_dict()
    result.pop("stages")  # the full counters are in the runs table; keep XCom small
    return result


def _dry_run_summary(folder: Path) -> dict:
    from pipeline.store.staging import read_ledger

    ledger = read_ledger(folder)
    return {"run_id": ledger["run_id"], "status": "dry_run", **ledger["tally"]}


def _audit_file(folder: Path) -> dict:
    import json

    from pipeline.quality.audit import AUDIT_FILE

    return json.loads((folder / AUDIT_FILE).read_text())


def quality_task(db: str, day: str | None = None) -> dict:
    """article_quality's report: the day's articles validated again, Data Docs and a summary beside the DB."""
    from pipeline.quality.daily import daily_report

    path = _project_path(db)
    summary = daily_report(path, path.parent / "quality" / "daily", day)
    return {
        k: summary.get(k)
        for k in ("day", "articles", "docs", "summary_file", "expectations_failed")
        if summary.get(k) is not None
    }


def stream_task(inbox: str, db: str, sources_file: str | None = None, wait_s: float = 30.0) -> dict:
    """article_stream's micro-batch: the inbox's ready files and the sources file's due feeds, as one run."""
    from pipeline.read.sources_file import read_sources_file
    from pipeline.run.stream import micro_batch

    settings = Settings.from_env(db_path=_project_path(db))
    settings = replace(settings, lock_timeout_s=_writer_wait(settings))
    feeds = []
    if sources_file:
        feeds = [s.location for s in read_sources_file(_project_path(sources_file)) if is_url(s.location)]
    return {
        **micro_batch(_project_path(inbox), settings, feeds=feeds, wait_s=wait_s),
        "db": str(settings.db_path),
    }
