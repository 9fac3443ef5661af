"""What the project's DAG files share: the articles asset, the default database, the writer pool.

Not a DAG file (`.airflowignore` keeps the DAG processor from parsing it); the DAG files import it, since
Airflow puts the DAGs folder on the import path.
"""

from __future__ import annotations

from airflow.sdk import Asset

DEFAULT_DB = "data/articles.duckdb"
DEFAULT_SOURCES_FILE = "sources.toml"
DEFAULT_INBOX = "data/inbox"
# One slot: one process writes a DuckDB file at a time (make airflow creates it).
WRITER_POOL = "duckdb_writer"
# The articles table as an Airflow asset: article_ingest and article_stream update it, article_quality runs on it.
ARTICLES = Asset(name="articles", uri="duckdb://localhost/articles")
OWNER = "article-pipeline"
