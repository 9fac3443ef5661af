"""An input read again with the bytes it landed from is skipped before extraction: a hash and a lookup."""

import duckdb

from pipeline.run.runner import run_ingest
from pipeline.settings import Settings


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_a_folder_read_again_is_skipped_unextracted_and_a_changed_file_is_read(seeds_copy, tmp_path):
    settings = Settings.from_env(db_path=tmp_path / "a.duckdb")
    first = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert first.landed == 5
    assert rows(settings.db_path, "SELECT count(*) FROM articles WHERE length(raw_sha256) = 64") == [(5,)]
    before = rows(settings.db_path, "SELECT article_id, body, updated_at FROM articles ORDER BY 1")

    again = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert (again.read, again.skipped, again.landed) == (5, 5, 0)
    assert again.stages["unchanged"]["dropped_unchanged"] == 5
    assert again.stages.get("extract", {}).get("total", 0) == 0  # nothing extracted, cleaned or counted
    assert "clean" not in again.stages or not any(k.startswith("removed_") for k in again.stages["clean"])
    assert rows(settings.db_path, "SELECT article_id, body, updated_at FROM articles ORDER BY 1") == before

    edited = next(p for p in sorted(seeds_copy.glob("00*.txt")) if p.name.startswith("003"))
    text = edited.read_text()
    edited.write_text(text.replace("Overnight,", "Late on Sunday,", 1))
    third = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert third.stages["unchanged"]["dropped_unchanged"] == 4
    assert third.stages["extract"]["total"] == 1
    assert third.landed == 1  # the edited file, updated in place
    (body,) = rows(settings.db_path, f"SELECT body FROM articles WHERE source_uri LIKE '%{edited.name}'")[0]
    assert "Late on Sunday," in body


def test_a_row_from_before_the_column_is_read_once_more(seeds_copy, tmp_path):
    settings = Settings.from_env(db_path=tmp_path / "a.duckdb")
    run_ingest([str(seeds_copy)], settings, trigger="test")
    with duckdb.connect(str(settings.db_path)) as con:
        con.execute("UPDATE articles SET raw_sha256 = NULL")  # as a database landed before version 7 has them
    again = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert again.stages["extract"]["total"] == 5 and again.skipped == 5  # extracted, then found unchanged
    assert rows(settings.db_path, "SELECT count(raw_sha256) FROM articles") == [(5,)]
    assert (
        run_ingest([str(seeds_copy)], settings, trigger="test").stages["unchanged"]["dropped_unchanged"] == 5
    )
