"""What the project's DAG files share: the articles asset and its alias, the default database.

Not a DAG file (`.airflowignore` keeps the DAG processor from parsing it); the DAG files import it, since
Airflow puts the DAGs folder on the import path.
"""

from __future__ import annotations

import os
import sys

from airflow.sdk import Asset, AssetAlias

DEFAULT_DB = "data/articles.duckdb"
DEFAULT_SOURCES_FILE = "sources.toml"
DEFAULT_INBOX = "data/inbox"
# The articles table as an Airflow asset: article_ingest and article_stream update it, article_quality runs on it.
ARTICLES = Asset(name="articles", uri="duckdb://localhost/articles")
# The loading tasks name this alias as their outlet and add an ARTICLES event through it only when their run
# published something: an empty micro-batch triggers nothing downstream.
PUBLISHED = AssetAlias("articles-published")
OWNER = "article-pipeline"
# On a cluster, the steps that use the database (plan, dedupe, audit, load; the stream's batches; the quality
# report) run on the queue of the worker that owns the DuckDB file, named by PIPELINE_WRITER_QUEUE where the
# DAGs are parsed; the mapped extract tasks run on any worker. Unset: Airflow's default queue for all.
WRITER = {"queue": os.environ["PIPELINE_WRITER_QUEUE"]} if os.environ.get("PIPELINE_WRITER_QUEUE") else {}


def require_pipeline() -> None:
    """In a DAG's first task: import the project, or fail the run at once (no retry) saying how to install it.

    The DAG files parse without the project (they import only Airflow); a deployment that has the DAGs folder
    but not the package on its workers would otherwise fail with a bare ModuleNotFoundError, retried twice."""
    try:
        import pipeline.airflow_tasks  # noqa: F401  (the tasks' module and what it imports)
    except ImportError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"cannot import the article pipeline in this worker's Python ({sys.executable}): {exc}. Install the "
            "project where the Airflow workers run: pip install -r requirements.txt -e <project folder> "
            "(make setup does it in the project's .venv), then clear this task"
        ) from exc
