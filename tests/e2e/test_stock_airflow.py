"""The DAGs in a stock Airflow: plain `airflow standalone`, configured only with the DAGs folder (and what a
login-free local UI needs), the way a team with its own deployment adds them. No pool, connection or variable is
created: the project needs none. A setup that cannot work fails at once, saying what to do."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT
from tests.e2e.airflow_server import AirflowServer, free_port, skip_requested, tail

pytestmark = pytest.mark.slow


class StockAirflow(AirflowServer):
    """`airflow standalone` itself, not scripts/airflow-standalone.sh."""

    def command(self) -> list[str]:
        return [str(Path(sys.executable).parent / "airflow"), "standalone"]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PIPELINE_"))}
        env.update(
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",  # it spawns `airflow`
            AIRFLOW_HOME=str(self.home),
            AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True",
            AIRFLOW__API__PORT=str(self.port),
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{self.port}/execution/",
            # no daily run at unpause: it would ingest sources.toml into the project's data/articles.duckdb
            AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
            PYTHONUNBUFFERED="1",
        )
        return env


@pytest.fixture(scope="module")
def stock_airflow():
    if skip_requested():
        pytest.skip("SKIP_AIRFLOW_E2E=1")
    home = Path(tempfile.mkdtemp(prefix="airflow-stock-home-"))
    server = StockAirflow(home=home, port=free_port())
    try:
        server.start()
        server.unpause("article_ingest")
        yield server
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_a_stock_airflow_runs_article_ingest_from_a_rest_trigger(stock_airflow, seeds_copy, tmp_path):
    pools = stock_airflow.client.get("/api/v2/pools").json()["pools"]
    assert [p["name"] for p in pools] == ["default_pool"]  # nothing was created for the project

    db = tmp_path / "stock.duckdb"
    run = stock_airflow.trigger("article_ingest", {"sources": [str(seeds_copy)], "db": str(db)})
    t0 = time.monotonic()
    run = stock_airflow.wait_for_run("article_ingest", run["dag_run_id"])
    assert run["state"] == "success", (
        f"{stock_airflow.run_report('article_ingest', run['dag_run_id'])}\n{stock_airflow.log_tail()}"
    )
    print(f"\n[e2e] stock standalone: article_ingest success in {time.monotonic() - t0:.1f} s")
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)  # the form's sources only
        assert con.execute("SELECT run_id, trigger, status FROM runs").fetchall() == [
            (run["dag_run_id"], "manual", "success")  # the id the UI shows
        ]
    finally:
        con.close()


def test_a_stock_airflow_fails_a_run_that_cannot_write_its_database_at_once(
    stock_airflow, seeds_copy, tmp_path
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    run = stock_airflow.trigger(
        "article_ingest", {"sources": [str(seeds_copy)], "db": str(blocker / "articles.duckdb")}
    )
    t0 = time.monotonic()
    run = stock_airflow.wait_for_run("article_ingest", run["dag_run_id"], timeout=120)
    took = time.monotonic() - t0
    assert run["state"] == "failed", stock_airflow.run_report("article_ingest", run["dag_run_id"])
    tis = stock_airflow.client.get(
        f"/api/v2/dags/article_ingest/dagRuns/{run['dag_run_id']}/taskInstances"
    ).json()["task_instances"]
    plan = next(ti for ti in tis if ti["task_id"] == "plan")
    assert (plan["state"], plan["try_number"]) == ("failed", 1)  # not retried: retrying cannot fix it
    assert all(ti["state"] in (None, "upstream_failed") for ti in tis if ti["task_id"] != "plan")
    logs = (
        stock_airflow.home / "logs" / "dag_id=article_ingest" / f"run_id={run['dag_run_id']}" / "task_id=plan"
    )
    text = "".join(tail(p, 200) for p in logs.rglob("attempt=*.log"))
    assert (
        "cannot create the database folder" in text
        and "pass a database in a folder this user can write" in text
    )
    print(f"\n[e2e] stock standalone: unwritable database folder failed the run in {took:.1f} s")
