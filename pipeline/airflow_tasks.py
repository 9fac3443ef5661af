"""The functions the Airflow DAG's tasks call: small dicts in and out (they travel through XCom).

Nothing here imports Airflow; the DAG file only wires these together.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.audit import audit_run
from pipeline.errors import AuditFailed
from pipeline.runner import hold_run, plan_run, process_run, publish_run, safe_run_id, write_docs
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import Store
from pipeline.web import is_url

# Tasks of other runs may hold the database for a while; wait this long unless a setting says otherwise.
DEFAULT_LOCK_TIMEOUT_S = 60.0


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


def plan_task(
    sources: list[str],
    db: str,
    run_id: str,
    trigger: str,
    sources_file: str | None = None,
    allow_private_network: bool = False,
    data_docs: bool = False,
) -> dict:
    resolved = [s if is_url(s) else str(_project_path(s)) for s in sources]
    sources_path = str(_project_path(sources_file)) if sources_file else None
    settings = _settings(db, allow_private_network)
    plan = plan_run(resolved, settings, Path(sources_path) if sources_path else None)
    return {
        "run_id": safe_run_id(run_id),
        "sources": resolved,
        "sources_file": sources_path,
        "allow_private_network": settings.allow_private_network,
        "db": str(settings.db_path),
        "data_docs_dir": str(settings.db_path.parent / "quality") if data_docs else None,
        "trigger": trigger,
        "inputs": len(plan.inputs),
        "ignored_files": len(plan.ignored),
    }


def process_task(planned: dict) -> dict:
    # The inputs are listed again rather than passed through XCom, which should carry small references only.
    settings = _settings(planned["db"], planned.get("allow_private_network"), planned.get("data_docs_dir"))
    sources_file = planned.get("sources_file")
    plan = plan_run(planned["sources"], settings, Path(sources_file) if sources_file else None)
    history = Store.for_reading(settings.db_path, settings.lock_timeout_s or DEFAULT_LOCK_TIMEOUT_S)
    try:
        folder = process_run(plan, settings, planned["run_id"], history)
    finally:
        if history is not None:
            history.close()
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
    from pipeline.audit import Audit

    settings = Settings.from_env(db_path=Path(staged["db"]))
    folder = Path(staged["staging"])
    with Store(settings.db_path, lock_timeout_s=settings.lock_timeout_s or DEFAULT_LOCK_TIMEOUT_S) as store:
        if not folder.exists():  # a retry after a publish that succeeded: report what was published
            recorded = store.run_summary(staged["run_id"])
            if recorded is None:
                raise FileNotFoundError(
                    f"staging folder {folder} is gone and run {staged['run_id']} was never loaded"
                )
            return recorded
        if not staged.get("audit_passed", True):
            audit = Audit(**{k: v for k, v in _audit_file(folder).items() if k != "result"})
            summary = hold_run(folder, store, staged["trigger"], audit)
            raise AuditFailed(
                f"run {summary.run_id} failed its audit, nothing was published: {audit.message()}. "
                f"It waits in {folder}; publish it with: python -m pipeline release {summary.run_id} "
                f"--db {settings.db_path}"
            )
        summary = publish_run(folder, store, staged["trigger"])
    result = summary.to_dict()
    result.pop("stages")  # the full counters are in the runs table; keep XCom small
    return result


def _audit_file(folder: Path) -> dict:
    import json

    from pipeline.audit import AUDIT_FILE

    return json.loads((folder / AUDIT_FILE).read_text())
