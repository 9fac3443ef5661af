"""DAG integrity: every file in dags/ imports cleanly, is tagged, documented, and retries its tasks."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.dags.conftest import DAGS_FOLDER


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import BundleDagBag

    # as the DAG processor parses a bundle; examples are off through the environment
    return BundleDagBag(dag_folder=str(DAGS_FOLDER), bundle_path=DAGS_FOLDER)


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "article_ingest" in dagbag.dags


def test_every_dag_is_tagged_documented_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, dag_id
        assert dag.doc_md, dag_id
        for t in dag.tasks:
            assert t.retries >= 1, f"{dag_id}.{t.task_id}"
            assert t.execution_timeout is not None, f"{dag_id}.{t.task_id}"
            assert t.owner == "article-pipeline", f"{dag_id}.{t.task_id}"


def test_article_ingest_shape_and_params(dagbag):
    dag = dagbag.dags["article_ingest"]
    assert [t.task_id for t in dag.topological_sort()] == [
        "plan",
        "partitions",
        "extract",
        "dedupe",
        "audit",
        "load",
    ]
    assert type(dag.get_task("extract")).__name__.endswith("MappedOperator")  # one task instance per source
    load = dag.get_task("load")
    # No pool to create (a stock deployment has none: a task in a missing pool is never scheduled); the asset
    # is updated through an alias, only when the load landed something.
    assert load.pool == "default_pool" and [o.name for o in load.outlets] == ["articles-published"]
    assert dag.get_task("extract").map_index_template == "{{ source_label }}"
    assert dag.catchup is False
    assert dag.params["sources"] == [] and dag.params["db"] == "data/articles.duckdb"
    assert dag.params["sources_file"] is None and dag.params["allow_private_network"] is False
    assert dag.params["data_docs"] is True and dag.params["dry_run"] is False
    assert dag.params["since"] is None and dag.params["max_items_per_source"] is None
    names = (
        "sources",
        "sources_file",
        "db",
        "since",
        "max_items_per_source",
        "dry_run",
        "allow_private_network",
    )
    for name in (*names, "data_docs"):
        assert dag.params.get_param(name).description


@pytest.mark.parametrize("clock", ["00:00:30", "00:05", "02:00", "12:00", "23:59"])
def test_unpausing_the_daily_dag_waits_for_the_next_midnight(dagbag, monkeypatch, clock):
    """The scheduler's view (the serialized DAG): with no run yet, the first scheduled run is the next
    midnight, not today's (which unpausing, or "Unpause on trigger", used to start at once, default params and
    all, into the default database, ahead of the run the user triggered), whatever the time of day: Airflow's
    run_immediately=False still ran the past midnight within 2.4 hours of it (this test failed at 00:05)."""
    import pendulum
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables import trigger

    hour, minute, *second = (int(part) for part in clock.split(":"))
    now = pendulum.datetime(2026, 12, 3, hour, minute, *second, tz="UTC")
    monkeypatch.setattr(trigger, "utcnow", lambda: now)
    dag = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags["article_ingest"]))
    first = dag.next_dagrun_info(last_automated_run_info=None)
    assert first.run_after == pendulum.datetime(2026, 12, 4, tz="UTC")


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS_FOLDER.glob("*.py")))
def test_dag_file_imports_nothing_heavy(dag_file):
    """Parsing a DAG file must not pull in GX, trafilatura, pandas or DuckDB."""
    code = (
        "import sys, runpy; runpy.run_path(sys.argv[1]); "
        "heavy = {'great_expectations', 'trafilatura', 'pandas', 'duckdb'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAGS_FOLDER / dag_file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(DAGS_FOLDER)])},
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
