"""An input read again with the bytes it landed from is skipped before extraction: a hash and a lookup."""

import json

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
    assert rows(settings.db_path, "SELECT count(*) FROM articles WHERE length(input_sha256) = 64") == [(5,)]
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
        con.execute(
            "UPDATE articles SET input_sha256 = NULL"
        )  # as a database landed before version 7 has them
    again = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert again.stages["extract"]["total"] == 5 and again.skipped == 5  # extracted, then found unchanged
    assert rows(settings.db_path, "SELECT count(input_sha256) FROM articles") == [(5,)]
    assert (
        run_ingest([str(seeds_copy)], settings, trigger="test").stages["unchanged"]["dropped_unchanged"] == 5
    )


def test_other_bytes_with_the_same_text_are_noted_and_skipped_early_next_time(seeds_copy, tmp_path):
    settings = Settings.from_env(db_path=tmp_path / "a.duckdb")
    run_ingest([str(seeds_copy)], settings, trigger="test")
    page = sorted(seeds_copy.glob("00*.txt"))[0]
    page.write_text(page.read_text() + "\n\n\n")  # other bytes, the same text
    second = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert second.stages["extract"]["total"] == 1 and second.skipped == 5  # extracted, then found unchanged
    third = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert (
        third.stages["unchanged"]["dropped_unchanged"] == 5
        and third.stages.get("extract", {}).get("total", 0) == 0
    )


def test_a_record_whose_fields_changed_around_the_same_text_is_read_again(tmp_path):
    records = tmp_path / "in" / "items.jsonl"
    records.parent.mkdir()
    text = (
        "The harbour authority said on Friday that the new ferry terminal would open in March, two years later "
        "than planned, after a long dispute over the cost of dredging the northern channel of the port."
    )
    records.write_text(
        json.dumps({"text": text, "url": "https://news.example/a", "title": "Terminal opens"}) + "\n"
    )
    settings = Settings.from_env(db_path=tmp_path / "a.duckdb")
    assert run_ingest([str(records.parent)], settings, trigger="test").landed == 1
    records.write_text(
        json.dumps({"text": text, "url": "https://news.example/b", "title": "Terminal opens"}) + "\n"
    )
    again = run_ingest([str(records.parent)], settings, trigger="test")
    assert again.stages["unchanged"].get("dropped_unchanged", 0) == 0  # not the same input: it is read
    assert again.stages["extract"]["total"] == 1
    assert again.duplicates == 1  # the same text under a new URL: a copy of the landed row, as before


def test_an_input_recorded_as_a_duplicate_and_read_again_unchanged_is_skipped_unextracted(
    seeds_copy, tmp_path
):
    original = sorted(seeds_copy.glob("00*.txt"))[0]
    copy = seeds_copy / "copy-of-first.txt"
    copy.write_bytes(original.read_bytes())
    settings = Settings.from_env(db_path=tmp_path / "a.duckdb")
    first = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert (first.read, first.landed, first.duplicates) == (6, 5, 1)
    (digest,) = rows(settings.db_path, "SELECT input_sha256 FROM article_duplicates")[0]
    assert len(digest) == 64

    again = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert (again.read, again.skipped, again.duplicates, again.landed) == (6, 6, 0, 0)
    assert again.stages.get("extract", {}).get("total", 0) == 0  # the copy was not extracted again either
    assert rows(settings.db_path, "SELECT count(*) FROM article_duplicates") == [(1,)]

    copy.write_text(copy.read_text() + "\nA paragraph the copy now adds, which the original never had.\n")
    third = run_ingest([str(seeds_copy)], settings, trigger="test")
    assert third.stages["extract"]["total"] == 1  # changed: read again
