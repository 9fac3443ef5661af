"""
### article_stream

Ingests continuously in micro-batches: one run at a time, each starting as the last one ends. A batch waits up to
30 s for files dropped into the inbox folder (`data/inbox/` by default) and for configured feeds that are due
(not fetched for 15 minutes), ingests them as one run (the same stages, audit and load as `article_ingest`),
and then moves each inbox file aside: to `done/<day>/` once its article is landed, recorded as a duplicate or
quarantined, or to `held/<run_id>/` when the batch failed its audit and waits for `python -m pipeline release`.

A file dropped into the inbox is queryable within a minute. A batch that landed articles updates the
`articles` asset (`article_quality` runs on it); an empty or all-duplicate batch does not. The DAG starts
paused: unpause it to stream.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from _article_pipeline import ARTICLES, DEFAULT_DB, DEFAULT_INBOX, OWNER, PUBLISHED, WRITER, require_pipeline
from airflow.sdk import Param, dag, task


@dag(
    dag_id="article_stream",
    schedule="@continuous",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,  # required by @continuous, and one writer per database file
    is_paused_upon_creation=True,
    tags=["articles", "ingest", "streaming", "duckdb"],
    doc_md=__doc__,
    default_args={
        "owner": OWNER,
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "execution_timeout": timedelta(minutes=30),
    },
    params={
        "inbox": Param(
            DEFAULT_INBOX,
            type="string",
            minLength=1,
            title="Inbox folder",
            description="Files dropped here are ingested; relative to the project folder.",
        ),
        "db": Param(DEFAULT_DB, type="string", minLength=1, title="Database", description="DuckDB file."),
        "sources_file": Param(
            None,
            type=["null", "string"],
            title="Sources file",
            description="Its feed URLs are polled too, each at most every 15 minutes; empty for the inbox only.",
        ),
        "wait_seconds": Param(
            30,
            type="integer",
            minimum=1,
            maximum=600,
            title="Wait for work",
            description="How long a batch waits for files or due feeds before ending empty.",
        ),
    },
)
def article_stream():
    @task(outlets=[PUBLISHED], **WRITER)
    def micro_batch(params=None, outlet_events=None) -> dict:
        """Wait for inbox files or due feeds, ingest them as one run, then move the files aside."""
        require_pipeline()
        from pipeline.airflow_tasks import stream_task

        summary = stream_task(
            params["inbox"], params["db"], params.get("sources_file"), params["wait_seconds"]
        )
        if outlet_events is not None and summary.get("published"):  # empty, all duplicates or held: no event
            outlet_events[PUBLISHED].add(ARTICLES, extra={"db": summary["db"], "run_id": summary["run_id"],
                                                          "landed": summary["published"]})  # fmt: skip
        return summary

    micro_batch()


article_stream()
