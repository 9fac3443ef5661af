"""The functions the Airflow DAG's tasks call: small dicts in and out (they travel through XCom).

Nothing here imports Airflow; the DAG file only wires these together.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.runner import plan_run, process_run, publish_run, run_meta, safe_run_id
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import Store

# Tasks of other runs may hold the database for a while; wait this long unless a setting says otherwise.
DEFAULT_LOCK_TIMEOUT_S = 60.0


def _project_path(path: str) -> Path:
    """Relative paths in DAG params are relative to the project, whatever the worker's working directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


def plan_task(sources: list[str], db: str, run_id: str, trigger: str) -> dict:
    resolved = [str(_project_path(s)) for s in sources]
    settings = Settings.from_env(db_path=_project_path(db))
    files, ignored = plan_run(resolved, settings)
    return {
        "run_id": safe_run_id(run_id),
        "sources": resolved,
        "db": str(settings.db_path),
        "trigger": trigger,
        "inputs": len(files),
        "ignored_files": len(ignored),
    }


def process_task(planned: dict) -> dict:
    # The files are listed again rather than passed through XCom, which should carry small references only.
    settings = Settings.from_env(db_path=Path(planned["db"]))
    files, ignored = plan_run(planned["sources"], settings)
    history = Store.for_reading(settings.db_path, settings.lock_timeout_s or DEFAULT_LOCK_TIMEOUT_S)
    try:
        folder = process_run(
            files, settings, planned["run_id"], history, run_meta(planned["sources"], ignored)
        )
    finally:
        if history is not None:
            history.close()
    return {**planned, "staging": str(folder)}


def load_task(staged: dict) -> dict:
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
        summary = publish_run(folder, store, staged["trigger"])
    result = summary.to_dict()
    result.pop("stages")  # the full counters are in the runs table; keep XCom small
    return result
