"""The store against what befalls a writer: kill -9 inside a load, a second process, a file from an older version.

The kill tests load a large generated run (Parquet in the layout `StagingWriter` writes) in a child process
that says on stdout when it reaches `Store.load` and when the load commits. The test kills it with SIGKILL
after a random delay, reopens the file and compares every table with the state before the load, then loads
the run again and compares with an uninterrupted load of it into a copy of the same database.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from pipeline.errors import SetupError
from pipeline.models import DUPLICATE_COLUMNS, QUARANTINE_COLUMNS, STAGED_COLUMNS
from pipeline.store import Store
from pipeline.store import connection as connect_module
from pipeline.store import schema as schema_module
from pipeline.store.history import StoryLookup
from pipeline.store.schema import MIGRATIONS, SCHEMA_VERSION
from pipeline.store.staging import FEED_STATE_FILE, PARAGRAPHS_FILE, ROBOTS_FILE, STORIES_FILE, write_manifest

ROOT = Path(__file__).resolve().parents[2]
BIG_RUN = 40_000  # articles in the killed load: 3-5 s here, a third of it before COMMIT
FIRST_RUN = 2_000
TABLES = (
    "schema_version",
    "articles",
    "article_minhash",
    "article_lsh",
    "article_duplicates",
    "quarantine",
    "runs",
    "feeds",
    "robots",
    "host_paragraphs",
    "story_index",
    "story_terms",
)


# Generated staged runs


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def stage_run(folder: Path, run_id: str, first: int, n: int, ingested_at: datetime, parts: int = 4) -> dict:
    """A run's staging folder as `process_run` leaves it, for articles first..first+n; returns its ledger row.

    Besides the articles (five of them staged twice, later), duplicates (up to five judged twice), quarantine,
    per-site paragraph counts, stories (one every 10 articles), feed states and robots.txt answers.
    """
    folder.mkdir(parents=True)
    at = f"TIMESTAMP '{ingested_at}'"
    later = f"({at} + INTERVAL 1 HOUR)"
    article = {
        "article_id": "printf('a%08d', i)",
        "source_uri": "printf('/in/%08d.txt', i)",
        "url": "printf('https://example.org/%08d', i)",
        "source": "printf('site%02d', i % 17)",
        "title": f"printf('Headline %d of {run_id}', i)",
        "title_source": "'text'",
        "author": "CASE WHEN i % 3 = 0 THEN 'A. Writer' END",
        "published_at": "TIMESTAMP '2026-01-01' + to_minutes(i)",
        "language": "'en'",
        "body": f"repeat(md5('{run_id}' || i) || ' ', 30)",
        "word_count": "30",
        "content_hash": f"sha256('{run_id}' || i)",
        "story_id": "printf('a%08d', i - i % 10)",
        "run_id": f"'{run_id}'",
        "ingested_at": at,
        "extractor": "'text'",
        "removed_rules": """'{"share_links": 1}'""",
        "quality_flags": "[]",
        "shingle_count": "28",
        "minhash": f"from_hex(repeat(md5('{run_id}' || i), 16))",
        "lsh_bands": f"list_transform(range(64), lambda b: (hash('{run_id}', i, b) >> 1)::BIGINT)",
        "body_signature": "NULL",
        "input_sha256": "NULL",
    }
    duplicate = {
        "duplicate_id": "printf('d%08d', i)",
        "source_uri": "printf('/copies/%08d.txt', i)",
        "url": "NULL",
        "duplicate_of": "printf('a%08d', i)",
        "method": "'exact'",
        "similarity": "1.0",
        "title": f"'copy in {run_id}'",
        "content_hash": f"sha256('{run_id}' || i)",
        "run_id": f"'{run_id}'",
        "detected_at": at,
        "input_sha256": "NULL",
    }
    quarantined = {
        "quarantine_id": f"printf('q-{run_id}-%08d', i)",
        "run_id": f"'{run_id}'",
        "stage": "'validate'",
        "reason": "'too_short'",
        "reasons": "['too_short']",
        "detail": "'body has 3 words'",
        "source_uri": "printf('/bad/%08d.txt', i)",
        "payload": "'{}'",
        "quarantined_at": at,
    }

    def copy(columns: dict[str, str], exprs: dict[str, str], lo: int, hi: int, file: str) -> None:
        select = ", ".join(f'CAST({exprs[c]} AS {t}) AS "{c}"' for c, t in columns.items())
        con.execute(
            f"COPY (SELECT {select} FROM range({lo}, {hi}) t(i)) TO {_sql_path(folder / file)} (FORMAT parquet)"
        )

    per = n // parts
    with duckdb.connect() as con:
        for p in range(parts):
            lo = first + p * per
            copy(STAGED_COLUMNS, article, lo, lo + per, f"articles-{p:05d}.parquet")
        again = {**article, "title": "'a later copy'", "ingested_at": later}  # dedupe keeps the first
        copy(STAGED_COLUMNS, again, first, first + 5, f"articles-{parts:05d}.parquet")
        copy(DUPLICATE_COLUMNS, duplicate, first, first + n // 20, "duplicates-00000.parquet")
        newest = {**duplicate, "title": "'newest judgement'", "detected_at": later}  # ... and the newest
        copy(DUPLICATE_COLUMNS, newest, first, first + min(5, n // 20), "duplicates-00001.parquet")
        copy(QUARANTINE_COLUMNS, quarantined, first, first + n // 20, "quarantine-00000.parquet")
        # one paragraph key per 10 articles: runs of overlapping ranges share keys
        con.execute(
            f"""COPY (SELECT printf('site%02d', k % 17) AS host, k::BIGINT AS paragraph_key,
                             1::INTEGER AS articles
                      FROM range({first // 10}, {(first + n) // 10}) t(k))
                TO {_sql_path(folder / PARAGRAPHS_FILE)} (FORMAT parquet)"""
        )
    stories = [
        {
            "story_id": f"a{i:08d}",
            "terms": {
                "terms": {f"term{i}": 1.0, run_id: 0.5, f"@{run_id}": 1.0},
                "mentioned": [],
                "anchors": [],
            },
            "first_seen": (ingested_at - timedelta(days=1)).isoformat(),
            "last_seen": ingested_at.isoformat(),
        }
        for i in range(first, first + n, 10)
    ]
    (folder / STORIES_FILE).write_text("".join(json.dumps(s) + "\n" for s in stories))
    feeds = [
        {
            "feed_url": f"https://example.org/feed{k}.xml",
            "name": f"feed {k}",
            "etag": f'"{run_id}-{k}"',
            "last_fetch_at": ingested_at.isoformat(),
            "last_status": 200,
            "consecutive_failures": 0,
        }
        for k in range(3)
    ]
    (folder / FEED_STATE_FILE).write_text(json.dumps(feeds))
    robots = {
        f"https://host{k}.example": {"robots_txt": f"# {run_id}", "fetched_at": ingested_at.isoformat()}
        for k in range(2)
    }
    (folder / ROBOTS_FILE).write_text(json.dumps(robots))
    write_manifest(folder)  # as a run's last staging step does
    return {
        "run_id": run_id,
        "trigger": "test",
        "started_at": ingested_at.isoformat(),
        "ended_at": ingested_at.isoformat(),
        "status": "success",
        "sources": [str(folder)],
        "read": n + 2 * (n // 20),
        "landed": n,
        "duplicates": n // 20,
        "quarantined": n // 20,
        "skipped": 0,
        "counts": {"load": {"in": n}},
        "error": None,
    }


_COLUMNS = {"runs": "* EXCLUDE (loaded_at)"}  # when a load happened differs from one load to the next


def fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """Each table's row count and order-free checksum, and a checksum of article ids and content hashes."""
    out = {
        t: con.execute(
            f"SELECT count(*), sum(hash(*COLUMNS({_COLUMNS.get(t, '*')}))::HUGEINT) FROM {t}"
        ).fetchone()
        for t in TABLES
    }
    out["article ids/hashes"] = con.execute(
        "SELECT count(*), md5(string_agg(article_id || ':' || content_hash, ',' ORDER BY article_id)) "
        "FROM articles"
    ).fetchone()
    return out


def store_fingerprint(path: Path, read_only: bool = False) -> dict[str, tuple]:
    with Store.for_reading(path) if read_only else Store(path) as store:
        return fingerprint(store.con)


# The loading child


def load_in_child() -> None:
    """`python -c` entry: load argv[2] (a staging folder) into argv[1], telling the load's steps on stdout.

    With argv[4] == "die-after-commit", the child SIGKILLs itself as soon as the load's transaction commits,
    before the CHECKPOINT that follows it.
    """
    db, staged, run = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    handler = logging.StreamHandler(sys.stdout)  # flushes after each line
    handler.setFormatter(logging.Formatter("%(message)s"))
    store_log = logging.getLogger("pipeline.store")
    store_log.addHandler(handler)
    store_log.setLevel(logging.DEBUG)
    from pipeline.store import load as load_module

    with Store(db) as store:
        if sys.argv[4:] == ["die-after-commit"]:  # the load's transaction is its `in_transaction` call
            commit = load_module.in_transaction

            def commit_then_die(con, work) -> None:
                commit(con, work)
                os.kill(os.getpid(), signal.SIGKILL)

            load_module.in_transaction = commit_then_die
        print("ready", flush=True)  # just before the load
        store.load(staged, run)
    print("exit", flush=True)


class LoadChild:
    """A child process loading a staged run, and the lines it printed, with when the test read each."""

    def __init__(self, db: Path, staged: Path, run: dict, *mode: str):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from tests.store.test_store_durability import load_in_child; load_in_child()",
                str(db),
                str(staged),
                json.dumps(run),
                *mode,
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put((time.monotonic(), line.strip()))
        self._queue.put((time.monotonic(), None))

    def wait_for(self, text: str, timeout: float = 300) -> float:
        """When the test read the child's line containing `text`; fails if the child ends first."""
        while True:
            at, line = self._queue.get(timeout=timeout)
            if line is None:
                self.proc.wait()
                pytest.fail(f"the loading child ended ({self.proc.returncode}): {self.proc.stderr.read()}")
            self.lines.append(line)
            if text in line:
                return at

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)  # if it has ended already, its lines say so
        self.finish()

    def finish(self) -> None:
        self.proc.wait(timeout=300)
        self._reader.join(timeout=30)
        while not self._queue.empty():
            _, line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        self.proc.stdout.close()
        self.proc.stderr.close()

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)


@dataclass
class BigLoad:
    staged: Path  # the big run's staging folder
    run: dict
    before: Path  # a database holding the first run; the tests load into copies
    before_state: dict
    after_state: dict  # the big run loaded, uninterrupted, into a copy of `before`
    # How long that load took from its start to COMMIT, then in COMMIT (where DuckDB writes the data, and
    # checkpoints when the WAL is large) and the CHECKPOINT after it
    transaction_s: float
    commit_s: float


@pytest.fixture(scope="module")
def big_load(tmp_path_factory) -> BigLoad:
    root = tmp_path_factory.mktemp("big_load")
    run1 = stage_run(root / "run1", "run1", 0, FIRST_RUN, datetime(2026, 2, 1, 8))
    # the big run lands BIG_RUN articles, rewriting the second half of run1's
    run2 = stage_run(root / "run2", "run2", FIRST_RUN // 2, BIG_RUN, datetime(2026, 2, 2, 8))
    before = root / "before.duckdb"
    with Store(before) as store:
        store.load(root / "run1", run1)
    reference = root / "reference.duckdb"
    shutil.copy(before, reference)
    child = LoadChild(reference, root / "run2", run2)
    ready = child.wait_for("ready")
    committing = child.wait_for("committing")
    checkpointed = child.wait_for("checkpointed")
    child.finish()
    assert child.proc.returncode == 0 and child.said("exit")
    after_state = store_fingerprint(reference, read_only=True)
    assert after_state["articles"][0] == FIRST_RUN // 2 + BIG_RUN
    return BigLoad(
        staged=root / "run2",
        run=run2,
        before=before,
        before_state=store_fingerprint(before, read_only=True),
        after_state=after_state,
        transaction_s=committing - ready,
        commit_s=checkpointed - committing,
    )


def kill_and_reopen(db: Path, big_load: BigLoad, after: str, window_s: float) -> tuple[dict, LoadChild]:
    """Start loading the big run into `db`, SIGKILL the child at a random point of the `window_s` seconds after
    it printed `after`, and return the fingerprint the reopened file shows (read-only, as the next run's
    process step opens it, and the same read-write); the child's lines are printed for a failing test."""
    child = LoadChild(db, big_load.staged, big_load.run)
    child.wait_for(after)
    delay = random.uniform(0.05, 0.9) * window_s
    time.sleep(delay)
    child.kill()
    print(f"SIGKILL {delay:.2f} s after {after!r} (window {window_s:.2f} s); the child said: {child.lines}")
    state = store_fingerprint(db, read_only=True)
    assert store_fingerprint(db) == state
    return state, child


def test_kill_9_inside_the_load_leaves_the_previous_state_and_a_rerun_converges(big_load, tmp_path):
    db = tmp_path / "articles.duckdb"
    shutil.copy(big_load.before, db)
    for _ in range(3):  # the same file, killed three times at random points of the transaction
        state, child = kill_and_reopen(db, big_load, "ready", big_load.transaction_s)
        if child.said("committed"):  # a slow start: the kill found the load committed (and the file loaded)
            assert state == big_load.after_state
            break
        if child.said("committing"):  # killed around COMMIT: all or nothing
            assert state in (big_load.before_state, big_load.after_state)
            break
        assert state == big_load.before_state  # no trace of the load
    with Store(db) as store:  # the retry
        store.load(big_load.staged, big_load.run)
    assert store_fingerprint(db) == big_load.after_state
    assert store_fingerprint(db, read_only=True) == big_load.after_state


def test_kill_9_during_the_commit_is_all_or_nothing_and_a_rerun_converges(big_load, tmp_path):
    """Killed in COMMIT or in the checkpoint after it: the load is in the file entirely (replayed from the WAL) or
    not at all, and loading the run again (an Airflow retry: the staging folder is still there) converges."""
    db = tmp_path / "articles.duckdb"
    shutil.copy(big_load.before, db)
    state, _ = kill_and_reopen(db, big_load, "committing", big_load.commit_s)
    assert state in (big_load.before_state, big_load.after_state)
    print("after the kill the file holds", "the load" if state == big_load.after_state else "no trace of it")
    with Store(db) as store:
        store.load(big_load.staged, big_load.run)
    # and when the load had committed, the retry added its template counts no second time
    assert store_fingerprint(db) == big_load.after_state


def test_kill_9_between_commit_and_checkpoint_keeps_the_load_from_the_wal(tmp_path):
    """Committed but not checkpointed: the WAL holds the load, reopening replays it, a retry changes nothing."""
    run1 = stage_run(tmp_path / "run1", "run1", 0, 500, datetime(2026, 2, 1, 8))
    run2 = stage_run(tmp_path / "run2", "run2", 250, 3000, datetime(2026, 2, 2, 8))  # a WAL under 16 MiB
    db, reference = tmp_path / "articles.duckdb", tmp_path / "reference.duckdb"
    with Store(db) as store:
        store.load(tmp_path / "run1", run1)
    shutil.copy(db, reference)
    with Store(reference) as store:
        store.load(tmp_path / "run2", run2)
    loaded = store_fingerprint(reference)

    child = LoadChild(db, tmp_path / "run2", run2, "die-after-commit")
    child.finish()
    assert child.proc.returncode == -signal.SIGKILL and not child.said("checkpointed")
    assert db.with_name(db.name + ".wal").stat().st_size > 0
    assert store_fingerprint(db, read_only=True) == loaded
    assert store_fingerprint(db) == loaded
    with Store(db) as store:  # an Airflow retry of the load task: the staging folder is still there
        store.load(tmp_path / "run2", run2)
    assert store_fingerprint(db) == loaded  # host_paragraphs took the run's counts once


def test_the_load_merges_deduplicated_batches(tmp_path):
    """What the MERGEs keep of the ON CONFLICT upserts: first ingestion, last update, added template counts."""
    db = tmp_path / "articles.duckdb"
    feb1, feb2 = datetime(2026, 2, 1, 8), datetime(2026, 2, 2, 8)
    run1 = stage_run(tmp_path / "run1", "run1", 0, 40, feb1)
    run2 = stage_run(tmp_path / "run2", "run2", 20, 40, feb2)
    with Store(db) as store:
        assert store.load(tmp_path / "run1", run1) == {"landed": 40}
        assert store.load(tmp_path / "run2", run2) == {"landed": 40}  # five of them staged twice
        con = store.con
        assert store.count("articles") == 60
        assert con.execute(
            "SELECT article_id, run_id, title, ingested_at, updated_at FROM articles "
            "WHERE article_id IN ('a00000000', 'a00000020', 'a00000059') ORDER BY article_id"
        ).fetchall() == [
            ("a00000000", "run1", "Headline 0 of run1", feb1, feb1),  # not in run2: as it was
            ("a00000020", "run2", "Headline 20 of run2", feb1, feb2),  # rewritten, first ingestion kept
            ("a00000059", "run2", "Headline 59 of run2", feb2, feb2),  # new
        ]
        # signatures replaced, not added to
        assert store.count("article_lsh") == 60 * 64 and store.count("article_minhash") == 60
        staged = str(tmp_path / "run2" / "articles-00000.parquet")
        assert (
            con.execute(
                "SELECT list_sort(list(band_key)) FROM article_lsh WHERE article_id = 'a00000020'"
            ).fetchone()
            == con.execute(
                "SELECT list_sort(lsh_bands) FROM read_parquet(?) WHERE article_id = 'a00000020'", [staged]
            ).fetchone()
        )
        assert con.execute(
            "SELECT minhash FROM article_minhash WHERE article_id = 'a00000020'"
        ).fetchone() == (
            con.execute(
                "SELECT minhash FROM read_parquet(?) WHERE article_id = 'a00000020'", [staged]
            ).fetchone()
        )
        # duplicates: one row per source, the newest judgement of the batch
        assert con.execute("SELECT duplicate_id, title FROM article_duplicates ORDER BY 1").fetchall() == [
            ("d00000000", "newest judgement"),
            ("d00000001", "newest judgement"),
            ("d00000020", "newest judgement"),
            ("d00000021", "newest judgement"),
        ]
        assert store.count("quarantine") == 4
        # host paragraphs: run1 has keys 0..3, run2 keys 2..5; the two runs' counts add up
        assert con.execute("SELECT paragraph_key, articles FROM host_paragraphs ORDER BY 1").fetchall() == [
            (0, 1),
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 1),
            (5, 1),
        ]
        # stories: one both runs carried widens its window and takes the later run's centroid and index rows
        stories = con.execute("SELECT story_id, first_seen, last_seen FROM story_index ORDER BY 1").fetchall()
        assert stories == [
            ("a00000000", feb1 - timedelta(days=1), feb1),
            ("a00000010", feb1 - timedelta(days=1), feb1),
            ("a00000020", feb1 - timedelta(days=1), feb2),
            ("a00000030", feb1 - timedelta(days=1), feb2),
            ("a00000040", feb2 - timedelta(days=1), feb2),
            ("a00000050", feb2 - timedelta(days=1), feb2),
        ]
        terms = con.execute("SELECT term FROM story_terms WHERE story_id = 'a00000020' ORDER BY 1").fetchall()
        assert terms == [("run2",), ("term20",)]  # names ("@run2") are not indexed
        assert con.execute(
            "SELECT json_keys(terms, '$.terms') FROM story_index WHERE story_id = 'a00000020'"
        ).fetchone() == (["term20", "run2", "@run2"],)
        assert con.execute("SELECT etag FROM feeds ORDER BY 1").fetchall() == [
            ('"run2-0"',),
            ('"run2-1"',),
            ('"run2-2"',),
        ]
        assert store.count("robots") == 2
        assert con.execute("SELECT run_id FROM runs WHERE loaded_at IS NOT NULL ORDER BY 1").fetchall() == [
            ("run1",),
            ("run2",),
        ]


# Schema migrations


# The schema of the walking skeleton (commit 2882998), schema version 1, as that code created it.
V1_DDL = """
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


def make_v1_file(path: Path) -> None:
    """A database as the walking skeleton left it: its schema, version 1, and an article with a duplicate."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute(V1_DDL)
        con.execute("INSERT INTO schema_version VALUES (1, TIMESTAMP '2025-11-01 09:00:00')")
        con.execute(
            """INSERT INTO articles VALUES ('old00000001', '/old/one.txt', NULL, 'old', 'An old article',
                   'text', NULL, TIMESTAMP '2025-10-31 12:00', 'en', 'Body of an old article.', 5, 'oldhash',
                   'old00000001', 'r-old', TIMESTAMP '2025-11-01 09:00', TIMESTAMP '2025-11-01 09:00', 'text',
                   '{}')"""
        )
        con.execute("INSERT INTO article_minhash VALUES ('old00000001', 4, '\\x01\\x02'::BLOB)")
        con.execute("INSERT INTO article_lsh VALUES (42, 'old00000001')")
        con.execute(
            """INSERT INTO article_duplicates VALUES ('dup-old', '/old/copy.txt', NULL, 'old00000001', 'exact',
                   1.0, 'An old article', 'oldhash', 'r-old', TIMESTAMP '2025-11-01 09:00')"""
        )
        con.execute(
            """INSERT INTO runs VALUES ('r-old', 'cli', TIMESTAMP '2025-11-01 08:59', TIMESTAMP '2025-11-01 09:00',
                   'success', '[]', 2, 1, 1, 0, 0, '{}', NULL)"""
        )


def tables(con) -> set[str]:
    return {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


OLD_ROWS = {
    "articles": [("old00000001", "An old article", "oldhash")],
    "article_duplicates": [("dup-old", "old00000001")],
    "runs": [("r-old", "success")],
}


def old_rows(con) -> dict[str, list]:
    return {
        "articles": con.execute(
            "SELECT article_id, title, content_hash FROM articles WHERE article_id LIKE 'old%'"
        ).fetchall(),
        "article_duplicates": con.execute(
            "SELECT duplicate_id, duplicate_of FROM article_duplicates"
        ).fetchall(),
        "runs": con.execute("SELECT run_id, status FROM runs WHERE run_id = 'r-old'").fetchall(),
    }


def test_a_version_1_file_upgrades_in_place_and_takes_a_run(seeds_copy, tmp_path):
    from pipeline.run.runner import run_ingest
    from pipeline.settings import Settings

    db = tmp_path / "old.duckdb"
    make_v1_file(db)
    with Store(db) as store:
        con = store.con
        assert store.schema_version() == SCHEMA_VERSION
        assert con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall() == [
            (v,) for v, _ in MIGRATIONS
        ]
        assert {"feeds", "robots", "host_paragraphs", "story_index", "story_terms"} <= tables(con)
        assert old_rows(con) == OLD_ROWS
        # version 5: no ART index on the LSH band keys (lookups scan; the index cost the load its memory)
        indexes = {name for (name,) in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        assert "article_lsh_band" not in indexes and "articles_content_hash" in indexes
        # version 3: the old run counts as loaded (only loads recorded successes then)
        assert con.execute("SELECT loaded_at FROM runs").fetchall() == [(datetime(2025, 11, 1, 9),)]
    summary = run_ingest([str(seeds_copy)], Settings.from_env(db_path=db), trigger="test")
    assert summary.landed == 5
    with Store.for_reading(db) as store:
        con = store.con
        assert old_rows(con)["articles"] == OLD_ROWS["articles"]
        assert store.count("articles") == 6 and store.count("runs") == 2
        assert store.count("story_index") > 0 and store.count("host_paragraphs") > 0
        assert con.execute("SELECT sum(article_count) FROM stories").fetchone() == (6,)


def test_a_version_1_file_serves_a_read_only_process_step_then_upgrades_at_the_load(seeds_copy, tmp_path):
    """The Airflow split: process reads history read-only (no migration), load opens the writer."""
    from pipeline.run.assemble import new_run_id, plan_run
    from pipeline.run.runner import process_run, publish_run
    from pipeline.settings import Settings

    db = tmp_path / "old.duckdb"
    make_v1_file(db)
    settings = Settings.from_env(db_path=db)
    with Store.for_reading(db) as store:
        history = store.history
        # the lookups of tables version 1 did not have answer "nothing yet"
        assert history.paragraph_counts([("example.org", 1)]) == {}
        assert history.feed_state("https://example.org/feed.xml") is None
        assert history.fresh_robots() == {}
        lookup = StoryLookup(["word"], [1.0], datetime(2025, 1, 1), datetime(2027, 1, 1))
        assert history.story_candidates([lookup], 8, 100) == [[]]
        assert list(history.stories(["a00000000"])) == []
        assert history.landed_hashes(["old00000001"]) == {"old00000001": "oldhash"}
        folder = process_run(plan_run([str(seeds_copy)], settings), settings, new_run_id(), history)
        assert store.schema_version() == 1  # read-only: untouched
    with Store(db) as store:
        summary = publish_run(folder, store, "test")
        assert summary.landed == 5 and store.schema_version() == SCHEMA_VERSION
        assert store.count("articles") == 6 and old_rows(store.con) == OLD_ROWS


def test_a_version_2_file_from_before_its_last_tables_gets_them(db_path):
    """Version 2 grew while it was the newest: a file stamped 2 by then lacks the story and template tables."""
    later = {"robots", "host_paragraphs", "story_index", "story_terms"}
    Store(db_path).close()
    with duckdb.connect(str(db_path)) as con:  # back to what commit 8cecefa made: version 2 with feeds only
        for table in later:
            con.execute(f"DROP TABLE {table}")
        con.execute("ALTER TABLE runs DROP COLUMN loaded_at")
        con.execute("DELETE FROM schema_version WHERE version > 2")
    with Store(db_path) as store:
        assert later <= tables(store.con)
        assert store.con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall() == [
            (v,) for v, _ in MIGRATIONS
        ]


def test_a_version_9_file_gives_its_story_index_rows_their_windows(db_path):
    """Version 10: story_terms carries each story's window (lookups skip closed stories' rows), no term index."""
    Store(db_path).close()
    with duckdb.connect(str(db_path)) as con:  # back to version 9's story_terms
        con.execute("DROP TABLE story_terms")
        con.execute("CREATE TABLE story_terms (term VARCHAR NOT NULL, story_id VARCHAR NOT NULL)")
        con.execute("CREATE INDEX story_terms_term ON story_terms (term)")
        con.execute("DELETE FROM schema_version WHERE version > 9")
        for story_id, day in (("s-late", 20), ("s-early", 10)):
            con.execute(
                "INSERT INTO story_index VALUES (?, ?, ?, ?)",
                [story_id, '{"terms": {"quake": 1.0}}', datetime(2026, 3, day), datetime(2026, 3, day + 1)],
            )
            con.execute("INSERT INTO story_terms VALUES ('quake', ?), ('island', ?)", [story_id, story_id])
    with Store(db_path) as store:
        con = store.con
        assert store.schema_version() == SCHEMA_VERSION
        rows = con.execute("SELECT * FROM story_terms ORDER BY rowid").fetchall()
        assert sorted(rows) == [
            ("island", "s-early", datetime(2026, 3, 10), datetime(2026, 3, 11)),
            ("island", "s-late", datetime(2026, 3, 20), datetime(2026, 3, 21)),
            ("quake", "s-early", datetime(2026, 3, 10), datetime(2026, 3, 11)),
            ("quake", "s-late", datetime(2026, 3, 20), datetime(2026, 3, 21)),
        ]
        assert [r[1] for r in rows] == ["s-early", "s-early", "s-late", "s-late"]  # as last seen
        indexes = {name for (name,) in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        assert "story_terms_term" not in indexes
        # a lookup finds the story open in an article's window only
        march_12 = StoryLookup(["quake"], [1.0], datetime(2026, 3, 9), datetime(2026, 3, 15))
        assert store.history.story_candidates([march_12], 8, 100) == [["s-early"]]


def test_a_failing_migration_leaves_the_file_at_the_version_before(db_path, monkeypatch):
    Store(db_path).close()
    broken = "CREATE TABLE later_table (x INTEGER); SELECT error('migration 3 breaks');"
    monkeypatch.setattr(schema_module, "MIGRATIONS", (*MIGRATIONS, (SCHEMA_VERSION + 1, broken)))
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(SetupError, match=r"cannot set up database .*migration 3 breaks"):
        Store(db_path)
    monkeypatch.undo()
    with Store(db_path) as store:
        assert store.schema_version() == SCHEMA_VERSION and "later_table" not in tables(store.con)


def test_a_newer_file_is_refused_before_anything_is_changed(db_path):
    with Store(db_path) as store:
        store.con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
        store.con.execute("DROP VIEW stories")
    with pytest.raises(SetupError, match=f"schema version {SCHEMA_VERSION + 1}, newer than this pipeline's"):
        Store(db_path)
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert "stories" not in {
            name for (name,) in con.execute("SELECT view_name FROM duckdb_views()").fetchall()
        }


# Lock contention


class Holder:
    """A child process holding the database open until told to let go (a line on its stdin)."""

    def __init__(self, db: Path, read_only: bool = False):
        code = (
            "import duckdb, sys\n"
            f"con = duckdb.connect({str(db)!r}, read_only={read_only})\n"
            "print('holding', flush=True)\n"
            "sys.stdin.readline()\n"
            "con.close()\n"
            "print('released', flush=True)\n"
            "sys.stdin.readline()\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout.readline().strip() == "holding"

    def release(self) -> None:
        self.proc.stdin.write("release\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "released"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture
def holder(db_path):
    Store(db_path).close()
    holders = []

    def hold(read_only: bool = False) -> Holder:
        holders.append(Holder(db_path, read_only))
        return holders[-1]

    yield hold
    for h in holders:
        h.close()


def retries(caplog) -> int:
    return sum("retrying" in r.getMessage() for r in caplog.records if r.name.startswith("pipeline.store"))


def test_a_second_writer_retries_then_says_the_file_is_locked(db_path, holder, caplog):
    held = holder()
    caplog.set_level(logging.INFO, logger="pipeline.store")
    with pytest.raises(SetupError) as failed:
        Store(db_path, lock_timeout_s=1.5)
    message = str(failed.value)
    assert f"database {db_path} is locked by another process" in message
    assert f"(PID {held.proc.pid})" in message and "See also" not in message
    assert "still was after retrying for 1.5 s" in message and "--lock-timeout" in message
    attempts = int(message.split(" attempts)")[0].rsplit("(", 1)[1])
    assert attempts >= 2 and retries(caplog) == attempts - 1

    caplog.clear()
    with pytest.raises(
        SetupError, match=r"locked by another process .*let the open retry with --lock-timeout"
    ):
        Store(db_path)  # no timeout: one attempt
    assert retries(caplog) == 0


def test_a_writer_that_waits_gets_the_file_when_the_holder_lets_go(db_path, holder, caplog, monkeypatch):
    held = holder()
    caplog.set_level(logging.INFO, logger="pipeline.store")
    waits = []

    def sleep(seconds: float) -> None:  # the holder lets go during the first wait between attempts
        if not waits:
            held.release()
        waits.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(connect_module, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    with Store(db_path, lock_timeout_s=60) as store:
        assert store.schema_version() == SCHEMA_VERSION and not store.read_only
    assert len(waits) == 1 and retries(caplog) == 1


def test_readers_share_the_file_and_keep_a_writer_out(db_path, holder, tmp_path):
    holder(read_only=True)  # e.g. another run's process step
    with Store.for_reading(db_path) as reader:
        assert reader.read_only and reader.history.landed_hashes(["a"]) == {}
        with pytest.raises(duckdb.Error, match="read-only"):
            reader.con.execute("DELETE FROM articles")
    with pytest.raises(SetupError, match="locked by another process"):
        Store(db_path)
    assert Store.for_reading(tmp_path / "none" / "new.duckdb") is None
    assert not (tmp_path / "none").exists()
