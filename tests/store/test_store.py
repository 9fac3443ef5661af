"""The store: schema, idempotent load of a staged run, and the analysis views."""

from contextlib import nullcontext

import duckdb
import pytest

from pipeline.errors import SetupError
from pipeline.run.assemble import new_run_id, plan_run
from pipeline.run.runner import process_run, publish_run
from pipeline.settings import Settings
from pipeline.store import Store
from pipeline.store.schema import MIGRATIONS, SCHEMA_VERSION


def test_schema_is_created_once_and_versioned(db_path):
    Store(db_path).close()
    with Store(db_path) as store:
        # one row per migration, each applied once
        versions = store.con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert versions == [(v,) for v, _ in MIGRATIONS] and versions[-1] == (SCHEMA_VERSION,)
        tables = {
            r[0] for r in store.con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert {
        "articles",
        "article_duplicates",
        "quarantine",
        "runs",
        "stories",
        "daily_source_counts",
    } <= tables


def test_a_newer_schema_is_refused(db_path):
    with Store(db_path) as store:
        store.con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    with pytest.raises(SetupError, match="newer"):
        Store(db_path)


def test_a_load_over_the_memory_limit_says_what_to_do_and_the_staged_run_can_be_released(
    tmp_path, db_path, monkeypatch
):
    """DuckDB's memory limit (PIPELINE_DB_MEMORY_MB) too low for a run: a clear error, nothing published, the
    staged run kept; after raising the limit, `release` publishes it."""
    import random

    from pipeline.run.runner import release_run, run_ingest

    rng = random.Random(7)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(3000)]
    src = tmp_path / "big"
    src.mkdir()
    for i in range(40):  # 40 articles of about 60 KB: more than 8 MB of load
        paragraphs = (" ".join(rng.choices(words, k=60)).capitalize() + "." for _ in range(150))
        (src / f"{i:02d}.txt").write_text(f"Headline number {i}\n\n" + "\n\n".join(paragraphs))
    monkeypatch.setenv("PIPELINE_DB_MEMORY_MB", "8")
    settings = Settings.from_env(db_path=db_path)
    with pytest.raises(SetupError, match=r"ran out of DuckDB's memory limit .*nothing was published") as err:
        run_ingest([str(src)], settings, trigger="test")
    run_id = str(err.value).split("release ")[-1].rstrip("`")
    assert (settings.staging_root / run_id).is_dir()
    with Store(db_path) as store:
        assert store.count("articles") == 0 and store.run_summary(run_id)["status"] == "failed"
    monkeypatch.setenv("PIPELINE_DB_MEMORY_MB", "0")
    summary = release_run(run_id, Settings.from_env(db_path=db_path))
    assert summary.status == "released" and summary.landed == 40
    with Store(db_path) as store:
        assert store.count("articles") == 40 and store.count("article_lsh") == 40 * 64


def test_a_load_first_runs_within_part_of_the_memory_limit_and_again_within_all_of_it(
    tmp_path, db_path, monkeypatch, caplog
):
    """The load starts within `LOAD_MEMORY_SHARE` of DuckDB's limit (DuckDB fills any limit with cache); a run
    that needs more is rolled back and loaded again within the whole limit, which is set back after."""
    import logging
    import random

    from pipeline.run.runner import audit_and_publish
    from pipeline.store import load

    rng = random.Random(7)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(3000)]
    src = tmp_path / "big"
    src.mkdir()
    for i in range(40):  # as above: more than 8 MB of load
        paragraphs = (" ".join(rng.choices(words, k=60)).capitalize() + "." for _ in range(150))
        (src / f"{i:02d}.txt").write_text(f"Headline number {i}\n\n" + "\n\n".join(paragraphs))
    monkeypatch.setenv("PIPELINE_DB_MEMORY_MB", "256")
    monkeypatch.setattr(load, "LOAD_MEMORY_SHARE", 8 / 256)  # 8 MB: too little, as above
    settings = Settings.from_env(db_path=db_path)
    with caplog.at_level(logging.INFO, logger="pipeline.store.load"), Store(db_path) as store:
        limit = store.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        folder = process_run(plan_run([str(src)], settings), settings, new_run_id(), store.history)
        summary = audit_and_publish(folder, settings, lambda: nullcontext(store), "test")
        assert summary.status == "success" and summary.landed == 40
        assert store.count("articles") == 40 and store.count("article_lsh") == 40 * 64
        assert store.con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == limit
    assert "loading again within 256 MB" in caplog.text


def test_loading_the_same_staged_run_twice_converges(seeds_copy, db_path):
    settings = Settings.from_env(db_path=db_path)
    run_id = new_run_id()
    with Store(db_path) as store:
        folder = process_run(plan_run([str(seeds_copy)], settings), settings, run_id, store.history)
        backup = folder.with_name("copy")
        import shutil

        shutil.copytree(folder, backup)
        publish_run(folder, store, "test")
        first = store.con.execute(
            "SELECT * EXCLUDE (updated_at) FROM articles ORDER BY article_id"
        ).fetchall()
        publish_run(backup, store, "test")  # an Airflow retry of the load task
        second = store.con.execute(
            "SELECT * EXCLUDE (updated_at) FROM articles ORDER BY article_id"
        ).fetchall()
        assert first == second and len(first) == 5
        assert store.count("runs") == 1
        assert store.count("article_lsh") == 5 * settings.lsh_bands
        assert store.run_summary(run_id)["landed"] == 5


def test_views_answer_analysis_questions(seeds_copy, db_path):
    from pipeline.run.runner import run_ingest

    run_ingest([str(seeds_copy)], Settings.from_env(db_path=db_path), trigger="test")
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT sum(article_count), count(*) FROM stories").fetchone() == (5, 3)  # 3 events
    assert con.execute("SELECT sum(articles) FROM daily_source_counts").fetchone() == (5,)
    assert con.execute("SELECT count(*) FROM quarantine_reasons").fetchone() == (0,)
    con.close()
    # a story's title: its first report's headline, one derived from a body only when no report had a headline
    with duckdb.connect(str(db_path)) as con:
        (story,) = con.execute("SELECT story_id FROM stories WHERE article_count = 3").fetchone()
        rows = con.execute(
            "SELECT article_id FROM articles WHERE story_id = ? ORDER BY 1", [story]
        ).fetchall()
        ids = [i for (i,) in rows]
        for n, (article_id, source) in enumerate(zip(ids, ["derived", "source", "source"], strict=True)):
            con.execute(
                "UPDATE articles SET title = ?, title_source = ?, published_at = ? WHERE article_id = ?",
                [f"{source} {n}", source, f"2026-05-0{n + 1}", article_id],
            )
        title = "SELECT title FROM stories WHERE story_id = ?"
        assert con.execute(title, [story]).fetchone() == ("source 1",)  # not the earlier derived one
        con.execute("UPDATE articles SET title_source = 'derived' WHERE story_id = ?", [story])
        assert con.execute(title, [story]).fetchone() == ("derived 0",)  # none had one: the first


def test_a_run_that_breaks_is_recorded_as_failed(seeds_copy, db_path, monkeypatch):
    from pipeline.run import runner
    from pipeline.run.runner import run_ingest

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner, "publish_run", broken)
    with pytest.raises(RuntimeError):
        run_ingest([str(seeds_copy)], Settings.from_env(db_path=db_path), trigger="test", run_id="r-broken")
    with Store(db_path) as store:
        row = store.run_summary("r-broken")
        assert row["status"] == "failed" and "disk on fire" in row["error"]
        assert store.count("articles") == 0


def test_progress_is_reported(seeds_copy, tmp_path, monkeypatch):
    from pipeline.run.runner import run_ingest
    from pipeline.store import staging

    monkeypatch.setattr(staging, "PROGRESS_EVERY", 2)
    calls = []
    run_ingest(
        [str(seeds_copy)],
        Settings.from_env(db_path=tmp_path / "p.duckdb"),
        trigger="test",
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(2, 5), (4, 5)]


def test_the_duckdb_memory_limit_is_a_setting(tmp_path, monkeypatch):
    from pipeline.store.connection import connect

    monkeypatch.setenv("PIPELINE_DB_MEMORY_MB", "300")
    con = connect(tmp_path / "m.duckdb")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] in ("300.0 MiB", "286.1 MiB")
    con.close()
    monkeypatch.delenv("PIPELINE_DB_MEMORY_MB")
    con = connect(tmp_path / "m.duckdb")
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] not in (
        "300.0 MiB",
        "286.1 MiB",
    )
    con.close()
