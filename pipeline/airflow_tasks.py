"""The functions the Airflow DAG's tasks call: small dicts in and out (they travel through XCom).

Nothing here imports Airflow; the DAG file only wires these together.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.runner import plan_run, process_run, publish_run, safe_run_id
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.store import Store
from pipeline.web import is_url

# Tasks of other runs may hold the database for a while; wait this long unless a setting says otherwise.
DEFAULT_LOCK_TIMEOUT_S = 60.0


def _project_path(path: str) -> Path:
    """Relative paths in DAG params are relative to the project, whatever the worker's working directory."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


def _settings(db: str, allow_private_network: bool | None = None) -> Settings:
    return Settings.from_env(db_path=_project_path(db), allow_private_network=allow_private_network or None)


def plan_task(
    sources: list[str],
    db: str,
    run_id: str,
    trigger: str,
    sources_file: str | None = None,
    allow_private_network: bool = False,
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
        "trigger": trigger,
        "inputs": len(plan.inputs),
        "ignored_files": len(plan.ignored),
    }


def process_task(planned: dict) -> dict:
    # The inputs are listed again rather than passed through XCom, which should carry small references only.
    settings = _settings(planned["db"], planned.get("allow_private_network"))
    sources_file = planned.get("sources_file")
    plan = plan_run(planned["sources"], settings, Path(sources_file) if sources_file else None)
    history = Store.for_reading(settings.db_path, settings.lock_timeout_s or DEFAULT_LOCK_TIMEOUT_S)
    try:
        folder = process_run(plan, settings, planned["run_id"], history)
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
