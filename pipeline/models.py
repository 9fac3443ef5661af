"""The one record that flows through every stage, and the outcomes a stage can give it.

`Article`'s fields are defined once, here. Each field that leaves the process says where it goes in its
metadata (`col(...)`): its DuckDB type, whether it is part of the staged hand-off (`articles-*.parquet`), the
table it lands in, whether the validation suite sees it, whether raw retention keeps it as the source said it,
and whether a quarantine payload keeps it. The staging schema (`STAGED_COLUMNS`), the stored column lists, the
validation frame (`VALIDATED_COLUMNS`), the raw documents' fields and the row converters all derive from that,
and `tests/test_models.py` checks that the migrated DuckDB tables agree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Block:
    """One line of extracted text with what the page's structure said about it.

    HTML extraction gives each paragraph, heading, list item, quote or table row its kind, heading level and
    the share of its characters inside links; the block rules in `pipeline.document.rules` use them.
    Plain-text lines are kind "text" with no structure.
    """

    text: str
    kind: str = "text"  # p | head | item | quote | row | code | text
    level: int = 0  # heading level: 1 for <h1>
    link_ratio: float = 0.0  # characters inside links / all characters


def col(
    sql: str,
    table: str | None = "articles",
    *,
    staged: bool = True,
    validated: bool = False,
    as_read: bool = False,
    payload: bool = False,
) -> dict[str, Any]:
    """Where an `Article` field goes.

    Args:
        sql: its DuckDB type, in staging Parquet and in its table.
        table: the table it lands in (`articles`, `article_minhash`, `article_lsh`), or None.
        staged: part of the staged hand-off between the run's steps (`articles-*.parquet`).
        validated: a column of the frame the Great Expectations suite validates.
        as_read: kept in `raw_documents` as the source gave it, before extraction (for reprocess).
        payload: kept in a quarantine row's payload when set.
    """
    return {
        "sql": sql,
        "table": table,
        "staged": staged,
        "validated": validated,
        "as_read": as_read,
        "payload": payload,
    }


_ROW = {"validated": True, "payload": True}  # an articles column the suite checks and quarantine keeps


@dataclass
class Article:
    """One input document on its way to an `articles` row. Field names match the table's columns."""

    # the file path or URL the document was read from
    source_uri: str = field(metadata=col("VARCHAR", validated=True, as_read=True))
    raw: bytes = b""  # the input as read; dropped after extraction to keep memory flat
    # text/plain or text/html
    media_type: str = field(default="text/plain", metadata=col("VARCHAR", None, staged=False, as_read=True))
    url: str | None = field(
        default=None, metadata=col("VARCHAR", **_ROW, as_read=True)
    )  # canonical when known
    source: str | None = field(
        default=None, metadata=col("VARCHAR", **_ROW, as_read=True)
    )  # site or feed name
    title: str | None = field(default=None, metadata=col("VARCHAR", **_ROW, as_read=True))
    # "source" (from the document) or "derived" (from the lead sentence)
    title_source: str | None = field(default=None, metadata=col("VARCHAR", **_ROW))
    author: str | None = field(default=None, metadata=col("VARCHAR", **_ROW, as_read=True))
    # naive UTC; None when the document does not say
    published_at: datetime | None = field(default=None, metadata=col("TIMESTAMP", **_ROW, as_read=True))
    language: str | None = field(default=None, metadata=col("VARCHAR", **_ROW))
    body: str = field(default="", metadata=col("VARCHAR", **_ROW))
    word_count: int = field(default=0, metadata=col("INTEGER", **_ROW))
    # sha256 of the normalised body
    content_hash: str | None = field(default=None, metadata=col("VARCHAR", validated=True))
    article_id: str | None = field(default=None, metadata=col("VARCHAR", validated=True))
    story_id: str | None = field(default=None, metadata=col("VARCHAR"))
    run_id: str | None = field(default=None, metadata=col("VARCHAR", validated=True))
    ingested_at: datetime | None = field(default=None, metadata=col("TIMESTAMP", validated=True))
    # which reader produced the text: "text" or "trafilatura"
    extractor: str | None = field(default=None, metadata=col("VARCHAR", validated=True))
    # boilerplate removals by rule name (a quarantine payload keeps them as "removed")
    removed_rules: dict[str, int] = field(default_factory=dict, metadata=col("JSON", payload=True))
    # the warning-severity expectations the row failed (a short body, a short title, ...): it landed with them
    quality_flags: list[str] = field(default_factory=list, metadata=col("VARCHAR[]"))
    # `input_digest` of the input the row was extracted from: a later read of the same input is skipped unread
    input_sha256: str | None = field(default=None, metadata=col("VARCHAR"))
    # Set by HTML extraction for the clean stage, not stored: the page's blocks and its meta description.
    blocks: list[Block] = field(default_factory=list)
    description: str | None = None
    # When the source fetched the bytes, if it says (a WARC record's WARC-Date): raw retention's fetched_at.
    fetched_at: datetime | None = None
    # Set by dedupe: the MinHash band keys and shingle count of the compared text, persisted with the row.
    lsh_bands: list[int] = field(default_factory=list, metadata=col("BIGINT[]", "article_lsh"))
    shingle_count: int = field(default=0, metadata=col("INTEGER", "article_minhash"))
    minhash: bytes = field(default=b"", metadata=col("BLOB", "article_minhash"))
    # The whole body's MinHash (`pipeline.dedupe.minhash.pack`: setup, signature, band keys), computed in the
    # extraction worker; staged with the article so that dedupe, in whatever process, need not compute it again.
    body_signature: bytes | None = field(default=None, repr=False, metadata=col("BLOB", None))
    # Dedupe's paragraphs of the body and their keys, computed once (`SiteTemplates.paragraphs`), not stored.
    paragraph_keys: tuple[list[str], list[int]] | None = field(default=None, repr=False)

    def payload(self) -> dict:
        """What quarantine keeps of the article: every field as far as it got, minus raw bytes."""
        out = {}
        for name in PAYLOAD_FIELDS:
            value = getattr(self, name)
            if value in (None, "", 0) or (name == "removed_rules" and not value):
                continue
            if name == "published_at":
                value = value.isoformat()
            out["removed" if name == "removed_rules" else name] = (
                dict(value) if isinstance(value, dict) else value
            )
        return out


def _where(**wanted: Any) -> tuple[str, ...]:
    return tuple(
        f.name for f in fields(Article) if f.metadata and all(f.metadata[k] == v for k, v in wanted.items())
    )


# Column name -> DuckDB type of the staged hand-off (`articles-*.parquet`), in field order.
STAGED_COLUMNS: dict[str, str] = {
    f.name: f.metadata["sql"] for f in fields(Article) if f.metadata and f.metadata["staged"]
}
ARTICLES_COLUMNS: tuple[str, ...] = _where(table="articles")  # the articles table's, besides updated_at
VALIDATED_COLUMNS: tuple[str, ...] = _where(validated=True)  # the frame the GX suite validates
AS_READ_FIELDS: tuple[str, ...] = _where(as_read=True)  # what raw retention keeps of the source's say
AS_READ_TYPES: dict[str, str] = {
    f.name: f.metadata["sql"] for f in fields(Article) if f.name in AS_READ_FIELDS
}
PAYLOAD_FIELDS: tuple[str, ...] = _where(payload=True)
_JSON = frozenset(name for name, sql in STAGED_COLUMNS.items() if sql == "JSON")


def input_digest(article: Article) -> str:
    """sha256 of an input as read: its bytes and what its source said of it (a record's URL, title, date ...),
    so that a JSONL or feed record whose fields changed around the same text is not the same input."""
    digest = hashlib.sha256(article.raw)
    for name in AS_READ_FIELDS:
        digest.update(b"\x1f" + str(getattr(article, name) or "").encode())
    return digest.hexdigest()


def staged_row(article: Article) -> dict:
    """The article as one row of the staged hand-off (JSON columns as JSON text)."""
    row = {name: getattr(article, name) for name in STAGED_COLUMNS}
    for name in _JSON:
        row[name] = json.dumps(row[name], sort_keys=True)
    return row


def article_from_row(row: dict) -> Article:
    """An article back from a staged row (`staged_row`'s inverse)."""
    values = {name: row[name] for name in STAGED_COLUMNS if name in row}
    for name in _JSON & values.keys():
        values[name] = json.loads(values[name] or "{}")
    if values.get("lsh_bands") is None:
        values["lsh_bands"] = []
    values["quality_flags"] = list(
        values.get("quality_flags") if values.get("quality_flags") is not None else []
    )
    for name, empty in (("shingle_count", 0), ("minhash", b"")):
        if values.get(name) is None:
            values[name] = empty
    return Article(**values)


# The other kinds of staged rows (`pipeline.store.staging` writes them; the load reads them).
DUPLICATE_COLUMNS: dict[str, str] = {
    "duplicate_id": "VARCHAR",
    "source_uri": "VARCHAR",
    "url": "VARCHAR",
    "duplicate_of": "VARCHAR",
    "method": "VARCHAR",
    "similarity": "DOUBLE",
    "title": "VARCHAR",
    "content_hash": "VARCHAR",
    "run_id": "VARCHAR",
    "detected_at": "TIMESTAMP",
    "input_sha256": "VARCHAR",  # the input's digest (`input_digest`): read again unchanged, it is skipped
}
QUARANTINE_COLUMNS: dict[str, str] = {
    "quarantine_id": "VARCHAR",
    "run_id": "VARCHAR",
    "stage": "VARCHAR",
    "reason": "VARCHAR",
    "reasons": "VARCHAR[]",
    "detail": "VARCHAR",
    "source_uri": "VARCHAR",
    "payload": "JSON",
    "quarantined_at": "TIMESTAMP",
}
RAW_COLUMNS: dict[str, str] = {
    "raw_id": "VARCHAR",  # sha256(source_uri, sha256 of the bytes)[:16]: one row per version of an input
    **AS_READ_TYPES,  # what the source said: source_uri, media_type, url, source, title, author, published_at
    "sha256": "VARCHAR",
    "bytes": "BIGINT",
    "content": "BLOB",  # zlib-compressed
    "run_id": "VARCHAR",  # the run that first read this version
    "fetched_at": "TIMESTAMP",  # when that run read it
}


@dataclass(frozen=True)
class Quarantined:
    """An input that failed a stage: kept with the stage, reason(s) and payload so it can be fixed and replayed."""

    source_uri: str
    stage: str
    reasons: tuple[str, ...]
    detail: str
    payload: dict


@dataclass(frozen=True)
class Duplicate:
    """An input recognised as a copy of an article that landed (now or in an earlier run)."""

    source_uri: str
    url: str | None
    duplicate_of: str
    method: str  # exact | url | near
    similarity: float
    title: str | None
    content_hash: str | None
    input_sha256: str | None = None  # the digest of the input it was read from (`input_digest`)


@dataclass(frozen=True)
class Skipped:
    """An input already landed with identical content: nothing to do (but to note the bytes it came from, when
    they are not those the row records: `input_sha256`)."""

    source_uri: str
    article_id: str
    input_sha256: str | None = None
