"""
### article_ingest

Reads news articles from the configured sources (files and folders: `.txt` with the headline on the first line,
`.html`/`.htm` through trafilatura, JSON/JSONL records and feed files; feed and article URLs, fetched politely
and safely, with conditional GET), strips boilerplate, dedupes against the run and everything landed before,
validates each row with the Great Expectations suite in `expectations/`, and loads the result into DuckDB.

Runs daily over the sources file (`sources.toml` in the project) by default. **Trigger with config** to choose
other sources (a run given sources reads only those, unless you also name a sources file), another sources file,
the database, a `since` date, a cap on items per source, or a dry run.

Tasks:
- `plan` checks the setup and lists the sources;
- `extract` is mapped, one task per source: read (raw bytes kept), extract, clean, enrich into the source's
  Parquet partition; it reads the database only;
- `dedupe` takes every partition, in source order, through validation, dedupe and story grouping into the run's
  staging folder;
- `audit` checks the run's batch-level expectations (`expectations/run_audit.json`) and writes the quality report;
- `load` publishes the run in one transaction: the only task that writes DuckDB (DuckDB's file lock keeps it
  single: a load waits for another process's write to end; nothing to set up); when the run landed articles it
  updates the `articles` asset, which `article_quality` is scheduled on.

A run that fails its audit publishes nothing: `load` records it as `audit_failed` and fails without retrying; the
run waits in staging for `python -m pipeline release RUN_ID`. XCom carries paths and counts, never article text.
Every input ends landed, as a recorded duplicate, quarantined with a reason, or skipped as unchanged.
"""

from __future__ import annotations

from datetime import timedelta

from _article_pipeline import (
    ARTICLES,
    DEFAULT_DB,
    DEFAULT_SOURCES_FILE,
    OWNER,
    PUBLISHED,
    WRITER,
    require_pipeline,
)
from airflow.sdk import CronTriggerTimetable, Param, dag, task


def _trigger(run_type) -> str:
    """The runs table's trigger: `scheduled` for the daily runs, `manual` for everything started by hand."""
    return "scheduled" if str(run_type).lower().endswith("scheduled") else "manual"


@dag(
    dag_id="article_ingest",
    # Midnight UTC, and no start date: unpausing the DAG (the UI's "Unpause on trigger" too) waits for the next
    # midnight instead of starting today's run at once, with the default params, before the one triggered.
    # run_immediately=False is not that in Airflow 3.3: it still runs the past midnight when unpaused within a
    # tenth of a day after it (before 02:24); a zero buffer never does.
    schedule=CronTriggerTimetable("0 0 * * *", timezone="UTC", run_immediately=timedelta(0)),
    catchup=False,
    max_active_runs=1,  # one writer per database file
    tags=["articles", "ingest", "duckdb"],
    doc_md=__doc__,
    default_args={
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=2),
    },
    params={
        "sources": Param(
            [],
            type=["array", "null"],
            items={"type": "string"},
            title="Sources",
            description="Files, folders or URLs to ingest, one per line: articles, JSON/JSONL, feeds, web "
            "archives (.warc, .warc.gz), feed, page or sitemap URLs, or a site's homepage (read through the "
            "sitemaps its robots.txt lists). Relative paths are taken from the project folder. Empty: the "
            f"sources file's ({DEFAULT_SOURCES_FILE} unless named below).",
        ),
        "sources_file": Param(
            None,
            type=["string", "null"],
            title="Sources file",
            description="A TOML or plain-text list of sources (see sources.toml), read besides the Sources "
            f"above. Empty: {DEFAULT_SOURCES_FILE} when no Sources are given, else none.",
        ),
        "db": Param(
            DEFAULT_DB,
            type="string",
            minLength=1,
            title="Database",
            description="DuckDB file to load into. Relative paths are taken from the project folder.",
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Since",
            description="Only articles published on or after this date (YYYY-MM-DD); older ones are skipped. "
            "Empty for no limit. Articles without a date are kept.",
        ),
        "max_items_per_source": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Max items per source",
            description="Read at most this many documents from each source (a folder's files, a feed's "
            "entries); the rest are not read this run. Empty for no limit.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Do everything but publish: the summary shows what would land; the database is not "
            "changed and the staged files are removed.",
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
    },
)
def article_ingest():
    @task(execution_timeout=timedelta(minutes=10), **WRITER)
    def plan(params=None, run_id=None, dag_run=None) -> dict:
        """Check the setup (project installed, sources exist, suite present, database folder writable), list
        the sources; fails fast on bad setup."""
        from airflow.sdk.exceptions import AirflowFailException

        require_pipeline()
        from pipeline.airflow_tasks import plan_task
        from pipeline.errors import SetupError

        try:
            sources = params.get("sources") or []
            return plan_task(
                sources,
                params["db"],
                run_id,
                _trigger(getattr(dag_run, "run_type", None)),
                sources_file=params.get("sources_file") or (None if sources else DEFAULT_SOURCES_FILE),
                allow_private_network=bool(params.get("allow_private_network")),
                data_docs=bool(params.get("data_docs")),
                since=params.get("since") or None,
                max_items=params.get("max_items_per_source"),
                dry_run=bool(params.get("dry_run")),
            )
        except SetupError as exc:  # retrying cannot fix bad setup: fail now, with the fix in the message
            raise AirflowFailException(str(exc)) from exc

    @task(execution_timeout=timedelta(minutes=5))
    def partitions(planned: dict) -> list[dict]:
        """One small dict per source for `extract` to map over."""
        from pipeline.airflow_tasks import partitions_task

        return partitions_task(planned)

    # Each mapped task is named in the UI by its source (`label`: a file name or a URL's host and path).
    @task(max_active_tis_per_dagrun=4, map_index_template="{{ source_label }}")
    def extract(planned: dict, partition: dict) -> dict:
        """One source: read, extract, clean, enrich into its Parquet partition; reads the database only."""
        from airflow.sdk import get_current_context

        from pipeline.airflow_tasks import extract_task

        get_current_context()["source_label"] = partition.get("label") or str(partition["index"])
        return extract_task(planned, partition)

    @task(**WRITER)
    def dedupe(planned: dict, parts: list[dict]) -> dict:
        """Every partition, in source order: validate, dedupe, group into stories; stage the run."""
        from pipeline.airflow_tasks import dedupe_task

        return dedupe_task(planned, list(parts))

    @task(execution_timeout=timedelta(minutes=30), **WRITER)
    def audit(staged: dict) -> dict:
        """Check the staged run's batch-level expectations and write the quality report; reads staging only."""
        from pipeline.airflow_tasks import audit_task

        return audit_task(staged)

    @task(outlets=[PUBLISHED], **WRITER)
    def load(audited: dict, outlet_events=None) -> dict:
        """Publish the audited run into DuckDB in one transaction and record the run's ledger row."""
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.airflow_tasks import load_task
        from pipeline.errors import AuditFailed

        try:
            summary = load_task(audited)
        except AuditFailed as exc:  # the same inputs fail the same audit: no retry
            raise AirflowFailException(str(exc)) from exc
        published = summary.get("status") in ("success", "released") and summary.get("landed")
        if outlet_events is not None and published:  # nothing new (or a dry run): no asset event
            outlet_events[PUBLISHED].add(ARTICLES, extra={"db": audited["db"], "run_id": summary["run_id"],
                                                          "landed": summary["landed"]})  # fmt: skip
        return summary

    planned = plan()
    parts = extract.partial(planned=planned).expand(partition=partitions(planned))
    load(audit(dedupe(planned, parts)))


article_ingest()
