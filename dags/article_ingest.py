"""
### article_ingest

Reads news articles from the configured sources (files and folders: `.txt` with the headline on the first line,
`.html`/`.htm` through trafilatura, JSON/JSONL records and feed files; feed and article URLs, fetched politely
and safely, with conditional GET), strips boilerplate, dedupes against the run and everything landed before,
validates each row with the Great Expectations suite in `expectations/`, and loads the result into DuckDB.

Runs daily over the sources file (`sources.toml` in the project) by default. **Trigger with config** to choose
other sources, another sources file, or the database.

Tasks: `plan` checks the setup and counts inputs; `process` runs the stages and writes the run's Parquet hand-off
files (it only reads the database); `audit` checks the run's batch-level expectations
(`expectations/run_audit.json`: shares of quarantined and duplicate inputs); `load` publishes the run in one
transaction, the only task that writes. A run that fails its audit publishes nothing: `load` records it as
`audit_failed` and fails without retrying; the run waits in staging for `python -m pipeline release RUN_ID`.
Every input ends landed, as a recorded duplicate, quarantined with a reason, or skipped as unchanged: see the
`runs`, `article_duplicates` and `quarantine` tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import Param, dag, task

DEFAULT_SOURCES_FILE = "sources.toml"
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
            [],
            type="array",
            items={"type": "string"},
            title="Sources",
            description="Files, folders or feed/page URLs to ingest, one per line, besides the sources file's. "
            "Relative paths are taken from the project folder.",
        ),
        "sources_file": Param(
            DEFAULT_SOURCES_FILE,
            type=["string", "null"],
            title="Sources file",
            description="A TOML or plain-text list of sources (see sources.toml); empty for none.",
        ),
        "allow_private_network": Param(
            False,
            type="boolean",
            title="Allow private network",
            description="Let URLs reach loopback and private addresses (local test servers). Off for real feeds.",
        ),
        "data_docs": Param(
            True,
            type="boolean",
            title="Write the quality report",
            description="Write the run's validation report (Great Expectations Data Docs: each chunk's "
            "row-level results and the audit) as HTML to quality/index.html beside the database.",
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
                params["sources"],
                params["db"],
                run_id,
                _trigger(getattr(dag_run, "run_type", None)),
                sources_file=params.get("sources_file") or None,
                allow_private_network=bool(params.get("allow_private_network")),
                data_docs=bool(params.get("data_docs")),
            )
        except SetupError as exc:  # retrying cannot fix bad setup: fail now, with the fix in the message
            raise AirflowFailException(str(exc)) from exc

    @task
    def process(planned: dict) -> dict:
        """Run the stages over every input and stage the results as Parquet; reads the database only."""
        from pipeline.airflow_tasks import process_task

        return process_task(planned)

    @task
    def audit(staged: dict) -> dict:
        """Check the staged run's batch-level expectations; reads staging only."""
        from pipeline.airflow_tasks import audit_task

        return audit_task(staged)

    @task
    def load(audited: dict) -> dict:
        """Publish the audited run into DuckDB in one transaction and record the run's ledger row."""
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.airflow_tasks import load_task
        from pipeline.errors import AuditFailed

        try:
            return load_task(audited)
        except AuditFailed as exc:  # the same inputs fail the same audit: no retry
            raise AirflowFailException(str(exc)) from exc

    load(audit(process(plan())))


article_ingest()
