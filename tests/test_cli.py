"""The CLI end to end, as a user runs it: subprocesses on temp copies of the seeds and temp databases."""

import json
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import cold_cli, ingest_json, run_cli


def query(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("ingest", "--help"), {}),
        (("ingest", "--workers", "many", "seeds"), {}),  # argparse's exit 2 and usage on stderr
        (("sql", "SELECT 42 AS answer"), {}),  # data/articles.duckdb, relative to the working directory
        (("ingest", "no-such-folder"), {}),  # a source that is not there, relative to the working directory
        (("ingest", "seeds"), {"PIPELINE_MAX_INPUT_BYTES": "abc"}),  # a setting from the environment
    ],
)
def test_the_tests_warm_cli_answers_as_a_cold_start_does(args, env, tmp_path):
    """run_cli forks a warm copy of the CLI (tests/cli_server.py): what it gives back must be what `python -m
    pipeline` gives, exit code and both streams, in the caller's working directory and environment, or every
    test through it would be testing something else."""
    (tmp_path / "data").mkdir()
    duckdb.connect(str(tmp_path / "data" / "articles.duckdb")).close()
    warm = run_cli(*args, cwd=tmp_path, env=env)
    cold = cold_cli(*args, cwd=tmp_path, env=env)
    assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, cold.stdout, cold.stderr)
    assert warm.stdout or warm.stderr
    if args[0] == "sql":
        assert warm.returncode == 0 and "42" in warm.stdout, warm.stderr
    if env:
        assert warm.returncode == 3 and "PIPELINE_MAX_INPUT_BYTES" in warm.stderr, warm.stderr


def test_ingest_help_explains_every_option():
    proc = run_cli("ingest", "--help")
    assert proc.returncode == 0
    for option in (
        "SOURCES",
        "--db",
        "--json",
        "--max-input-bytes",
        "--extract-timeout",
        "--workers",
        "--lock-timeout",
        "--trigger",
        "Exit status",
    ):
        assert option in proc.stdout
    assert "seeds/" in proc.stdout and "data/articles.duckdb" in proc.stdout
    assert ".jsonl" in proc.stdout and ".rss" in proc.stdout and "(default: None)" not in proc.stdout


def test_end_to_end_then_idempotent_rerun(seeds_copy, db_path):
    first = ingest_json(str(seeds_copy), "--db", str(db_path))
    assert (first["read"], first["landed"], first["duplicates"], first["quarantined"], first["skipped"]) == (
        5,
        5,
        0,
        0,
        0,
    )

    second = run_cli("ingest", str(seeds_copy), "--db", str(db_path))  # the readable summary this time
    assert second.returncode == 0, second.stderr
    assert "read 5 = landed 0 + duplicates 0 + quarantined 0 + skipped (unchanged) 5" in second.stdout
    assert f"Database: {db_path}" in second.stdout and "SELECT" in second.stdout

    assert query(db_path, "SELECT count(*) FROM articles") == [(5,)]
    runs = query(db_path, 'SELECT run_id, status, "read", landed, duplicates, quarantined, skipped FROM runs')
    assert len(runs) == 2
    for _, status, read, landed, dups, quarantined, skipped in runs:
        assert status == "success" and read == landed + dups + quarantined + skipped == 5
    assert first["run_id"] in {r[0] for r in runs}
    sources = query(db_path, "SELECT source_uri FROM articles ORDER BY 1")
    assert [s[0] for s in sources] == sorted(str(p.resolve()) for p in seeds_copy.glob("*.txt"))


def test_bad_input_is_quarantined_with_a_reason_and_the_run_succeeds(seeds_copy, tmp_path, db_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (bad / "broken.txt").write_bytes(
        b"Headline\n\nSome text that is valid UTF-8 " + b"\xc3\x28\xa0\xa1 then bad"
    )
    (bad / "page.html").write_bytes(b"<html><body><div></div></body></html>")
    (bad / "notes.md").write_text("ignored: not an article type")
    good = seeds_copy / "000_527c1e9419822988.txt"

    summary = ingest_json(str(bad), str(good), "--db", str(db_path))
    assert (summary["read"], summary["landed"], summary["quarantined"]) == (5, 1, 4)
    assert summary["ignored_files"] == 1
    rows = dict(query(db_path, "SELECT regexp_extract(source_uri, '[^/]+$'), reason FROM quarantine"))
    assert rows == {
        "empty.txt": "empty",
        "binary.txt": "binary_content",
        "broken.txt": "bad_encoding",
        "page.html": "no_article_text",
    }
    stages = dict(query(db_path, "SELECT DISTINCT stage, 1 FROM quarantine"))
    assert set(stages) == {"extract"}


def test_missing_source_is_bad_setup(tmp_path, db_path):
    proc = run_cli("ingest", str(tmp_path / "nope"), "--db", str(db_path))
    assert proc.returncode == 3
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr
    assert not db_path.exists()


def test_unwritable_database_is_bad_setup(seeds_copy, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    proc = run_cli("ingest", str(seeds_copy), "--db", str(blocker / "articles.duckdb"))
    assert proc.returncode == 3
    assert proc.stderr.startswith("error: cannot create the database folder")


def ingest_while_held(holding: str, *args: str) -> tuple[subprocess.CompletedProcess, int]:
    """`ingest ARGS` while another process runs `holding` (Python that takes a lock) and waits; its pid too."""
    holder = subprocess.Popen(
        [sys.executable, "-c", f"{holding}; print('ready', flush=True); import time; time.sleep(120)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        return run_cli("ingest", *args), holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_database_locked_by_another_process_is_bad_setup(seeds_copy, db_path):
    db_path.parent.mkdir(parents=True)
    proc, _ = ingest_while_held(
        f"import duckdb; c = duckdb.connect({str(db_path)!r})",
        *(str(seeds_copy), "--db", str(db_path), "--lock-timeout", "1"),
    )
    assert proc.returncode == 3
    assert "locked by another process" in proc.stderr and proc.stderr.strip().count("\n") == 0


def test_a_second_ingest_into_one_database_waits_for_the_first_then_says_so(seeds_copy, db_path):
    """Runs read the database shared while they work, so the run lock (not DuckDB's) keeps two apart."""
    db_path.parent.mkdir(parents=True)
    lock = db_path.with_name(db_path.name + ".run-lock")
    proc, pid = ingest_while_held(
        f"import fcntl, os; f = open({str(lock)!r}, 'a+'); fcntl.flock(f, fcntl.LOCK_EX); "
        "f.write(str(os.getpid())); f.flush()",
        *(str(seeds_copy), "--db", str(db_path), "--lock-timeout", "1"),
    )
    assert proc.returncode == 3
    assert f"another ingest into {db_path} is running (pid {pid})" in proc.stderr
    assert ingest_json(str(seeds_copy), "--db", str(db_path))["landed"] == 5  # once the first is gone


def test_sql_command_reads_the_database(seeds_copy, db_path):
    ingest_json(str(seeds_copy), "--db", str(db_path))
    proc = run_cli("sql", "SELECT count(*) AS n FROM articles", "--db", str(db_path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"n": 5}]
    bad = run_cli("sql", "DELETE FROM articles", "--db", str(db_path))
    assert bad.returncode != 0 and "read-only" in bad.stderr.lower()
