"""The DuckDB store: schema and migrations, history lookups for dedupe, and the single-writer load.

DuckDB allows one read-write process per file, so only `Store(..., read_only=False)` writes, and only the
load step needs it; the stages that run before it read history through a read-only connection (or through the
writer's own connection when the whole run is one process, as in the CLI).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pipeline.errors import SetupError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 2: the feeds, robots and story tables
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

_DDL = """
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
    SELECT stage, reason, count(*) AS inputs, max(quarantined_at) AS last_seen
    FROM (SELECT stage, unnest(reasons) AS reason, quarantined_at FROM quarantine) GROUP BY ALL;
"""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def connect(path: Path, read_only: bool = False, lock_timeout_s: float = 0.0) -> duckdb.DuckDBPyConnection:
    """Open the database, turning lock and permission failures into `SetupError`s that say what to do."""
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SetupError(f"cannot create the database folder {path.parent}: {exc.strerror}") from exc
    deadline = time.monotonic() + lock_timeout_s
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" in message.lower():
                if time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                holder = message.split("Conflicting lock is held in", 1)[-1].strip().split("\n")[0]
                raise SetupError(
                    f"database {path} is locked by another process ({holder.rstrip('.')}); "
                    "wait for it to finish or pass another --db"
                ) from exc
            raise SetupError(f"cannot open database {path}: {message.splitlines()[0]}") from exc
        except (duckdb.Error, OSError) as exc:
            raise SetupError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from exc


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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def migrate(self) -> None:
        try:
            self.con.execute(_DDL)
            current = self.con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
            if current is None or current < SCHEMA_VERSION:  # the DDL above added what was missing
                self.con.execute("INSERT INTO schema_version VALUES (?, ?)", [SCHEMA_VERSION, utcnow()])
            elif current > SCHEMA_VERSION:
                raise SetupError(
                    f"database {self.path} has schema version {current}, newer than this pipeline's "
                    f"{SCHEMA_VERSION}; upgrade the pipeline"
                )
        except duckdb.Error as exc:
            raise SetupError(f"cannot set up database {self.path}: {str(exc).splitlines()[0]}") from exc

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
        return [StoryRow(sid, json.loads(t), first, last) for sid, t, first, last in rows]

    # The load: one transaction per run.

    def load(self, staged: Path, run: dict) -> dict[str, int]:
        """Publish a run's staged Parquet files into the tables in one transaction, then CHECKPOINT.

        Re-loading the same staging folder converges: every table is upserted on its key.
        """
        parts = {
            kind: sorted(staged.glob(f"{kind}-*.parquet"))
            for kind in ("articles", "duplicates", "quarantine")
        }
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            landed = self._load_articles(parts["articles"])
            self._upsert(parts["duplicates"], "article_duplicates", "duplicate_id", DUPLICATE_COLUMNS)
            self._upsert(parts["quarantine"], "quarantine", "quarantine_id", QUARANTINE_COLUMNS)
            self._save_feed_states(staged / FEED_STATE_FILE)
            self._save_robots(staged / ROBOTS_FILE)
            self._save_stories(staged / STORIES_FILE)
            self._save_paragraphs(staged / PARAGRAPHS_FILE)
            self.record_run(run)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("CHECKPOINT")
        return {"landed": landed}

    def _load_articles(self, files: list[Path]) -> int:
        if not files:
            return 0
        con = self.con
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE staged_articles AS
                SELECT * FROM read_parquet({_paths(files)})
                QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY ingested_at) = 1"""
        )
        cols = [c for c in ARTICLE_COLUMNS if c not in ("shingle_count", "minhash", "lsh_bands")]
        updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in ("article_id", "ingested_at"))
        con.execute(
            f"""INSERT INTO articles ({", ".join(cols)}, updated_at)
                SELECT {", ".join(cols)}, ingested_at FROM staged_articles
                ON CONFLICT (article_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at"""
        )
        con.execute("DELETE FROM article_lsh WHERE article_id IN (SELECT article_id FROM staged_articles)")
        con.execute("INSERT INTO article_lsh SELECT unnest(lsh_bands), article_id FROM staged_articles")
        con.execute(
            """INSERT INTO article_minhash SELECT article_id, shingle_count, minhash FROM staged_articles
               ON CONFLICT (article_id) DO UPDATE SET shingle_count = excluded.shingle_count,
                                                     minhash = excluded.minhash"""
        )
        landed = con.execute("SELECT count(*) FROM staged_articles").fetchone()[0]
        con.execute("DROP TABLE staged_articles")
        return landed

    def _upsert(self, files: list[Path], table: str, key: str, columns: dict[str, str]) -> None:
        if not files:
            return
        names = ", ".join(columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
        self.con.execute(
            f"""INSERT INTO {table} ({names})
                SELECT {names} FROM read_parquet({_paths(files)})
                QUALIFY row_number() OVER (PARTITION BY {key}) = 1
                ON CONFLICT ({key}) DO UPDATE SET {updates}"""
        )

    def _save_feed_states(self, file: Path) -> None:
        """Upsert the feed states a run staged (one JSON object per fetched feed)."""
        if not file.exists():
            return
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
        if not file.exists():
            return
        self.con.execute(
            f"""INSERT INTO host_paragraphs
                SELECT host, paragraph_key, articles FROM read_parquet({_paths([file])})
                ON CONFLICT (host, paragraph_key) DO UPDATE SET
                    articles = host_paragraphs.articles + excluded.articles"""
        )

    def _save_stories(self, file: Path) -> None:
        """Upsert the stories a run started or extended, and index the terms of new ones."""
        if not file.exists():
            return
        con = self.con
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE staged_stories AS
                SELECT story_id, to_json(terms) AS terms, CAST(first_seen AS TIMESTAMP) AS first_seen,
                       CAST(last_seen AS TIMESTAMP) AS last_seen
                FROM read_json({_paths([file])}, format = 'newline_delimited',
                               columns = {{story_id: 'VARCHAR', terms: 'JSON', first_seen: 'VARCHAR',
                                           last_seen: 'VARCHAR'}})"""
        )
        con.execute(
            """INSERT INTO story_terms SELECT DISTINCT unnest(json_keys(terms)), story_id FROM staged_stories
               WHERE story_id NOT IN (SELECT story_id FROM story_index)"""
        )
        con.execute(
            """INSERT INTO story_index SELECT * FROM staged_stories
               ON CONFLICT (story_id) DO UPDATE SET
                   first_seen = least(story_index.first_seen, excluded.first_seen),
                   last_seen = greatest(story_index.last_seen, excluded.last_seen)"""
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


def _paths(files: Iterable[Path]) -> str:
    return "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in files) + "]"
