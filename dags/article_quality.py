"""
### article_quality

Runs whenever `article_ingest` updates the `articles` asset (a load published a run). It validates the articles
landed that day again with the Great Expectations suite and writes the report (Data Docs) to
`quality/daily/docs/index.html` beside the database, and a summary of the day (runs, articles per source,
duplicates by method, quarantine reasons) to `quality/daily/summary-<day>.md` and `.json`.

It only reads the database. Trigger it by hand with a `day` to report another day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from _article_pipeline import ARTICLES, DEFAULT_DB, OWNER, WRITER, require_pipeline
from airflow.sdk import Param, dag, task


@dag(
    dag_id="article_quality",
    schedule=[ARTICLES],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["articles", "quality", "duckdb"],
    doc_md=__doc__,
    default_args={
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(minutes=30),
    },
    params={
        "db": Param(
            None,
            type=["null", "string"],
            title="Database",
            description="DuckDB file to report on; empty: the one the triggering load wrote, else "
            f"{DEFAULT_DB}. Relative paths are taken from the project folder.",
        ),
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day",
            description="The day (UTC, YYYY-MM-DD) to report; empty for today.",
        ),
    },
)
def article_quality():
    @task(**WRITER)
    def report(params=None, triggering_asset_events=None) -> dict:
        """Validate the day's articles, write Data Docs and the day's summary; small counts out."""
        require_pipeline()
        from pipeline.airflow_tasks import quality_task

        db = params.get("db")
        if not db and triggering_asset_events:
            events = [e for evs in triggering_asset_events.values() for e in evs]
            db = next((e.extra.get("db") for e in reversed(events) if e.extra.get("db")), None)
        return quality_task(db or DEFAULT_DB, params.get("day"))

    report()


article_quality()
