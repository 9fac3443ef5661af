"""`dag.test()` of article_ingest: the real DAG, run in-process by Airflow, into a temp database."""

import importlib.util

import duckdb
import pytest

from tests.dags.conftest import DAGS_FOLDER


@pytest.fixture
def dag(airflow_db):
    # A fresh module per test: dag.test() resolves params on the DAG's shared Param objects, so one
    # test's run conf would leak into the next on a shared DAG object.
    spec = importlib.util.spec_from_file_location(
        "article_ingest_under_test", DAGS_FOLDER / "article_ingest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.article_ingest()


def xcom(dag_run, task_id):
    return dag_run.get_task_instance(task_id).xcom_pull(task_ids=task_id)


def test_dag_test_ingests_the_sources_into_the_given_db(dag, seeds_copy, tmp_path):
    from airflow.utils.state import DagRunState

    db = tmp_path / "dag.duckdb"
    run = dag.test(run_conf={"sources": [str(seeds_copy)], "sources_file": None, "db": str(db)})
    assert run.state == DagRunState.SUCCESS
    summary = xcom(run, "load")
    assert (summary["read"], summary["landed"], summary["quarantined"]) == (5, 5, 0)
    assert summary["trigger"] == "manual"
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)
    assert con.execute("SELECT run_id, trigger, status FROM runs").fetchall() == [
        (summary["run_id"], "manual", "success")
    ]
    con.close()
    assert not (tmp_path / "staging" / summary["run_id"]).exists()  # published, so the hand-off is gone
    assert xcom(run, "audit")["data_docs"] == str(tmp_path / "quality" / "index.html")
    assert (tmp_path / "quality" / "index.html").is_file()  # the quality report, on by default


def test_dag_fails_fast_on_a_missing_source(dag, tmp_path):
    from airflow.utils.state import DagRunState

    run = dag.test(
        run_conf={
            "sources": [str(tmp_path / "missing")],
            "sources_file": None,
            "db": str(tmp_path / "x.duckdb"),
        }
    )
    assert run.state == DagRunState.FAILED
    plan = run.get_task_instance("plan")
    assert plan.state == "failed" and plan.try_number == 1  # bad setup is not retried
    assert not (tmp_path / "x.duckdb").exists()


def test_by_default_the_dag_reads_the_projects_sources_file(dag, tmp_path):
    from airflow.utils.state import DagRunState

    run = dag.test(run_conf={"db": str(tmp_path / "daily.duckdb")})  # what the daily schedule runs
    assert run.state == DagRunState.SUCCESS
    planned = xcom(run, "plan")
    assert planned["sources_file"].endswith("sources.toml") and planned["inputs"] == 5  # sources.toml: seeds/
    assert xcom(run, "load")["landed"] == 5


def test_a_run_that_fails_its_audit_publishes_nothing_and_is_not_retried(dag, tmp_path):
    from airflow.utils.state import DagRunState

    source = tmp_path / "broken"
    source.mkdir()
    (source / "a.txt").write_bytes(b"\x00binary\x00" * 20)  # the only input is quarantined: kept nothing
    db = tmp_path / "audit.duckdb"
    run = dag.test(run_conf={"sources": [str(source)], "sources_file": None, "db": str(db)})
    assert run.state == DagRunState.FAILED
    assert xcom(run, "audit")["audit_failed"] == ["some_input_kept"]
    load = run.get_task_instance("load")
    assert load.state == "failed" and load.try_number == 1
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    (run_id, status) = con.execute("SELECT run_id, status FROM runs").fetchone()
    con.close()
    assert status == "audit_failed" and (tmp_path / "staging" / run_id / "audit.json").is_file()
