"""The read side: what the stages ask of the landed history (dedupe, stories, fetching, reprocess).

History does not change during a run (the load comes after), so the questions are asked in bulk where a run
asks many (one query answers a chunk of articles), and none of them loads the history into memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import duckdb

from pipeline.clock import utcnow
from pipeline.models import RAW_COLUMNS

ROBOTS_MAX_AGE = timedelta(hours=24)  # a host's robots.txt is asked for again after this

# The index rows of the stories open in the lookups' window that hold one of `terms` (a subquery).
_STORY_POSTINGS = """SELECT term, story_id, first_seen, last_seen FROM story_terms
    WHERE last_seen >= $low AND first_seen <= $high AND term IN ({terms})"""
_STORY_POSTINGS_JOINED = """SELECT t.term, t.story_id, s.first_seen, s.last_seen
    FROM story_terms t JOIN story_index s ON s.story_id = t.story_id
    WHERE s.last_seen >= $low AND s.first_seen <= $high AND t.term IN ({terms})"""


class StoryLookup(NamedTuple):
    """What an article finds stories by: its words and their weights, and its window."""

    terms: list[str]
    weights: list[float]
    start: datetime
    end: datetime


class History:
    """Queries on one connection (a DuckDB connection serves one call at a time: `for_thread` for another)."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def for_thread(self) -> History:
        """The same database on a cursor of its own, for another thread (the document feeder's web reader asks
        about feeds and articles through it while dedupe queries on this one). Close it when done."""
        return History(self.con.cursor())

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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

    def landed_from(self, source_uris: list[str]) -> dict[tuple[str, str], str]:
        """(source_uri, input_sha256) -> article_id of what these inputs became, with the bytes each was read
        from: the row it landed as, or the article it was recorded as duplicating (a landed row wins)."""
        found: dict[tuple[str, str], str] = {}
        for table, article in (("article_duplicates", "duplicate_of"), ("articles", "article_id")):
            try:
                rows = self.con.execute(
                    f"SELECT source_uri, input_sha256, {article} FROM {table} "
                    "SEMI JOIN (SELECT unnest(?) AS uri) ON source_uri = uri WHERE input_sha256 IS NOT NULL",
                    [source_uris],
                ).fetchall()
            except duckdb.BinderException:  # a database from before the column, opened read-only
                continue
            found.update(((uri, digest), article_id) for uri, digest, article_id in rows)
        return found

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

    def story_candidates(self, lookups: Sequence[StoryLookup], limit: int, common: int) -> list[list[str]]:
        """For each lookup (an article's words, their weights, its window), the `limit` stories open in the
        window that share the most of its weight, best first: one query for all of them.

        A word in more than `common` of the stories open in the lookups' window (all of them together) finds
        no story: it names no event. A story is open in a window it overlaps, first seen before its end and
        last seen after its start. Only the index rows of stories last seen after the earliest start are read.
        """
        if not lookups:
            return []
        number, term, weight = [], [], []
        for i, lookup in enumerate(lookups):
            number.extend([i] * len(lookup.terms))
            term.extend(lookup.terms)
            weight.extend(lookup.weights)
        params = {
            "number": number,
            "term": term,
            "weight": weight,
            "numbers": list(range(len(lookups))),
            "starts": [lookup.start for lookup in lookups],
            "ends": [lookup.end for lookup in lookups],
            "low": min(lookup.start for lookup in lookups),
            "high": max(lookup.end for lookup in lookups),
            "common": common,
            "limit": limit,
        }
        try:
            rows = self._story_candidates(_STORY_POSTINGS, params)
        except duckdb.BinderException:  # a database from before story_terms had windows, opened read-only
            rows = self._story_candidates(_STORY_POSTINGS_JOINED, params)
        except duckdb.CatalogException:  # a database from before the story tables, opened read-only
            return [[] for _ in lookups]
        found: list[list[str]] = [[] for _ in lookups]
        for i, story_id in rows:
            found[i].append(story_id)
        return found

    def _story_candidates(self, postings: str, params: dict) -> list[tuple[int, str]]:
        # The usable words and their postings are materialized first: left to itself, DuckDB joined the asked
        # words with every posting (75M rows for a batch of 500 against 7.8M index rows) before dropping the
        # common words, and ran out of memory.
        counted = postings.format(terms="SELECT term FROM asked")
        usable = postings.format(terms="SELECT term FROM usable")
        return self.con.execute(
            f"""WITH asked AS (SELECT unnest($number) AS number, unnest($term) AS term,
                                      unnest($weight) AS weight),
                     windows AS (SELECT unnest($numbers) AS number, unnest($starts) AS start,
                                        unnest($ends) AS "end"),
                     counted AS ({counted}),
                     usable AS MATERIALIZED (SELECT term FROM counted GROUP BY term HAVING count(*) <= $common),
                     postings AS MATERIALIZED ({usable}),
                     shared AS (
                         SELECT a.number, p.story_id, sum(a.weight) AS shared
                         FROM asked a
                         JOIN postings p ON p.term = a.term
                         JOIN windows w ON w.number = a.number
                         WHERE p.last_seen >= w.start AND p.first_seen <= w."end"
                         GROUP BY a.number, p.story_id)
                SELECT number, story_id FROM shared
                QUALIFY row_number() OVER (PARTITION BY number ORDER BY shared DESC, story_id) <= $limit
                ORDER BY number, shared DESC, story_id""",
            params,
        ).fetchall()

    def stories(self, story_ids: list[str]) -> Iterator[tuple[str, dict, datetime, datetime]]:
        """The stored stories of these ids: (story_id, stored terms, first seen, last seen)."""
        try:
            rows = self.con.execute(
                """SELECT story_id, terms, first_seen, last_seen FROM story_index
                   WHERE story_id IN (SELECT unnest(?))""",
                [story_ids],
            ).fetchall()
        except duckdb.CatalogException:  # a database from before the story tables, opened read-only
            return
        for story_id, terms, first, last in rows:
            yield story_id, json.loads(terms), first, last
