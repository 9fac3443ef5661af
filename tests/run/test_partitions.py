"""Partitioned runs (what the Airflow DAG maps over sources) land the same rows as a run in one process."""

from contextlib import nullcontext
from pathlib import Path

import duckdb

from pipeline.run.partitions import merge_partitions, process_partition
from pipeline.run.runner import audit_and_publish, run_ingest
from pipeline.settings import Settings
from pipeline.store import Store
from tests.dedupe.test_dedupe import write_variants


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
        parts = [process_partition(s, i, settings, run_id, history.history) for i, s in enumerate(sources)]
    assert [(p["read"], p["articles"], p["quarantined"]) for p in parts] == [(5, 5, 0), (5, 4, 1)]
    with Store(settings.db_path) as store:
        folder = merge_partitions([p["folder"] for p in parts], settings, run_id, store.history, sources)
        summary = audit_and_publish(folder, settings, lambda: nullcontext(store), "test")
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


def test_the_workers_minhash_survives_the_partition_and_dedupe_does_not_recompute_it(
    seeds_copy, tmp_path, monkeypatch
):
    """The body's signature is computed once, in the extraction workers; it travels in the partition's Parquet,
    so the merge's dedupe computes no signature for articles compared by their whole body."""
    from pipeline.dedupe.minhash import MinHasher
    from pipeline.run import partitions

    settings = Settings.from_env(db_path=tmp_path / "db.duckdb")
    part = process_partition(str(seeds_copy), 0, settings, "r", None)
    staged = list(partitions.staged_articles([Path(part["folder"])]))
    assert len(staged) == 5 and all(a.body_signature for a in staged)

    computed = []
    signature = MinHasher.signature
    monkeypatch.setattr(
        MinHasher, "signature", lambda self, text: computed.append(text) or signature(self, text)
    )
    merge_partitions([part["folder"]], settings, "r", None, [str(seeds_copy)])
    assert computed == []

    # without the staged signature the same merge computes one per article: the check above can fail
    real = partitions.staged_articles

    def without_signatures(folders):
        for article in real(folders):
            article.body_signature = None
            yield article

    monkeypatch.setattr(partitions, "staged_articles", without_signatures)
    merge_partitions([part["folder"]], settings, "r", None, [str(seeds_copy)])
    assert len(computed) == 5
