"""The writer's load: a staged run's files into the tables in one transaction, and the run's ledger row.

DuckDB allows one read-write process per file, so only the load step writes (`Store`, opened read-write);
everything before it reads history through a read-only connection (or through the writer's own connection
when the whole run is one process, as in the CLI).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable
from pathlib import Path

import duckdb

from pipeline.clock import utcnow
from pipeline.errors import SetupError, StorageError, storage_cause
from pipeline.models import ARTICLES_COLUMNS, DUPLICATE_COLUMNS, QUARANTINE_COLUMNS, RAW_COLUMNS
from pipeline.store.connection import _memory_limit_mb, in_transaction
from pipeline.store.staging import (
    FEED_STATE_FILE,
    PARAGRAPHS_FILE,
    PART_KINDS,
    ROBOTS_FILE,
    STORIES_FILE,
    verify_manifest,
)

log = logging.getLogger(__name__)

# The share of DuckDB's memory limit (PIPELINE_DB_MEMORY_MB) a load first runs within. DuckDB fills whatever limit
# it has with blocks it could evict (a 200k-article load took all 384 MB, most of it cache); within 256 MB the
# same load took 276 MB and no longer (measured: 14.4 s against 15.2 s), since what it must hold (the new
# rows' index entries, its hash tables) is less. A load that needs more is rolled back and run once more
# within the whole limit, so what loads within the limit still loads.
LOAD_MEMORY_SHARE = 2 / 3

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


class Loader:
    """The load's statements on the writer's connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | str = "the database"):
        self.con, self.path = con, path

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
        manifest = verify_manifest(staged)  # before any write: a part missing or changed publishes nothing
        parts = {kind: manifest.parts(kind) for kind in PART_KINDS}
        started = time.monotonic()
        landed = 0

        def publish() -> None:
            nonlocal landed
            loaded_before = self._run_loaded(run["run_id"])
            # before the articles: a row this run rewrites keeps its own hash
            self._save_rehashed(parts["rehashed"])
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
            self._save_stories(staged / STORIES_FILE, run["run_id"])
            if not loaded_before:
                self._save_paragraphs(staged / PARAGRAPHS_FILE)
            self.record_run(run)
            self.con.execute(
                "UPDATE runs SET loaded_at = coalesce(loaded_at, ?) WHERE run_id = ?",
                [utcnow(), run["run_id"]],
            )
            log.debug("load %s: committing after %.1f s", run["run_id"], time.monotonic() - started)

        limit_mb = _memory_limit_mb()
        tight_mb = int(limit_mb * LOAD_MEMORY_SHARE) if limit_mb else 0
        try:
            try:
                if tight_mb:
                    self._set_memory_limit(tight_mb)
                try:
                    in_transaction(self.con, publish)
                except (duckdb.OutOfMemoryException, duckdb.TransactionException) as exc:
                    if not tight_mb or not _out_of_memory(exc):
                        raise
                    log.info(
                        "load %s: over %d MB of DuckDB memory; rolled back, loading again within %d MB",
                        run["run_id"],
                        tight_mb,
                        limit_mb,
                    )
                    self._set_memory_limit(limit_mb)
                    tight_mb = 0
                    in_transaction(self.con, publish)
            except (duckdb.OutOfMemoryException, duckdb.TransactionException) as exc:
                if not _out_of_memory(exc):
                    self._storage_failed(exc, run["run_id"])
                    raise
                limit = self.con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
                raise SetupError(
                    f"loading run {run['run_id']} ran out of DuckDB's memory limit ({limit}); nothing was published. "
                    "Raise PIPELINE_DB_MEMORY_MB (0 lifts the limit to 80% of RAM), then publish the staged run with "
                    f"`python -m pipeline release {run['run_id']}`"
                ) from exc
            except (duckdb.IOException, duckdb.FatalException, OSError) as exc:
                self._storage_failed(exc, run["run_id"])
                raise
            log.debug(
                "load %s: committed after %.1f s; checkpointing", run["run_id"], time.monotonic() - started
            )
            self.checkpoint(run["run_id"])
            log.debug("load %s: checkpointed, done in %.1f s", run["run_id"], time.monotonic() - started)
        finally:
            if tight_mb:
                self._set_memory_limit(limit_mb)
        return {"landed": landed}

    def _set_memory_limit(self, mb: int) -> None:
        self.con.execute(f"SET memory_limit = '{int(mb)}MB'")

    def checkpoint(self, run_id: str) -> None:
        """The WAL into the file now, not at some later open. A checkpoint that fails loses nothing committed:
        the WAL keeps it and the next open replays it; say so and go on."""
        try:
            self.con.execute("CHECKPOINT")
        except duckdb.Error as exc:
            log.warning(
                "run %s is recorded, but the database could not be checkpointed (%s); its log %s.wal keeps it",
                run_id,
                storage_cause(exc) or str(exc).splitlines()[0],
                self.path,
            )

    def _storage_failed(self, exc: BaseException, run_id: str) -> None:
        """Raise a load that the storage stopped as `StorageError`: rolled back, the run still staged."""
        cause = storage_cause(exc)
        if cause is not None:
            raise StorageError(
                f"loading run {run_id} into {self.path} failed: {cause}; nothing was published",
                f"fix that, then publish the staged run with: python -m pipeline release {run_id} --db {self.path}",
            ) from exc

    def _save_raw(self, files: list[Path]) -> None:
        """Raw documents: a version already stored keeps its first run and fetch time."""
        self._upsert(files, "raw_documents", "raw_id", list(RAW_COLUMNS), first_by="fetched_at", update=False)

    def _save_rehashed(self, files: list[Path]) -> None:
        """Inputs read again with other bytes and the same text, under the path or URL their row landed from:
        the row records the new hash, so that the next read of that input is skipped before extraction."""
        if not files:
            return
        self.con.execute(
            f"""UPDATE articles SET input_sha256 = s.input_sha256
                FROM (SELECT article_id, source_uri, any_value(input_sha256) AS input_sha256
                      FROM read_parquet({_paths(files)}) GROUP BY article_id, source_uri) AS s
                WHERE articles.article_id = s.article_id AND articles.source_uri = s.source_uri
                  AND articles.input_sha256 IS DISTINCT FROM s.input_sha256"""
        )

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
        cols = list(ARTICLES_COLUMNS)
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
            f"FROM {_first_rows(files, 'article_id', 'ingested_at', ['lsh_bands', 'article_id'])}"
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

    def _save_stories(self, file: Path, run_id: str) -> None:
        """Upsert the stories a run started or extended, and index their words; then move the articles of the
        stories it merged into others (after the articles' own upsert, so a retried load converges)."""
        if not file.exists():
            return
        con = self.con
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE staged_story_rows AS
                SELECT * FROM read_json({_paths([file])}, format = 'newline_delimited',
                                        columns = {{story_id: 'VARCHAR', terms: 'JSON', first_seen: 'VARCHAR',
                                                    last_seen: 'VARCHAR', merged_into: 'VARCHAR'}})"""
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE staged_stories AS
                SELECT story_id, arg_max(to_json(terms), CAST(last_seen AS TIMESTAMP)) AS terms,
                       min(CAST(first_seen AS TIMESTAMP)) AS first_seen,
                       max(CAST(last_seen AS TIMESTAMP)) AS last_seen
                FROM staged_story_rows WHERE merged_into IS NULL
                GROUP BY story_id"""
        )
        # The stored stories the run joined were open, so their index rows are among the last (found without
        # reading the rest).
        (oldest,) = con.execute(
            "SELECT min(last_seen) FROM story_index WHERE story_id IN (SELECT story_id FROM staged_stories)"
        ).fetchone()
        # A joined story takes the run's centroid, unless the stored story was seen later (an older run's load
        # retried late); its window widens either way.
        con.execute(
            """MERGE INTO story_index USING staged_stories AS s ON story_index.story_id = s.story_id
               WHEN MATCHED THEN UPDATE SET first_seen = least(story_index.first_seen, s.first_seen),
                                            last_seen = greatest(story_index.last_seen, s.last_seen),
                                            terms = CASE WHEN s.last_seen >= story_index.last_seen
                                                         THEN s.terms ELSE story_index.terms END
               WHEN NOT MATCHED THEN INSERT (story_id, terms, first_seen, last_seen)
                   VALUES (s.story_id, s.terms, s.first_seen, s.last_seen)"""
        )
        # Its index rows become those of the words it now holds (names are not looked up), with its window;
        # appended by each load, they come in the order runs saw them (lookups skip the row groups of closed
        # stories). Not sorted or deduplicated here (a story's keys are distinct): at 100k stories a sort held
        # millions of rows in memory.
        if oldest is not None:
            con.execute(
                """DELETE FROM story_terms
                   WHERE last_seen >= ? AND story_id IN (SELECT story_id FROM staged_stories)""",
                [oldest],
            )
        con.execute(
            """INSERT INTO story_terms (term, story_id, first_seen, last_seen)
               SELECT term, story_id, first_seen, last_seen
               FROM (SELECT unnest(json_keys(i.terms, '$.terms')) AS term, i.story_id, i.first_seen, i.last_seen
                     FROM story_index i WHERE i.story_id IN (SELECT story_id FROM staged_stories))
               WHERE NOT starts_with(term, '@')"""
        )
        con.execute("DROP TABLE staged_stories")
        self._merge_stories(run_id)
        con.execute("DROP TABLE staged_story_rows")

    def _merge_stories(self, run_id: str) -> None:
        """A story of one article that a run merged into another (`StoryStage.merges`): its article takes the
        other's id, its index rows go, and `story_merges` keeps what went where."""
        con = self.con
        con.execute(
            """CREATE OR REPLACE TEMP TABLE staged_merges AS
               SELECT story_id, any_value(merged_into) AS merged_into
               FROM staged_story_rows WHERE merged_into IS NOT NULL GROUP BY story_id"""
        )
        (merges,) = con.execute("SELECT count(*) FROM staged_merges").fetchone()
        if merges:
            con.execute(
                """UPDATE articles SET story_id = m.merged_into
                   FROM staged_merges m WHERE articles.story_id = m.story_id"""
            )
            (oldest,) = con.execute(
                "SELECT min(last_seen) FROM story_index WHERE story_id IN (SELECT story_id FROM staged_merges)"
            ).fetchone()
            if oldest is not None:  # stored by an earlier run (a story of this run's was never saved)
                con.execute(
                    """DELETE FROM story_terms
                       WHERE last_seen >= ? AND story_id IN (SELECT story_id FROM staged_merges)""",
                    [oldest],
                )
                con.execute("DELETE FROM story_index WHERE story_id IN (SELECT story_id FROM staged_merges)")
            con.execute(
                """INSERT INTO story_merges (story_id, merged_into, run_id, merged_at)
                   SELECT story_id, merged_into, ?, ? FROM staged_merges
                   ON CONFLICT (story_id) DO NOTHING""",
                [run_id, utcnow()],
            )
        con.execute("DROP TABLE staged_merges")

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


def _out_of_memory(exc: BaseException) -> bool:
    """DuckDB ran out of its memory limit (at COMMIT it says so in a TransactionException)."""
    return isinstance(exc, duckdb.OutOfMemoryException) or bool(re.search("allocate|pin block", str(exc)))


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
