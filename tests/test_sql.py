"""`python -m pipeline sql`, the analysts' entry: any query runs; nothing typed there writes, attaches,
installs, or reads a file other than the database."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import ROOT, ingest_json, run_cli


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> Path:
    """A database with the seeds in it, and another one beside it (the attacker's target)."""
    root = tmp_path_factory.mktemp("sql")
    seeds = root / "seeds"
    shutil.copytree(ROOT / "seeds", seeds, ignore=shutil.ignore_patterns("*.md"))
    db = root / "articles.duckdb"
    ingest_json(str(seeds), "--db", str(db))
    other = root / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE articles AS SELECT 1 AS x; CREATE TABLE runs AS SELECT 1 AS x")
    return db


def sql(db: Path, query: str, *args: str):
    return run_cli("sql", query, "--db", str(db), "--format", "csv", *args, timeout=120)


def readme_queries() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Ad-hoc SQL", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    statements = [s.strip() for s in block.split(";")]
    return ["\n".join(line for line in s.splitlines() if not line.startswith("--")) for s in statements if s]


def test_the_readme_queries_run(landed):
    queries = readme_queries()
    assert len(queries) >= 6
    for query in queries:
        proc = sql(landed, query)
        assert proc.returncode == 0, (query, proc.stderr)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT count(*) AS n FROM articles",
        "SELECT source, count(*) FROM articles GROUP BY ALL",
        "SELECT title, row_number() OVER (ORDER BY word_count DESC) FROM articles",
        "WITH t AS (SELECT * FROM articles) SELECT count(*) FROM t JOIN stories USING (story_id)",
        "SELECT key, value FROM articles, json_each(removed_rules)",
        "FROM runs SELECT run_id",
        "SHOW TABLES",
        "DESCRIBE articles",
        "SUMMARIZE articles",
        "EXPLAIN SELECT * FROM articles",
        "PRAGMA table_info('articles')",
    ],
)
def test_queries_of_every_kind_run(landed, query):
    proc = sql(landed, query)
    assert proc.returncode == 0, proc.stderr


def other_db(landed: Path) -> Path:
    return landed.parent / "other.duckdb"


@pytest.mark.parametrize(
    "template",
    [
        "ATTACH '{other}' AS v (READ_WRITE); DELETE FROM v.articles",
        "ATTACH '{other}' AS v (READ_WRITE)",
        "ATTACH '{other}' AS v",
        "COPY (SELECT 'x') TO '{db}' (FORMAT csv)",
        "COPY (SELECT 'x') TO '{dir}/out.csv' (FORMAT csv)",
        "EXPORT DATABASE '{dir}/export'",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('{dir}/x.parquet')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM '{other}'",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SELECT 1; SET enable_external_access = true",
        "CREATE TABLE t AS SELECT 1",
        "CREATE TEMP TABLE t AS SELECT 1",
        "DROP TABLE runs",
        "DELETE FROM articles",
        "INSERT INTO runs (run_id) VALUES ('x')",
        "UPDATE articles SET title = 'x'",
        "CHECKPOINT",
        "DETACH articles",
        "PRAGMA import_database('{dir}')",
    ],
)
def test_nothing_typed_writes_attaches_installs_or_reads_a_file(landed, template):
    other = other_db(landed)
    before = {p: p.read_bytes() for p in (landed, other)}
    files_before = sorted(p.name for p in landed.parent.iterdir())
    query = template.format(other=other, db=landed, dir=landed.parent)
    proc = sql(landed, query)
    assert proc.returncode != 0, f"{query!r} ran: {proc.stdout}"
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert {p: p.read_bytes() for p in (landed, other)} == before
    assert sorted(p.name for p in landed.parent.iterdir()) == files_before
    assert "root:" not in proc.stdout  # /etc/passwd
    with duckdb.connect(str(other), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (1,)
    with duckdb.connect(str(landed), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)


def test_one_statement_per_call_with_a_clear_reason(landed):
    proc = sql(landed, "SELECT 1; SELECT 2")
    assert proc.returncode == 2 and "one SQL statement per call, not 2" in proc.stderr


def test_the_locked_message_offers_what_sql_accepts(landed):
    writer = duckdb.connect(str(landed))  # a load in progress elsewhere holds the file
    try:
        proc = sql(landed, "SELECT 1", "--lock-timeout", "0.6")
    finally:
        writer.close()
    assert proc.returncode == 3
    assert "--lock-timeout" in proc.stderr and "read-only mode" not in proc.stderr
    assert "locked by another process" in proc.stderr


def test_sql_help_states_each_default_once():
    proc = run_cli("sql", "--help")
    assert proc.returncode == 0 and "(default: None)" not in proc.stdout
    assert proc.stdout.count("(default: data/articles.duckdb)") == 1


def test_queries_go_on_while_an_ingest_works_and_wait_only_for_its_load(landed, tmp_path):
    """The database is read shared while a run works; `sql` waits (bounded) only while the load commits."""
    import json
    import random
    import subprocess
    import sys
    import time

    db = tmp_path / "busy.duckdb"
    shutil.copy(landed, db)  # a database with history, as an analyst's is
    rng = random.Random(7)
    words = [
        f"{a}{b}" for a in ("har", "pel", "cor", "vin", "tas", "mor") for b in ("bour", "ent", "ida", "ost")
    ]
    with (tmp_path / "many.jsonl").open("w") as f:
        for i in range(1500):
            text = " ".join(
                " ".join(rng.choice(words) for _ in range(12)).capitalize() + "." for _ in range(10)
            )
            f.write(json.dumps({"url": f"https://ex.example/{i}", "title": f"Story number {i} of the day",
                                "text": text}) + "\n")  # fmt: skip
    ingest = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "ingest", str(tmp_path / "many.jsonl"), "--db", str(db), "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    waits, during = [], 0
    try:
        while ingest.poll() is None:
            t0 = time.monotonic()
            proc = sql(db, "SELECT count(*) FROM articles")
            waits.append(time.monotonic() - t0)
            assert proc.returncode == 0, proc.stderr  # never "locked by another process"
            during += ingest.poll() is None
        out, err = ingest.communicate(timeout=300)
    finally:
        ingest.kill()
    assert ingest.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["landed"] == 1500
    assert during >= 3, f"only {during} queries ran while the ingest worked"  # not locked for the whole run
    after = sql(db, "SELECT count(*) FROM articles")
    assert after.stdout.split() == ["count_star()", "1505"]
    print(f"\n[sql during ingest] {len(waits)} queries, {during} during the run; longest {max(waits):.2f} s, "
          f"median {sorted(waits)[len(waits) // 2]:.2f} s")  # fmt: skip
