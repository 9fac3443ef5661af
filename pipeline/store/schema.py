"""The schema: migrations as data, applied in order, and the views; never edited once released.

Each migration is applied in one transaction together with its `schema_version` row, so a file is always at one
version or the next. The query modules (`history`, `load`) never change the schema.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipeline.clock import utcnow
from pipeline.errors import SetupError, StorageError, storage_cause
from pipeline.store.connection import in_transaction

log = logging.getLogger(__name__)

# Schema migrations: version -> what brings a database from the version before to it, in order. Each is applied
# in one transaction together with its `schema_version` row, so a file is always at one version or the next.
# A released migration is never edited: the next change is a new version. The statements are idempotent
# (IF NOT EXISTS), which lets `restore_missing_tables` apply one again (see there). A migration may also be a
# callable taking the connection, for changes SQL alone cannot make (backfills computed in Python).
_V1_WALKING_SKELETON = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    article_id VARCHAR PRIMARY KEY,
    source_uri VARCHAR NOT NULL,
    url VARCHAR,
    source VARCHAR,
    title VARCHAR NOT NULL,
    title_source VARCHAR NOT NULL,
    author VARCHAR,
    published_at TIMESTAMP,          -- UTC; NULL when the document does not say
    language VARCHAR,
    body VARCHAR NOT NULL,
    word_count INTEGER NOT NULL,
    content_hash VARCHAR NOT NULL,   -- sha256 of the case/space/punctuation-folded body
    story_id VARCHAR,
    run_id VARCHAR NOT NULL,         -- the run that landed (or last updated) the row
    ingested_at TIMESTAMP NOT NULL,  -- UTC, first landing
    updated_at TIMESTAMP NOT NULL,   -- UTC, last change
    extractor VARCHAR,
    removed_rules JSON               -- boilerplate removals by rule name
);
CREATE TABLE IF NOT EXISTS article_minhash (
    article_id VARCHAR PRIMARY KEY,
    shingle_count INTEGER NOT NULL,
    minhash BLOB NOT NULL            -- little-endian uint32 MinHash signature
);
CREATE TABLE IF NOT EXISTS article_lsh (band_key BIGINT NOT NULL, article_id VARCHAR NOT NULL);
CREATE INDEX IF NOT EXISTS article_lsh_band ON article_lsh (band_key);
CREATE INDEX IF NOT EXISTS articles_content_hash ON articles (content_hash);
CREATE TABLE IF NOT EXISTS article_duplicates (
    duplicate_id VARCHAR PRIMARY KEY,
    source_uri VARCHAR NOT NULL,
    url VARCHAR,
    duplicate_of VARCHAR NOT NULL,   -- the article_id it copies
    method VARCHAR NOT NULL,         -- exact | url | near
    similarity DOUBLE NOT NULL,
    title VARCHAR,
    content_hash VARCHAR,
    run_id VARCHAR NOT NULL,
    detected_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    quarantine_id VARCHAR PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,         -- the reasons joined with '; '
    reasons VARCHAR[] NOT NULL,
    detail VARCHAR,
    source_uri VARCHAR NOT NULL,
    payload JSON,                    -- the article as far as it got
    quarantined_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY,
    trigger VARCHAR NOT NULL,        -- cli | scheduled | manual | test
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    status VARCHAR NOT NULL,         -- running | success | failed
    sources JSON,
    "read" INTEGER,
    landed INTEGER,
    duplicates INTEGER,
    quarantined INTEGER,
    skipped INTEGER,
    counts JSON,                     -- every stage counter of the run
    error VARCHAR
);
"""
_V2_FETCH_STATE_STORIES_TEMPLATES = """
CREATE TABLE IF NOT EXISTS feeds (
    feed_url VARCHAR PRIMARY KEY,    -- as configured
    name VARCHAR,
    etag VARCHAR,                    -- validators for the next conditional GET
    last_modified VARCHAR,
    last_fetch_at TIMESTAMP,         -- UTC
    last_status INTEGER,             -- HTTP status of the last fetch (304: unchanged); NULL: no response
    last_error VARCHAR,              -- the reason of the last failure (timeout, http_404, not_a_feed, ...)
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_success_at TIMESTAMP,
    entries_last_fetch INTEGER       -- entries the last successful fetch listed
);
CREATE TABLE IF NOT EXISTS robots (
    origin VARCHAR PRIMARY KEY,      -- scheme://host[:port]
    robots_txt VARCHAR,              -- NULL: the host has none (4xx), everything is allowed
    fetched_at TIMESTAMP NOT NULL    -- UTC
);
CREATE TABLE IF NOT EXISTS host_paragraphs (
    host VARCHAR NOT NULL,
    paragraph_key BIGINT NOT NULL,   -- hash of the folded paragraph
    articles INTEGER NOT NULL,       -- landed or seen articles of the host that carried it
    PRIMARY KEY (host, paragraph_key)
);
CREATE TABLE IF NOT EXISTS story_index (
    story_id VARCHAR PRIMARY KEY,    -- the article_id of the story's first article
    terms JSON NOT NULL,             -- {terms: centroid term -> weight, mentioned: [name], anchors: [name]}
    first_seen TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS story_terms (term VARCHAR NOT NULL, story_id VARCHAR NOT NULL);
CREATE INDEX IF NOT EXISTS story_terms_term ON story_terms (term);
"""
_V3_RUNS_LOADED_AT = """
ALTER TABLE runs ADD COLUMN IF NOT EXISTS loaded_at TIMESTAMP;  -- UTC, when a load first published the run
UPDATE runs SET loaded_at = ended_at WHERE status = 'success' AND loaded_at IS NULL;  -- until now, only loads
"""
_V4_RAW_DOCUMENTS = """
CREATE TABLE IF NOT EXISTS raw_documents (
    raw_id VARCHAR PRIMARY KEY,      -- one row per version (content) of an input
    source_uri VARCHAR NOT NULL,
    media_type VARCHAR,
    url VARCHAR,
    source VARCHAR,
    title VARCHAR,                   -- what the source said before extraction (feed entry, record fields)
    author VARCHAR,
    published_at TIMESTAMP,
    sha256 VARCHAR NOT NULL,         -- of the raw bytes
    bytes BIGINT NOT NULL,
    content BLOB NOT NULL,           -- the raw bytes, zlib-compressed
    run_id VARCHAR,                  -- the run that first read this version ...
    fetched_at TIMESTAMP             -- ... and when (UTC)
);
CREATE INDEX IF NOT EXISTS raw_documents_source_uri ON raw_documents (source_uri);
ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS resolved_by_run VARCHAR;  -- the run that landed it later
"""
# The LSH band index was never used: band lookups are a hash semi-join that scans article_lsh. It cost most of a
# load's memory (an ART of 64 entries per article: 6.4 million for 100k articles, held whole to commit).
_V5_NO_BAND_INDEX = """
DROP INDEX IF EXISTS article_lsh_band;
"""
# The warning-severity expectations a landed row failed (validation quarantines on critical ones only).
_V6_QUALITY_FLAGS = """
ALTER TABLE articles ADD COLUMN IF NOT EXISTS quality_flags VARCHAR[];
UPDATE articles SET quality_flags = [] WHERE quality_flags IS NULL;
"""
# The digest of the input each row came from, so that reading the same input again costs a hash and a lookup.
_V7_INPUT_SHA256 = """
ALTER TABLE articles ADD COLUMN IF NOT EXISTS input_sha256 VARCHAR;
"""
# The same for an input recorded as a duplicate: read again unchanged, it is skipped without extraction too.
_V8_DUPLICATE_INPUT_SHA256 = """
ALTER TABLE article_duplicates ADD COLUMN IF NOT EXISTS input_sha256 VARCHAR;
"""
# Stories are compared by their whole text from here on: a story stored with its first article's lead terms
# would be compared by other measures, so the stories of earlier runs are closed (their articles keep their
# story_id; later reports start stories of their own).
_V9_WHOLE_TEXT_STORIES = """
DELETE FROM story_terms;
DELETE FROM story_index;
"""
# A story's index rows carry its window, in the order stories were last seen, so a lookup reads only the row
# groups of stories open around the articles it asks for (DuckDB skips the others by their min/max): its cost
# follows the articles, not the length of the history. The ART index on term was never used by those lookups
# (a join on a list of terms scans), and cost memory at each load.
_V10_STORY_TERMS_WINDOW = """
DROP INDEX IF EXISTS story_terms_term;
CREATE TABLE story_terms_v10 (
    term VARCHAR NOT NULL,
    story_id VARCHAR NOT NULL,
    first_seen TIMESTAMP NOT NULL,   -- the story's, as story_index has them
    last_seen TIMESTAMP NOT NULL
);
INSERT INTO story_terms_v10
    SELECT t.term, t.story_id, s.first_seen, s.last_seen
    FROM story_terms t JOIN story_index s ON s.story_id = t.story_id
    ORDER BY s.last_seen, t.story_id;
DROP TABLE story_terms;
ALTER TABLE story_terms_v10 RENAME TO story_terms;
"""
# A story of one article can go into another when a later report joins both (`pipeline.stories`): its article
# takes the other's story_id, and this table keeps what went where.
_V11_STORY_MERGES = """
CREATE TABLE IF NOT EXISTS story_merges (
    story_id VARCHAR PRIMARY KEY,    -- the story that went (its article's story_id before)
    merged_into VARCHAR NOT NULL,    -- the story its article is in now
    run_id VARCHAR NOT NULL,         -- the run that merged it
    merged_at TIMESTAMP NOT NULL     -- UTC
);
"""
Migration = str | Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: tuple[tuple[int, Migration], ...] = (
    (1, _V1_WALKING_SKELETON),  # articles, signatures, duplicates, quarantine, runs
    (2, _V2_FETCH_STATE_STORIES_TEMPLATES),  # feeds, robots, host_paragraphs, story_index, story_terms
    (3, _V3_RUNS_LOADED_AT),  # runs.loaded_at: a retried load adds a run's template counts once
    (4, _V4_RAW_DOCUMENTS),  # raw_documents (raw retention, reprocess), quarantine.resolved_by_run
    (5, _V5_NO_BAND_INDEX),  # article_lsh without its ART index on band_key
    (6, _V6_QUALITY_FLAGS),  # articles.quality_flags
    (7, _V7_INPUT_SHA256),  # articles.input_sha256
    (8, _V8_DUPLICATE_INPUT_SHA256),  # article_duplicates.input_sha256
    (9, _V9_WHOLE_TEXT_STORIES),  # story_index.terms: a story's centroid, mentions and anchors
    (10, _V10_STORY_TERMS_WINDOW),  # story_terms.first_seen, last_seen; no index on term
    (11, _V11_STORY_MERGES),  # story_merges: stories of one article merged into others
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
_CREATED_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")

# Views hold no data: every read-write open replaces them after migrating, so changing one needs no version.
VIEWS = """
CREATE OR REPLACE VIEW stories AS
    SELECT story_id,
           count(*) AS article_count,
           list(DISTINCT source ORDER BY source) AS sources,
           min(coalesce(published_at, ingested_at)) AS first_seen,
           max(coalesce(published_at, ingested_at)) AS last_seen,
           -- the first report's headline; one the pipeline derived from a body only when no report had one
           arg_min(title, (title_source <> 'source', coalesce(published_at, ingested_at))) AS title
    FROM articles GROUP BY story_id;
CREATE OR REPLACE VIEW daily_source_counts AS
    SELECT CAST(coalesce(published_at, ingested_at) AS DATE) AS day, source, count(*) AS articles
    FROM articles GROUP BY ALL;
CREATE OR REPLACE VIEW quarantine_reasons AS
    SELECT source, stage, reason, count(*) AS inputs, max(quarantined_at) AS last_seen
    FROM (SELECT coalesce(json_extract_string(payload, '$.source'),
                          nullif(regexp_extract(source_uri, '^https?://([^/]+)', 1), ''),
                          nullif(regexp_extract(source_uri, '([^/]+)/[^/#]+(#.*)?$', 1), ''),
                          source_uri) AS source,
                 stage, unnest(reasons) AS reason, quarantined_at
          FROM quarantine WHERE resolved_by_run IS NULL)
    GROUP BY ALL;
"""


def migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Bring the file to `SCHEMA_VERSION`: each missing migration in its own transaction, then the views.

    A file made by an earlier version upgrades in place; one made by a newer pipeline is refused untouched.
    """
    try:
        current = current_version(con)
        if current > SCHEMA_VERSION:
            raise SetupError(
                f"database {path} has schema version {current}, newer than this pipeline's "
                f"{SCHEMA_VERSION}; upgrade the pipeline"
            )
        restore_missing_tables(con, path, current)
        for version, migration in MIGRATIONS:
            if version > current:
                _apply(con, version, migration)
                log.info("database %s: schema version %d -> %d", path, current, version)
                current = version
        in_transaction(con, lambda: con.execute(VIEWS))
    except duckdb.Error as exc:
        if (cause := storage_cause(exc)) is not None:
            raise StorageError(f"cannot set up database {path}: {cause}", "fix that, then run again") from exc
        raise SetupError(f"cannot set up database {path}: {str(exc).splitlines()[0]}") from exc


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The highest migration applied to the file; 0 for a new (empty) file."""
    try:
        return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
    except duckdb.CatalogException:
        return 0


def _apply(con: duckdb.DuckDBPyConnection, version: int, migration: Migration, record: bool = True) -> None:
    def run() -> None:
        if isinstance(migration, str):
            con.execute(migration)
        else:
            migration(con)
        if record:
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, utcnow()])

    in_transaction(con, run)


def restore_missing_tables(con: duckdb.DuckDBPyConnection, path: Path, current: int) -> None:
    """Apply again an applied migration one of whose tables is missing.

    Version 2 grew while it was the newest (feeds first, then robots, the story tables, host_paragraphs),
    and a file stamped 2 by an early build lacks the later tables; the old schema-as-one-script setup
    created them on the next open, so this keeps doing it. The statements are idempotent.
    """
    present = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    restored = False
    for version, migration in MIGRATIONS:
        if version > current or not isinstance(migration, str):
            continue
        missing = set(_CREATED_TABLE.findall(migration)) - present
        if missing:
            log.warning(
                "database %s: schema version %d lacks %s; creating them",
                path,
                version,
                ", ".join(sorted(missing)),
            )
            restored = True
        if restored:  # and the applied migrations after it again, which may change what it made
            _apply(con, version, migration, record=False)
