"""Article ingestion pipeline: files, feeds and pages to clean, de-duplicated, validated DuckDB rows.

The stages run without Airflow; `dags/` only wires them. Entry points: `pipeline.run.runner.run_ingest`
(the whole run in one process) and the CLI, `python -m pipeline`.
"""

__version__ = "0.1.0"
