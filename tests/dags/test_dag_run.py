"""`dag.test()` of article_ingest: the real DAG, run in-process by Airflow, into a temp database."""

import importlib.util

import duckdb
import pytest

from pipeline.settings import Settings
from tests.dags.conftest import DAGS_FOLDER


@pytest.fixture
def dag(airflow_db):
    return fresh_dag("article_ingest")


def fresh_dag(dag_id: str):
    """The DAG from a fresh import of its file: dag.test() resolves params on the DAG's shared Param objects,
    so one test's run conf would leak into the next on a shared DAG object."""
    spec = importlib.util.spec_from_file_location(f"{dag_id}_under_test", DAGS_FOLDER / f"{dag_id}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, dag_id)()


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
        (run.run_id, "manual", "success")  # Airflow's run id as the UI shows it, ':' and '+' included
    ]
    con.close()
    assert summary["run_id"] == run.run_id and ":" in run.run_id
    staged = Settings.from_env(db_path=db).run_folder(run.run_id)
    assert staged.parent == tmp_path / "staging" and ":" not in staged.name
    assert not staged.exists()  # published, so the hand-off is gone
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
    assert status == "audit_failed" and run_id == run.run_id
    assert (Settings.from_env(db_path=db).run_folder(run_id) / "audit.json").is_file()


def test_one_extract_task_per_source_and_the_form_options(dag, seeds_copy, tmp_path):
    from airflow.utils.state import DagRunState

    other = tmp_path / "other"
    other.mkdir()
    for i, f in enumerate(sorted(seeds_copy.iterdir())[:3]):  # the same articles again: duplicates
        (other / f"copy{i}.txt").write_text(f.read_text())
    db = tmp_path / "form.duckdb"
    conf = {"sources": [str(seeds_copy), str(other)], "sources_file": None, "db": str(db), "data_docs": False}
    events = len(_article_events())
    run = dag.test(run_conf={**conf, "max_items_per_source": 2, "dry_run": True})
    assert run.state == DagRunState.SUCCESS
    assert len(_article_events()) == events  # a dry run publishes nothing: no asset event
    extracts = [ti for ti in run.get_task_instances() if ti.task_id == "extract"]
    assert sorted(ti.map_index for ti in extracts) == [0, 1]
    # named in the UI by their sources, not 0 and 1
    labels = {ti.map_index: ti.rendered_map_index for ti in extracts}
    assert labels == {0: f"{tmp_path.name}/{seeds_copy.name}", 1: f"{tmp_path.name}/other"}
    summary = xcom(run, "load")
    assert summary["status"] == "dry_run" and summary["read"] == 4  # 2 per source
    assert not db.exists() or _count(db, "articles") == 0  # a dry run publishes nothing

    # Every key again: dag.test() keeps the last run's values on the DAG's Param objects.
    run = dag.test(run_conf={**conf, "max_items_per_source": None, "dry_run": False})
    assert run.state == DagRunState.SUCCESS
    summary = xcom(run, "load")
    assert (summary["read"], summary["landed"], summary["duplicates"]) == (8, 5, 3)
    assert _count(db, "articles") == 5 and _count(db, "raw_documents") == 8


def test_a_web_archive_from_the_trigger_form(dag, tmp_path):
    from airflow.utils.state import DagRunState

    from tests.read.test_warc import archive

    warc = archive(tmp_path / "crawl.warc.gz")
    db = tmp_path / "warc.duckdb"
    run = dag.test(run_conf={"sources": [str(warc)], "sources_file": None, "db": str(db), "data_docs": False})
    assert run.state == DagRunState.SUCCESS
    summary = xcom(run, "load")
    assert (summary["read"], summary["landed"]) == (3, 3)
    con = duckdb.connect(str(db), read_only=True)
    revisits = con.execute("SELECT counts->>'$.read.warc_revisit' FROM runs").fetchone()[0]
    assert revisits == "1"  # counted, not an article
    assert con.execute("SELECT DISTINCT fetched_at::VARCHAR FROM raw_documents").fetchall() == [
        ("2026-11-30 06:15:00",)
    ]
    con.close()


def test_since_skips_older_articles(dag, tmp_path):
    from airflow.utils.state import DagRunState

    source = tmp_path / "records"
    source.mkdir()
    body = " ".join(f"Sentence {i} about the harbour works and the new pier opening." for i in range(12))
    records = [
        {"url": "https://ex.example/old", "title": "Old pier story", "date": "2020-01-05", "text": body},
        {
            "url": "https://ex.example/new",
            "title": "New pier story",
            "date": "2026-03-01",
            "text": body + " New.",
        },
    ]
    (source / "feed.jsonl").write_text("\n".join(__import__("json").dumps(r) for r in records))
    db = tmp_path / "since.duckdb"
    run = dag.test(
        run_conf={"sources": [str(source)], "sources_file": None, "db": str(db), "since": "2026-01-01"}
    )
    assert run.state == DagRunState.SUCCESS
    summary = xcom(run, "load")
    assert (summary["read"], summary["landed"], summary["skipped"]) == (2, 1, 1)


def _count(db, table):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def quality_dag(airflow_db):
    return fresh_dag("article_quality")


def test_quality_dag_writes_the_days_report(quality_dag, seeds_copy, tmp_path):
    from airflow.utils.state import DagRunState

    from pipeline.run.runner import run_ingest
    from pipeline.settings import Settings

    db = tmp_path / "q.duckdb"
    run_ingest([str(seeds_copy)], Settings.from_env(db_path=db), trigger="test")
    run = quality_dag.test(run_conf={"db": str(db)})
    assert run.state == DagRunState.SUCCESS
    report = xcom(run, "report")
    assert report["articles"] == 5 and report["expectations_failed"] == []
    assert (tmp_path / "quality" / "daily" / "docs" / "index.html").is_file()
    summary = (tmp_path / "quality" / "daily" / f"summary-{report['day']}.md").read_text()
    assert "5 articles landed" in summary and "| test | success | 5 | 5 | 0 | 0 | 0 |" in summary


@pytest.fixture
def stream_dag(airflow_db):
    return fresh_dag("article_stream")


def test_stream_dag_ingests_the_inbox(stream_dag, seeds_copy, tmp_path):
    import os
    import time

    from airflow.utils.state import DagRunState

    inbox = tmp_path / "inbox"
    seeds_copy.rename(inbox)
    old = time.time() - 60
    for f in inbox.iterdir():
        os.utime(f, (old, old))
    db = tmp_path / "stream.duckdb"
    run = stream_dag.test(run_conf={"inbox": str(inbox), "db": str(db), "wait_seconds": 1})
    assert run.state == DagRunState.SUCCESS
    batch = xcom(run, "micro_batch")
    assert (batch["status"], batch["files"], batch["landed"]) == ("success", 5, 5)
    assert _count(db, "articles") == 5 and not any(p.is_file() for p in inbox.iterdir())


def _article_events() -> list[dict]:
    """The `articles` asset's events in Airflow's metadata database, oldest first: their extras."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "articles")
            .order_by(AssetEvent.id)
        )
        return list(session.scalars(query))


def test_the_stream_updates_the_articles_asset_only_for_batches_that_land(stream_dag, seeds_copy, tmp_path):
    import os
    import time

    from airflow.utils.state import DagRunState

    inbox, db = tmp_path / "inbox", tmp_path / "events.duckdb"
    inbox.mkdir()
    before = len(_article_events())
    run = stream_dag.test(run_conf={"inbox": str(inbox), "db": str(db), "wait_seconds": 1})
    assert run.state == DagRunState.SUCCESS and xcom(run, "micro_batch")["status"] == "idle"
    assert len(_article_events()) == before  # an empty batch: no event, article_quality does not run

    old = time.time() - 60
    for f in seeds_copy.iterdir():
        f.rename(inbox / f.name)
        os.utime(inbox / f.name, (old, old))
    run = stream_dag.test(run_conf={"inbox": str(inbox), "db": str(db), "wait_seconds": 1})
    assert run.state == DagRunState.SUCCESS
    events = _article_events()[before:]
    assert [(e["db"], e["landed"]) for e in events] == [(str(db), 5)]


def test_without_the_project_installed_the_run_fails_at_once_saying_how_to_install_it(airflow_db, tmp_path):
    """A deployment with the DAGs folder but not the package on its workers: plan fails on its first try with
    the fix, instead of a bare ModuleNotFoundError retried twice. The package is hidden from a fresh
    interpreter (sys.modules entry None: every `import pipeline...` raises ImportError)."""
    import subprocess
    import sys

    code = f"""
import sys
sys.modules["pipeline"] = None
sys.path.append({str(DAGS_FOLDER)!r})
import importlib.util
spec = importlib.util.spec_from_file_location("article_ingest_bare", {str(DAGS_FOLDER / "article_ingest.py")!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
run = module.article_ingest().test(run_conf={{"sources": ["seeds"], "db": {str(tmp_path / "x.duckdb")!r}}})
plan = run.get_task_instance("plan")
print("RESULT", run.state, plan.state, plan.try_number)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert "RESULT failed failed 1" in out, out[-3000:]
    assert "cannot import the article pipeline" in out and "pip install -r requirements.txt -e" in out
