"""The DuckDB store: schema and migrations, history lookups for dedupe, and the single-writer load.

DuckDB allows one read-write process per file, so only `Store(..., read_only=False)` writes, and only the
load step needs it; the stages that run before it read history through a read-only connection (or through the
writer's own connection when the whole run is one process, as in the CLI).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pipeline.errors import SetupError

log = logging.getLogger(__name__)

ROBOTS_MAX_AGE = timedelta(hours=24)  # a host's robots.txt is asked for again after this

# Column name -> DuckDB type. The staging Parquet files use the same names and types.
ARTICLE_COLUMNS: dict[str, str] = {
    "article_id": "VARCHAR",
    "source_uri": "VARCHAR",
    "url": "VARCHAR",
    "source": "VARCHAR",
    "title": "VARCHAR",
    "title_source": "VARCHAR",
    "author": "VARCHAR",
    "published_at": "TIMESTAMP",
    "language": "VARCHAR",
    "body": "VARCHAR",
    "word_count": "INTEGER",
    "content_hash": "VARCHAR",
    "story_id": "VARCHAR",
    "run_id": "VARCHAR",
    "ingested_at": "TIMESTAMP",
    "extractor": "VARCHAR",
    "removed_rules": "JSON",
    "shingle_count": "INTEGER",
    "minhash": "BLOB",
    "lsh_bands": "BIGINT[]",
}
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

FEED_COLUMNS = (
    "feed_url",
    "name",
    "etag",
    "last_modified",
    "last_fetch_at",
    "last_status",
    "last_error",
    "consecutive_failures",
    "last_success_at",
    "entries_last_fetch",
)
FEED_STATE_FILE = "feeds.json"  # in a run's staging folder: the feed states it leaves
ROBOTS_FILE = "robots.json"  # ... and the robots.txt answers it got
STORIES_FILE = "stories.jsonl"  # ... and the stories it started or extended
PARAGRAPHS_FILE = "host_paragraphs.parquet"  # ... and the paragraphs each site's articles carried

# Schema migrations: version -> what brings a database from the version before to it, in order. Each is applied
# in one transaction together with its `schema_version` row, so a file is always at one version or the next.
# A released migration is never edited: the next change is a new version. The statements are idempotent
# (IF NOT EXISTS), which lets `_restore_missing_tables` apply one again (see there). A migration may also be a
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
    story_id VARCHAR PRIMARY KEY,    -- the article_id of the story's first article, its representative
    terms JSON NOT NULL,             -- the representative's lead terms and their weights
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
Migration = str | Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: tuple[tuple[int, Migration], ...] = (
    (1, _V1_WALKING_SKELETON),  # articles, signatures, duplicates, quarantine, runs
    (2, _V2_FETCH_STATE_STORIES_TEMPLATES),  # feeds, robots, host_paragraphs, story_index, story_terms
    (3, _V3_RUNS_LOADED_AT),  # runs.loaded_at: a retried load adds a run's template counts once
    (4, _V4_RAW_DOCUMENTS),  # raw_documents (raw retention, reprocess), quarantine.resolved_by_run
    (5, _V5_NO_BAND_INDEX),  # article_lsh without its ART index on band_key
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
_CREATED_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")

# Views hold no data: every read-write open replaces them after migrating, so changing one needs no version.
_VIEWS = """
CREATE OR REPLACE VIEW stories AS
    SELECT story_id,
           count(*) AS article_count,
           list(DISTINCT source ORDER BY source) AS sources,
           min(coalesce(published_at, ingested_at)) AS first_seen,
           max(coalesce(published_at, ingested_at)) AS last_seen,
           arg_min(title, coalesce(published_at, ingested_at)) AS title
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
# The whole schema as one script (pipeline.bench keys its cached databases by it).
_DDL = "".join(m for _, m in MIGRATIONS if isinstance(m, str)) + _VIEWS
LOCK_RETRY_INTERVAL_S = 0.5  # how often a locked database is tried again, within `lock_timeout_s`


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _memory_limit_mb() -> int:
    from pipeline.settings import Settings

    return Settings.from_env().db_memory_mb


def connect(path: Path, read_only: bool = False, lock_timeout_s: float = 0.0) -> duckdb.DuckDBPyConnection:
    """Open the database, turning lock and permission failures into `SetupError`s that say what to do.

    DuckDB lets one process open a file read-write, or any number read-only, never both. While another
    process holds the file, the open is tried again every `LOCK_RETRY_INTERVAL_S` for up to `lock_timeout_s`
    (each retry logged); then it fails saying who holds the lock.
    """
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SetupError(f"cannot create the database folder {path.parent}: {exc.strerror}") from exc
    deadline = time.monotonic() + lock_timeout_s
    attempts = 0
    while True:
        attempts += 1
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            # DuckDB draws a progress bar on stdout for statements over 2 s (a big load's COMMIT): not into
            # `ingest --json` output or task logs
            con.execute("SET enable_progress_bar = false")
            if limit_mb := _memory_limit_mb():  # PIPELINE_DB_MEMORY_MB; DuckDB's default is 80% of RAM
                con.execute(f"SET memory_limit = '{limit_mb}MB'")
            return con
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" not in message.lower():
                raise SetupError(f"cannot open database {path}: {message.splitlines()[0]}") from exc
            remaining = deadline - time.monotonic()
            if remaining > 0:
                log.info(
                    "database %s is locked by another process; attempt %d failed, retrying for %.1f s more",
                    path,
                    attempts,
                    remaining,
                )
                time.sleep(min(LOCK_RETRY_INTERVAL_S, remaining))
                continue
            raise SetupError(_locked_message(path, message, attempts, lock_timeout_s)) from exc
        except (duckdb.Error, OSError) as exc:
            raise SetupError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from exc


def _locked_message(path: Path, duckdb_message: str, attempts: int, lock_timeout_s: float) -> str:
    # DuckDB says: ... Conflicting lock is held in /usr/bin/python3 (PID 123). See also https://...
    holder = duckdb_message.split("Conflicting lock is held in", 1)[-1].split("\n")[0]
    holder = holder.split(". See also", 1)[0].strip().rstrip(".")
    if attempts > 1:
        return (
            f"database {path} is locked by another process ({holder}), and still was after retrying for "
            f"{lock_timeout_s:g} s ({attempts} attempts); wait for it to finish, pass another --db, or wait "
            "longer with --lock-timeout (PIPELINE_LOCK_TIMEOUT_S)"
        )
    return (
        f"database {path} is locked by another process ({holder}); wait for it to finish, pass another --db, "
        "or let the open retry with --lock-timeout SECONDS (PIPELINE_LOCK_TIMEOUT_S)"
    )


class Store:
    """A connection to the article database with the queries the pipeline needs."""

    def __init__(self, path: Path, read_only: bool = False, lock_timeout_s: float = 0.0):
        self.path = Path(path)
        self.read_only = read_only
        self.con = connect(self.path, read_only, lock_timeout_s)
        if not read_only:
            self.migrate()

    @classmethod
    def for_reading(cls, path: Path, lock_timeout_s: float = 0.0) -> Store | None:
        """A read-only store, or None when the database does not exist yet (no history)."""
        return cls(path, read_only=True, lock_timeout_s=lock_timeout_s) if Path(path).exists() else None

    def close(self) -> None:
        self.con.close()

    def for_thread(self) -> Store:
        """The same database on a connection of its own, for another thread (a DuckDB connection serves one
        call at a time): the document feeder's web reader asks about feeds and articles through it while
        dedupe queries on this one. Close it when done."""
        view = copy.copy(self)
        view.con = self.con.cursor()
        return view

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def migrate(self) -> None:
        """Bring the file to `SCHEMA_VERSION`: each missing migration in its own transaction, then the views.

        A file made by an earlier version upgrades in place; one made by a newer pipeline is refused untouched.
        """
        try:
            current = self.schema_version()
            if current > SCHEMA_VERSION:
                raise SetupError(
                    f"database {self.path} has schema version {current}, newer than this pipeline's "
                    f"{SCHEMA_VERSION}; upgrade the pipeline"
                )
            self._restore_missing_tables(current)
            for version, migration in MIGRATIONS:
                if version > current:
                    self._apply(version, migration)
                    log.info("database %s: schema version %d -> %d", self.path, current, version)
                    current = version
            self._in_transaction(lambda: self.con.execute(_VIEWS))
        except duckdb.Error as exc:
            raise SetupError(f"cannot set up database {self.path}: {str(exc).splitlines()[0]}") from exc

    def schema_version(self) -> int:
        """The highest migration applied to the file; 0 for a new (empty) file."""
        try:
            return self.con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        except duckdb.CatalogException:
            return 0

    def _apply(self, version: int, migration: Migration, record: bool = True) -> None:
        def run() -> None:
            if isinstance(migration, str):
                self.con.execute(migration)
            else:
                migration(self.con)
            if record:
                self.con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, utcnow()])

        self._in_transaction(run)

    def _in_transaction(self, work: Callable[[], object]) -> None:
        self.con.execute("BEGIN TRANSACTION")
        try:
            work()
            self.con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # the error that got us here is the one to report
                self.con.execute("ROLLBACK")
            raise

    def _restore_missing_tables(self, current: int) -> None:
        """Apply again an applied migration one of whose tables is missing.

        Version 2 grew while it was the newest (feeds first, then robots, the story tables, host_paragraphs),
        and a file stamped 2 by an early build lacks the later tables; the old schema-as-one-script setup
        created them on the next open, so this keeps doing it. The statements are idempotent.
        """
        present = {
            name
            for (name,) in self.con.execute(
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
                    self.path,
                    version,
                    ", ".join(sorted(missing)),
                )
                restored = True
            if restored:  # and the applied migrations after it again, which may change what it made
                self._apply(version, migration, record=False)

    # History lookups used by dedupe, in bulk: one query answers a whole chunk of articles.

    def landed_hashes(self, article_ids: list[str]) -> dict[str, str]:
        """article_id -> content_hash, for those of `article_ids` that are landed."""
        return dict(
            self.con.execute(
                "SELECT article_id, content_hash FROM articles WHERE article_id = ANY(?)", [article_ids]
            ).fetchall()
        )

    def ids_for_hashes(self, content_hashes: list[str]) -> dict[str, str]:
        """content_hash -> the first landed article with that folded body."""
        return dict(
            self.con.execute(
                "SELECT content_hash, arg_min(article_id, ingested_at) FROM articles "
                "WHERE content_hash = ANY(?) GROUP BY content_hash",
                [content_hashes],
            ).fetchall()
        )

    def known_duplicates(self, source_uris: list[str]) -> dict[tuple[str, str], str]:
        """(source_uri, content_hash) -> the article that input was recorded as duplicating."""
        rows = self.con.execute(
            "SELECT source_uri, content_hash, duplicate_of FROM article_duplicates "
            "SEMI JOIN (SELECT unnest(?) AS uri) ON source_uri = uri",
            [source_uris],
        ).fetchall()
        return {(uri, chash): original for uri, chash, original in rows}

    def band_members(self, band_keys: list[int]) -> dict[int, list[str]]:
        """LSH band key -> landed articles in that bucket."""
        # A semi join against the list: faster than `= ANY(?)` or `IN (SELECT unnest(?))` for thousands of keys
        rows = self.con.execute(
            "SELECT band_key, article_id FROM article_lsh SEMI JOIN (SELECT unnest(?) AS k) ON band_key = k",
            [band_keys],
        ).fetchall()
        members: dict[int, list[str]] = {}
        for key, aid in rows:
            members.setdefault(key, []).append(aid)
        return members

    def signatures(self, article_ids: list[str]) -> dict[str, tuple[int, bytes]]:
        """article_id -> (shingle count, MinHash bytes) of landed articles."""
        # `= ANY(?)` probes the primary key; `IN (SELECT unnest(?))` would scan the whole table (20x slower)
        rows = self.con.execute(
            "SELECT article_id, shingle_count, minhash FROM article_minhash WHERE article_id = ANY(?)",
            [article_ids],
        ).fetchall()
        return {aid: (shingles, blob) for aid, shingles, blob in rows}

    def paragraph_counts(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """(host, paragraph key) -> how many landed articles of that host carried the paragraph."""
        try:
            rows = self.con.execute(
                "SELECT host, paragraph_key, articles FROM host_paragraphs "
                "SEMI JOIN (SELECT unnest(?) AS k) ON paragraph_key = k",
                [list({key for _, key in keys})],
            ).fetchall()
        except duckdb.CatalogException:  # a database from before the table, opened read-only
            return {}
        wanted = set(keys)
        return {(host, key): n for host, key, n in rows if (host, key) in wanted}

    # Raw retention: the inputs as read, for reprocess and replay.

    def raw_source_uris(self, quarantined_only: bool = False, run_id: str | None = None) -> list[str]:
        """Inputs with a stored raw document, first read first; optionally only those whose latest outcome
        was quarantine, or only those a given run read."""
        where = []
        if quarantined_only:
            where.append(
                "source_uri IN (SELECT source_uri FROM quarantine WHERE resolved_by_run IS NULL) "
                "AND source_uri NOT IN (SELECT source_uri FROM articles) "
                "AND source_uri NOT IN (SELECT source_uri FROM article_duplicates)"
            )
        if run_id:
            where.append(
                "source_uri IN (SELECT source_uri FROM raw_documents WHERE run_id = $run "
                "UNION ALL SELECT source_uri FROM articles WHERE run_id = $run "
                "UNION ALL SELECT source_uri FROM article_duplicates WHERE run_id = $run "
                "UNION ALL SELECT source_uri FROM quarantine WHERE run_id = $run)"
            )
        sql = "SELECT source_uri FROM raw_documents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " GROUP BY source_uri ORDER BY min(fetched_at), source_uri"
        return [u for (u,) in self.con.execute(sql, {"run": run_id} if run_id else {}).fetchall()]

    def raw_rows(self, source_uris: list[str], batch: int = 500) -> Iterator[tuple]:
        """The latest stored version of each input, in `RAW_COLUMNS` order, streamed on a cursor of its own
        (dedupe's lookups use the main connection meanwhile)."""
        from pipeline.raw import RAW_COLUMNS

        cur = self.con.cursor()
        try:
            cur.execute(
                f"""SELECT {", ".join(RAW_COLUMNS)} FROM raw_documents
                    WHERE source_uri IN (SELECT unnest($uris))
                    QUALIFY row_number() OVER (PARTITION BY source_uri ORDER BY fetched_at DESC, raw_id) = 1
                    ORDER BY fetched_at, source_uri""",
                {"uris": source_uris},
            )
            while rows := cur.fetchmany(batch):
                yield from rows
        finally:
            cur.close()

    def article_exists(self, article_id: str) -> bool:
        return (
            self.con.execute("SELECT 1 FROM articles WHERE article_id = ?", [article_id]).fetchone()
            is not None
        )

    def feed_state(self, feed_url: str) -> dict | None:
        """What the last fetch of a feed left: validators for a conditional GET, status, failures."""
        try:
            rel = self.con.execute("SELECT * FROM feeds WHERE feed_url = ?", [feed_url])
        except duckdb.CatalogException:  # a database from before the feeds table, opened read-only
            return None
        row = rel.fetchone()
        return dict(zip([d[0] for d in rel.description], row, strict=True)) if row else None

    def fresh_robots(self, max_age: timedelta = ROBOTS_MAX_AGE) -> dict[str, str | None]:
        """robots.txt answers younger than `max_age`, by origin, so a run does not ask a host again."""
        try:
            rows = self.con.execute(
                "SELECT origin, robots_txt FROM robots WHERE fetched_at >= ?", [utcnow() - max_age]
            ).fetchall()
        except duckdb.CatalogException:  # a database from before the robots table, opened read-only
            return {}
        return dict(rows)

    def has_stories(self) -> bool:
        """Whether any story landed yet (a fresh database has none: a run then asks no story queries)."""
        try:
            return bool(self.con.execute("SELECT EXISTS (SELECT 1 FROM story_index)").fetchone()[0])
        except duckdb.CatalogException:  # a database from before the story tables, opened read-only
            return False

    def story_candidates(self, terms: list[str], start: datetime, end: datetime) -> list:
        """Stories sharing a lead term with an article and seen between `start` and `end`."""
        from pipeline.stories import StoryRow

        try:
            rows = self.con.execute(
                """SELECT story_id, terms, first_seen, last_seen FROM story_index
                   WHERE last_seen >= ? AND first_seen <= ?
                     AND story_id IN (SELECT story_id FROM story_terms WHERE term IN (SELECT unnest(?)))""",
                [start, end, terms],
            ).fetchall()
        except duckdb.CatalogException:  # a database from before the story tables, opened read-only
            return []
        return [StoryRow.of(sid, json.loads(t), first, last) for sid, t, first, last in rows]

    # The load: one transaction per run.

    def load(self, staged: Path, run: dict) -> dict[str, int]:
        """Publish a run's staged Parquet files into the tables in one transaction, then CHECKPOINT.

        Each batch is deduplicated on its key, then upserted: the big tables (articles, their signatures, raw
        documents, duplicates, quarantine) by an UPDATE of the keys they hold and an INSERT of the others, which
        stream row by row within DuckDB's memory limit (a MERGE builds its join over the whole batch: 1.2 GB
        for 100k articles); the small aggregates by MERGE. Re-loading the same staging folder
        converges: every table is upserted on its key, and host_paragraphs, whose counts add up, takes a run's
        counts once (a retry after a load that committed, e.g. one killed in its CHECKPOINT, adds nothing). A
        process that dies inside the load leaves the database as it was: the transaction never committed.
        """
        parts = {
            kind: sorted(staged.glob(f"{kind}-*.parquet"))
            for kind in ("articles", "duplicates", "quarantine", "raw")
        }
        started = time.monotonic()
        landed = 0

        def publish() -> None:
            nonlocal landed
            loaded_before = self._run_loaded(run["run_id"])
            landed = self._load_articles(parts["articles"])
            self._upsert(
                parts["duplicates"],
                "article_duplicates",
                "duplicate_id",
                DUPLICATE_COLUMNS,
                "detected_at DESC",
            )
            self._upsert(
                parts["quarantine"], "quarantine", "quarantine_id", QUARANTINE_COLUMNS, "quarantined_at DESC"
            )
            self._save_raw(parts["raw"])
            self._resolve_quarantine(parts["articles"] + parts["duplicates"], run["run_id"])
            self._save_feed_states(staged / FEED_STATE_FILE)
            self._save_robots(staged / ROBOTS_FILE)
            self._save_stories(staged / STORIES_FILE)
            if not loaded_before:
                self._save_paragraphs(staged / PARAGRAPHS_FILE)
            self.record_run(run)
            self.con.execute(
                "UPDATE runs SET loaded_at = coalesce(loaded_at, ?) WHERE run_id = ?",
                [utcnow(), run["run_id"]],
            )
            log.debug("load %s: committing after %.1f s", run["run_id"], time.monotonic() - started)

        try:
            self._in_transaction(publish)
        except (duckdb.OutOfMemoryException, duckdb.TransactionException) as exc:
            if not isinstance(exc, duckdb.OutOfMemoryException) and not re.search(
                "allocate|pin block", str(exc)
            ):
                raise
            limit = self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
            raise SetupError(
                f"loading run {run['run_id']} ran out of DuckDB's memory limit ({limit}); nothing was published. "
                "Raise PIPELINE_DB_MEMORY_MB (0 lifts the limit to 80% of RAM), then publish the staged run with "
                f"`python -m pipeline release {run['run_id']}`"
            ) from exc
        log.debug("load %s: committed after %.1f s; checkpointing", run["run_id"], time.monotonic() - started)
        self.con.execute("CHECKPOINT")  # the WAL into the file now, not at some later open
        log.debug("load %s: checkpointed, done in %.1f s", run["run_id"], time.monotonic() - started)
        return {"landed": landed}

    def _save_raw(self, files: list[Path]) -> None:
        """Raw documents: a version already stored keeps its first run and fetch time."""
        from pipeline.raw import RAW_COLUMNS

        self._upsert(files, "raw_documents", "raw_id", list(RAW_COLUMNS), first_by="fetched_at", update=False)

    def _resolve_quarantine(self, files: list[Path], run_id: str) -> None:
        """Quarantine rows of inputs this run landed or recorded as duplicates (a replay after a fix)."""
        if not files:
            return
        self.con.execute(
            f"""UPDATE quarantine SET resolved_by_run = ?
                WHERE resolved_by_run IS NULL AND run_id <> ?
                  AND source_uri IN (SELECT source_uri FROM read_parquet({_paths(files)}, union_by_name = true))""",
            [run_id, run_id],
        )

    def _run_loaded(self, run_id: str) -> bool:
        """Whether a load of this run committed already (it sets the run's loaded_at in its transaction)."""
        row = self.con.execute("SELECT loaded_at FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return row is not None and row[0] is not None

    def _load_articles(self, files: list[Path]) -> int:
        if not files:
            return 0
        # One row per article: its first ingestion. A landed article keeps its first ingested_at; updated_at
        # says when a later run last rewrote it.
        cols = [c for c in ARTICLE_COLUMNS if c not in ("shingle_count", "minhash", "lsh_bands")]
        self._upsert(
            files,
            "articles",
            "article_id",
            cols,
            first_by="ingested_at",
            update=[c for c in cols if c not in ("article_id", "ingested_at")],
            also={"updated_at": "ingested_at"},
        )
        self.con.execute(
            f"DELETE FROM article_lsh WHERE article_id IN (SELECT article_id FROM read_parquet({_paths(files)}))"
        )
        self.con.execute(
            "INSERT INTO article_lsh SELECT unnest(lsh_bands), article_id "
            f"FROM {_first_rows(files, 'article_id', 'ingested_at')}"
        )
        self._upsert(
            files, "article_minhash", "article_id", ["article_id", "shingle_count", "minhash"], "ingested_at"
        )
        return self.con.execute(
            f"SELECT count(DISTINCT article_id) FROM read_parquet({_paths(files)})"
        ).fetchone()[0]

    def _upsert(
        self,
        files: list[Path],
        table: str,
        key: str,
        columns: list[str] | dict[str, str],
        first_by: str,
        update: bool | list[str] = True,
        also: dict[str, str] | None = None,
    ) -> None:
        """Upsert staged rows into `table` on `key`, one row per key: the first by `first_by` (a column, with
        DESC for the newest). Rows whose key the table holds get their `update` columns (all but the key when
        True, none when False); the others are inserted. `also` maps further target columns to source columns.

        An UPDATE of the held keys, then an INSERT of the rest: both stream, where a MERGE would hold the batch.
        """
        if not files:
            return
        columns, also = list(columns), also or {}
        update = [c for c in columns if c != key] if update is True else update or []
        staged = _first_rows(files, key, first_by, columns)
        con = self.con
        if update:
            sets = ", ".join(f"{c} = s.{c}" for c in update) + "".join(
                f", {t} = s.{c}" for t, c in also.items()
            )
            con.execute(
                f"""UPDATE {table} SET {sets}
                    FROM (SELECT * FROM {staged} AS r SEMI JOIN {table} USING ({key})) AS s
                    WHERE {table}.{key} = s.{key}"""
            )
        targets = ", ".join([*columns, *also])
        values = ", ".join([*(f"s.{c}" for c in columns), *(f"s.{c}" for c in also.values())])
        con.execute(
            f"""INSERT INTO {table} ({targets}) SELECT {values} FROM {staged} AS s
                WHERE s.{key} NOT IN (SELECT {key} FROM {table})"""
        )

    def _save_feed_states(self, file: Path) -> None:
        """Upsert the feed states a run staged (one JSON object per fetched feed)."""
        if not file.exists():
            return
        # Feeds, robots and the run's ledger row are upserted one row per statement, with bound values: there
        # is no batch to deduplicate, and ON CONFLICT is the plain single-row upsert (MERGE would need each row
        # wrapped as a one-row USING subquery, and would do the same).
        for state in json.loads(file.read_text()):
            row = {k: state.get(k) for k in FEED_COLUMNS}
            names = ", ".join(FEED_COLUMNS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in FEED_COLUMNS if c != "feed_url")
            self.con.execute(
                f"INSERT INTO feeds ({names}) VALUES ({', '.join('?' for _ in FEED_COLUMNS)}) "
                f"ON CONFLICT (feed_url) DO UPDATE SET {updates}",
                [row[c] for c in FEED_COLUMNS],
            )

    def _save_paragraphs(self, file: Path) -> None:
        """Add a run's per-site paragraph counts to those of earlier runs."""
        if not file.exists():
            return
        self.con.execute(
            f"""MERGE INTO host_paragraphs USING (
                    SELECT host, paragraph_key, sum(articles) AS articles FROM read_parquet({_paths([file])})
                    GROUP BY host, paragraph_key
                ) AS s ON host_paragraphs.host = s.host AND host_paragraphs.paragraph_key = s.paragraph_key
                WHEN MATCHED THEN UPDATE SET articles = host_paragraphs.articles + s.articles
                WHEN NOT MATCHED THEN INSERT (host, paragraph_key, articles)
                    VALUES (s.host, s.paragraph_key, s.articles)"""
        )

    def _save_stories(self, file: Path) -> None:
        """Upsert the stories a run started or extended, and index the terms of new ones."""
        if not file.exists():
            return
        con = self.con
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE staged_stories AS
                SELECT story_id, arg_min(to_json(terms), CAST(first_seen AS TIMESTAMP)) AS terms,
                       min(CAST(first_seen AS TIMESTAMP)) AS first_seen,
                       max(CAST(last_seen AS TIMESTAMP)) AS last_seen
                FROM read_json({_paths([file])}, format = 'newline_delimited',
                               columns = {{story_id: 'VARCHAR', terms: 'JSON', first_seen: 'VARCHAR',
                                           last_seen: 'VARCHAR'}})
                GROUP BY story_id"""
        )
        con.execute(
            """INSERT INTO story_terms SELECT DISTINCT unnest(json_keys(terms)), story_id FROM staged_stories
               WHERE story_id NOT IN (SELECT story_id FROM story_index)"""
        )
        con.execute(
            """MERGE INTO story_index USING staged_stories AS s ON story_index.story_id = s.story_id
               WHEN MATCHED THEN UPDATE SET first_seen = least(story_index.first_seen, s.first_seen),
                                            last_seen = greatest(story_index.last_seen, s.last_seen)
               WHEN NOT MATCHED THEN INSERT (story_id, terms, first_seen, last_seen)
                   VALUES (s.story_id, s.terms, s.first_seen, s.last_seen)"""
        )
        con.execute("DROP TABLE staged_stories")

    def _save_robots(self, file: Path) -> None:
        if not file.exists():
            return
        staged = json.loads(file.read_text())
        for origin, entry in staged.items():
            self.con.execute(
                "INSERT INTO robots VALUES (?, ?, ?) ON CONFLICT (origin) DO UPDATE SET "
                "robots_txt = excluded.robots_txt, fetched_at = excluded.fetched_at",
                [origin, entry["robots_txt"], entry["fetched_at"]],
            )

    def record_run(self, run: dict) -> None:
        """Insert or update the run's ledger row."""
        row = dict(run)
        row["sources"] = json.dumps(row.get("sources", []))
        row["counts"] = json.dumps(row.get("counts", {}))
        names = list(row)
        quoted = ", ".join(f'"{n}"' for n in names)
        updates = ", ".join(f'"{n}" = excluded."{n}"' for n in names if n != "run_id")
        self.con.execute(
            f"INSERT INTO runs ({quoted}) VALUES ({', '.join('?' for _ in names)}) "
            f"ON CONFLICT (run_id) DO UPDATE SET {updates}",
            [row[n] for n in names],
        )

    def run_summary(self, run_id: str) -> dict | None:
        """The ledger row of a run, as a dict, or None if it was never recorded."""
        rel = self.con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        row = rel.fetchone()
        if row is None:
            return None
        out = dict(zip([d[0] for d in rel.description], row, strict=True))
        out["db"] = str(self.path)
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in out.items()}

    def count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _first_rows(files: list[Path], key: str, first_by: str, columns: Iterable[str] | None = None) -> str:
    """A subquery over staged Parquet files with one row per `key`, the first by `first_by`.

    Only the key and order columns pass through the window, by file and row number; the rows themselves
    stream through a semi-join on those. (A window over whole rows holds the run's bodies in memory.)
    """
    source = f"read_parquet({_paths(files)}, filename = true, file_row_number = true)"
    picked = ", ".join(columns) if columns is not None else "* EXCLUDE (filename, file_row_number)"
    return f"""(SELECT {picked} FROM {source}
               SEMI JOIN (SELECT filename, file_row_number FROM {source}
                          QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {first_by}) = 1) AS first_rows
               USING (filename, file_row_number))"""


def _paths(files: Iterable[Path]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
