"""`Article`'s fields are defined once: the DuckDB tables, the staged Parquet, the validation frame, raw retention
and the row converters all agree with that one definition."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import duckdb

from pipeline.models import (
    ARTICLES_COLUMNS,
    AS_READ_FIELDS,
    DUPLICATE_COLUMNS,
    PAYLOAD_FIELDS,
    QUARANTINE_COLUMNS,
    RAW_COLUMNS,
    STAGED_COLUMNS,
    VALIDATED_COLUMNS,
    Article,
    article_from_row,
    staged_row,
)
from pipeline.store import Store
from pipeline.store.staging import StagingWriter


def table_columns(con, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return dict(rows)


def full_article() -> Article:
    return Article(
        source_uri="/in/a.txt",
        url="https://example.org/a",
        source="example.org",
        title="A title",
        title_source="source",
        author="Ana Ruiz",
        published_at=datetime(2026, 1, 2, 3, 4, 5),
        language="en",
        body="One paragraph.\n\nAnother one.",
        word_count=4,
        content_hash="0" * 64,
        article_id="0123456789abcdef",
        story_id="0123456789abcdef",
        run_id="r1",
        ingested_at=datetime(2026, 1, 3),
        extractor="text",
        removed_rules={"byline": 1},
        lsh_bands=[1, -2, 3],
        shingle_count=7,
        minhash=b"\x01\x02",
        body_signature=b"packed",
    )


def test_the_migrated_tables_have_the_models_columns_and_types(tmp_path):
    with Store(tmp_path / "a.duckdb") as store:
        con = store.con
        articles = table_columns(con, "articles")
        assert set(articles) == {*ARTICLES_COLUMNS, "updated_at"}
        for name in ARTICLES_COLUMNS:
            assert articles[name] == STAGED_COLUMNS[name], name
        fields = {f.name: f.metadata for f in dataclasses.fields(Article) if f.metadata}
        minhash = table_columns(con, "article_minhash")
        assert set(minhash) == {"article_id"} | {
            n for n, m in fields.items() if m["table"] == "article_minhash"
        }
        for name, sql in minhash.items():
            assert sql == STAGED_COLUMNS[name], name
        lsh = {n for n, m in fields.items() if m["table"] == "article_lsh"}
        assert lsh == {"lsh_bands"} and table_columns(con, "article_lsh") == {
            "band_key": "BIGINT",  # one row per element of lsh_bands
            "article_id": "VARCHAR",
        }
        duplicates = table_columns(con, "article_duplicates")
        assert {k: duplicates[k] for k in DUPLICATE_COLUMNS} == DUPLICATE_COLUMNS
        quarantine = table_columns(con, "quarantine")
        assert {k: quarantine[k] for k in QUARANTINE_COLUMNS} == QUARANTINE_COLUMNS
        raw = table_columns(con, "raw_documents")
        assert raw == RAW_COLUMNS


def test_staged_parquet_has_the_staged_columns_and_round_trips_every_field(tmp_path):
    article = full_article()
    writer = StagingWriter(tmp_path / "run", "r1")
    tally = writer.consume([article])
    assert tally.landed == 1
    (part,) = (tmp_path / "run").glob("articles-*.parquet")
    with duckdb.connect() as con:
        rel = con.execute("SELECT * FROM read_parquet(?)", [str(part)])
        schema = {d[0]: str(d[1]) for d in rel.description}
        row = dict(zip(schema, rel.fetchone(), strict=True))
        described = {
            r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{part}')").fetchall()
        }
    assert list(schema) == list(STAGED_COLUMNS)
    assert described == STAGED_COLUMNS
    back = article_from_row(row)
    for name in STAGED_COLUMNS:
        assert getattr(back, name) == getattr(article, name), name


def test_the_row_converters_are_inverse_and_cover_every_staged_field():
    article = full_article()
    row = staged_row(article)
    assert set(row) == set(STAGED_COLUMNS)
    assert row["removed_rules"] == '{"byline": 1}'
    assert article_from_row(row) == dataclasses.replace(article, raw=b"", blocks=[], description=None)


def test_the_validation_frame_raw_retention_and_payload_derive_from_the_fields():
    from pipeline.quality.validate import FRAME_COLUMNS

    assert FRAME_COLUMNS == VALIDATED_COLUMNS
    assert {"article_id", "body", "title", "published_at", "word_count"} <= set(VALIDATED_COLUMNS)
    assert "story_id" not in VALIDATED_COLUMNS and "removed_rules" not in VALIDATED_COLUMNS
    assert AS_READ_FIELDS == ("source_uri", "media_type", "url", "source", "title", "author", "published_at")
    assert [c for c in RAW_COLUMNS if c in AS_READ_FIELDS] == list(AS_READ_FIELDS)
    payload = full_article().payload()
    assert set(payload) == {*PAYLOAD_FIELDS} - {"removed_rules"} | {"removed"}
    assert payload["removed"] == {"byline": 1} and payload["published_at"] == "2026-01-02T03:04:05"


def test_every_stored_field_has_a_staged_column():
    for f in dataclasses.fields(Article):
        if f.metadata and f.metadata["table"] is not None:
            assert f.name in STAGED_COLUMNS, f.name


def test_raw_parts_are_cut_by_content_size_as_well_as_rows(tmp_path):
    import os

    from pipeline.document.retain import raw_row
    from pipeline.store.staging import RAW_PART_BYTES

    writer = StagingWriter(tmp_path / "run", "r1")
    page = os.urandom(RAW_PART_BYTES // 3)  # incompressible: a third of a part each

    def reading():  # raw retention hands rows to the writer while the stream is consumed
        for n in range(7):
            writer.add_raw(raw_row(Article(source_uri=f"/in/{n}.html", raw=page + bytes([n])), "r1", None))
        yield from ()

    writer.consume(reading())
    parts = sorted((tmp_path / "run").glob("raw-*.parquet"))
    assert len(parts) == 3  # 3 + 3 + 1 pages, not one part of 7
    with duckdb.connect() as con:
        assert con.execute(f"SELECT count(*) FROM read_parquet({[str(p) for p in parts]})").fetchone()[0] == 7
