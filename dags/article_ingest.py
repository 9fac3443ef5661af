"""
### article_ingest

Reads news articles from the configured sources (files and folders: `.txt` with the headline on the first line,
`.html`/`.htm` through trafilatura), strips boilerplate, dedupes against the run and everything landed before,
validates each row with the Great Expectations suite in `expectations/`, and loads the result into DuckDB.

Runs daily over the seeds by default. **Trigger with config** to choose the sources and the database.

Tasks: `plan` checks the setup and counts inputs; `process` runs the stages and writes the run's Parquet hand-off
files (it only reads the database); `load` publishes them in one transaction, the only task that writes.
Every input ends landed, as a recorded duplicate, quarantined with a reason, or skipped as unchanged: see the
`runs`, `article_duplicates` and `quarantine` tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

DEFAULT_SOURCES = ["seeds"]
DEFAULT_DB = "data/articles.duckdb"


def _trigger(run_type) -> str:
    """The runs table's trigger: `scheduled` for the daily runs, `manual` for everything started by hand."""
    return "scheduled" if str(run_type).lower().endswith("scheduled") else "manual"


@dag(
    dag_id="article_ingest",
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # one writer per database file
    tags=["articles", "ingest", "duckdb"],
    doc_md=__doc__,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": True},
    params={
        "sources": Param(
            DEFAULT_SOURCES,
            type="array",
            items={"type": "string"},
            minItems=1,
            title="Sources",
            description="Files or folders to ingest, one per line. Relative paths are taken from the project folder.",
        ),
        "db": Param(
            DEFAULT_DB,
            type="string",
            minLength=1,
            title="Database",
            description="DuckDB file to load into. Relative paths are taken from the project folder.",
        ),
    },
)
def article_ingest():
    @task
    def plan(params=None, run_id=None, dag_run=None) -> dict:
        """Check the setup (sources exist, suite present) and name the run; fails fast on bad setup."""
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.airflow_tasks import plan_task
        from pipeline.errors import SetupError

        try:
            return plan_task(
                params["sources"], params["db"], run_id, _trigger(getattr(dag_run, "run_type", None))
            )
        except SetupError as exc:  # retrying cannot fix bad setup: fail now, with the fix in the message
            raise AirflowFailException(str(exc)) from exc

    @task
    def process(planned: dict) -> dict:
        """Run the stages over every input and stage the results as Parquet; reads the database only."""
        from pipeline.airflow_tasks import process_task

        return process_task(planned)

    @task
    def load(staged: dict) -> dict:
        """Publish the staged run into DuckDB in one transaction and record the run's ledger row."""
        from pipeline.airflow_tasks import load_task

        return load_task(staged)

    load(process(plan()))


article_ingest()
