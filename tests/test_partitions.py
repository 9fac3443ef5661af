"""Partitioned runs (what the Airflow DAG maps over sources) land the same rows as a run in one process."""

import duckdb

from pipeline.runner import audit_and_publish, merge_partitions, process_partition, run_ingest
from pipeline.settings import Settings
from pipeline.store import Store
from tests.test_dedupe import write_variants


def table(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return sorted(con.execute(sql).fetchall())
    finally:
        con.close()


def test_partitions_per_source_then_one_merge_land_what_one_process_lands(seeds_copy, tmp_path):
    copies = tmp_path / "copies"
    write_variants(copies)  # copies of the seeds: duplicates across the two sources
    (copies / "broken.txt").write_bytes(b"\x00binary\x00" * 20)
    sources = [str(seeds_copy), str(copies)]

    whole = run_ingest(sources, Settings.from_env(db_path=tmp_path / "one.duckdb"), trigger="test")

    settings = Settings.from_env(db_path=tmp_path / "parts.duckdb")
    run_id = "partitioned"
    with Store.for_reading(settings.db_path) or Store(settings.db_path) as history:
        parts = [process_partition(s, i, settings, run_id, history) for i, s in enumerate(sources)]
    assert [(p["read"], p["articles"], p["quarantined"]) for p in parts] == [(5, 5, 0), (5, 4, 1)]
    with Store(settings.db_path) as store:
        folder = merge_partitions([p["folder"] for p in parts], settings, run_id, store, sources)
        summary = audit_and_publish(folder, settings, store, "test")
    assert summary.status == "success"
    counts = ("read", "landed", "duplicates", "quarantined", "skipped")
    assert [getattr(summary, c) for c in counts] == [getattr(whole, c) for c in counts] == [10, 5, 4, 1, 0]
    for sql in (
        "SELECT article_id, content_hash, story_id FROM articles",
        "SELECT source_uri, duplicate_of, method FROM article_duplicates",
        "SELECT regexp_extract(source_uri, '[^/]+$'), reason FROM quarantine",
        "SELECT regexp_extract(source_uri, '[^/]+$'), sha256 FROM raw_documents",
    ):
        assert table(settings.db_path, sql) == table(tmp_path / "one.duckdb", sql), sql
    assert not (settings.staging_root / run_id).exists()
    assert not (settings.staging_root / f"{run_id}.parts").exists()
