"""article_ingest on a real Airflow: triggered over the REST API with a conf, run by the scheduler and the
LocalExecutor's workers, loaded into DuckDB."""

from __future__ import annotations

import time

import duckdb
import pytest

pytestmark = pytest.mark.slow


def test_rest_trigger_ingests_into_duckdb(airflow, seeds_copy, tmp_path):
    db = tmp_path / "e2e.duckdb"
    conf = {"sources": [str(seeds_copy)], "sources_file": None, "db": str(db), "data_docs": False}

    t0 = time.monotonic()
    run = airflow.trigger("article_ingest", conf)
    assert run["conf"] == conf
    assert run["run_type"] == "manual"
    run = airflow.wait_for_run("article_ingest", run["dag_run_id"])
    elapsed = time.monotonic() - t0
    assert run["state"] == "success", (
        f"run {run['dag_run_id']} ended {run['state']!r}\n"
        f"{airflow.run_report('article_ingest', run['dag_run_id'])}\n{airflow.log_tail()}"
    )
    print(f"\n[e2e] article_ingest via REST: triggered -> success in {elapsed:.1f} s")

    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)
        runs = con.execute('SELECT trigger, status, "read", landed FROM runs').fetchall()
    finally:
        con.close()
    assert runs == [("manual", "success", 5, 5)]
