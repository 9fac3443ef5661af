"""The CLI has what the trigger form has (--dry-run, --since, --max-items-per-source), says what it decides with
-v (wherever it is given) without Great Expectations' noise, and is never silent through a pipe."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import duckdb

from pipeline.run.assemble import worker_count
from pipeline.store.staging import MANIFEST_FILE
from tests.conftest import SEED_FILES, ingest_json, run_cli


def dated_records(path: Path) -> Path:
    with path.open("w") as f:
        topics = ("the harbour works", "a school choir tour", "the spring flower market")
        for i, day in enumerate(("2026-10-01", "2026-11-15", None)):
            text = " ".join(
                f"Sentence {j} of report {i} is about {topics[i]}, day {j * (i + 3)}." for j in range(15)
            )
            record = {"url": f"https://example.org/{i}", "title": f"Harbour report {i}", "text": text}
            if day:
                record["published_at"] = f"{day}T08:00:00Z"
            f.write(json.dumps(record) + "\n")
    return path


def test_dry_run_says_what_would_land_and_leaves_no_database(seeds_copy, tmp_path):
    db = tmp_path / "db" / "articles.duckdb"
    summary = ingest_json(str(seeds_copy), "--db", str(db), "--dry-run")
    assert (summary["status"], summary["read"], summary["landed"]) == ("dry_run", 5, 5)
    assert (not db.exists() and not (db.parent / "staging").exists()) or not any(
        (db.parent / "staging").iterdir()
    )

    ingest_json(str(seeds_copy), "--db", str(db))
    before = db.read_bytes()
    again = ingest_json(str(seeds_copy), "--db", str(db), "--dry-run")
    assert (again["status"], again["skipped"]) == ("dry_run", 5)  # judged against the database as it stands
    assert db.read_bytes() == before
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)


def test_since_skips_what_was_published_before_and_keeps_the_undated(tmp_path):
    db = tmp_path / "a.duckdb"
    summary = ingest_json(str(dated_records(tmp_path / "r.jsonl")), "--db", str(db), "--since", "2026-11-01")
    assert (summary["landed"], summary["skipped"]) == (2, 1)
    assert summary["stages"]["since"]["before_since"] == 1
    bad = run_cli("ingest", str(tmp_path / "r.jsonl"), "--db", str(db), "--since", "1 Nov")
    assert bad.returncode == 2 and "not a day like 2026-11-01" in bad.stderr


def test_max_items_per_source_caps_each_source(tmp_path):
    sources = []
    for name in ("one", "two"):
        folder = tmp_path / name
        folder.mkdir()
        for f in SEED_FILES:
            (folder / f.name).write_text(f.read_text().replace("Zelensky", f"Zelensky {name}"))
        sources.append(str(folder))
    summary = ingest_json(*sources, "--db", str(tmp_path / "a.duckdb"), "--max-items-per-source", "2")
    assert summary["read"] == 4
    assert run_cli("ingest", *sources, "--max-items-per-source", "0").returncode == 2


def test_verbose_after_the_command_logs_decisions_not_gx_noise(seeds_copy, tmp_path):
    (seeds_copy / "broken.txt").write_bytes(b"\x00binary\x00" * 20)
    proc = run_cli("ingest", str(seeds_copy), "--db", str(tmp_path / "a.duckdb"), "-v")
    assert proc.returncode == 0, proc.stderr
    assert "great_expectations" not in proc.stderr
    assert "broken.txt: quarantined at extract: binary_content" in proc.stderr
    assert run_cli("-v", "ingest", "--help").returncode == 0


def test_progress_is_logged_through_a_pipe(seeds_copy, tmp_path):
    for i in range(60):  # progress is reported every 50 documents
        (seeds_copy / f"copy{i}.txt").write_text(
            f"Note {i}\n\n" + f"A short note number {i} about the weather. " * 5
        )
    proc = run_cli(
        "ingest", str(seeds_copy), "--db", str(tmp_path / "a.duckdb"), env={"PIPELINE_PROGRESS_EVERY_S": "0"}
    )
    assert proc.returncode == 0, proc.stderr
    assert "progress: 50 documents processed (from 65 inputs)" in proc.stderr


def test_explicit_worker_counts_are_capped_at_the_cpus():
    cpus = os.cpu_count() or 1
    assert worker_count(64) == cpus and worker_count(0) == 0 and worker_count(1) == 1


def test_a_sources_file_with_wrong_types_or_quoted_paths(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("source = 5\n")
    proc = run_cli("ingest", "--sources-file", str(bad), "--db", str(tmp_path / "a.duckdb"))
    assert proc.returncode == 3 and "[[source]] tables" in proc.stderr and "Traceback" not in proc.stderr
    bad.write_text("[[source]]\npath = 5\n")
    proc = run_cli("ingest", "--sources-file", str(bad), "--db", str(tmp_path / "a.duckdb"))
    assert proc.returncode == 3 and "as a string" in proc.stderr

    spaced = tmp_path / "my seeds"
    spaced.mkdir()
    (spaced / "one.txt").write_text(SEED_FILES[0].read_text())
    listing = tmp_path / "sources.txt"
    listing.write_text('# one per line, quoted as in a shell\n"my seeds" My Seeds\n')
    summary = ingest_json("--sources-file", str(listing), "--db", str(tmp_path / "b.duckdb"))
    assert summary["landed"] == 1


def test_bad_encoding_says_how_to_fix_it(tmp_path, seeds_copy):
    (seeds_copy / "latin1.txt").write_bytes("Caf\xe9 headline\n\nSome text here.".encode("latin-1"))
    db = tmp_path / "a.duckdb"
    assert run_cli("ingest", str(seeds_copy), "--db", str(db)).returncode == 0
    with duckdb.connect(str(db), read_only=True) as con:
        (detail,) = con.execute("SELECT detail FROM quarantine").fetchone()
    assert "re-save the file as UTF-8" in detail


def test_a_run_that_kept_nothing_does_not_suggest_releasing_it(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "latin1.txt").write_bytes("Caf\xe9 headline\n\nSome text here.".encode("latin-1"))
    proc = run_cli("ingest", str(tmp_path / "in"), "--db", str(tmp_path / "a.duckdb"))
    assert proc.returncode == 4
    assert (
        "every input was quarantined" in proc.stderr
        and "would publish only its quarantine rows" in proc.stderr
    )
    assert "Inspect" not in proc.stderr


def test_staging_debris_of_killed_runs_is_swept_and_held_runs_are_kept(seeds_copy, tmp_path):
    db = tmp_path / "db" / "articles.duckdb"
    staging = db.parent / "staging"
    old = time.time() - 7 * 3600
    debris, held, fresh = staging / "killed-run", staging / "held-run", staging / "running-now"
    for folder in (debris, held, fresh, staging / "killed-run.parts" / "0000"):
        folder.mkdir(parents=True)
        (folder / "articles-00000.parquet").write_bytes(b"half written")
    (held / MANIFEST_FILE).write_text("{}")
    for path in [*staging.rglob("*")]:
        if "running-now" not in str(path):
            os.utime(path, (old, old))
    ingest_json(str(seeds_copy), "--db", str(db))
    assert sorted(p.name for p in staging.iterdir()) == ["held-run", "running-now"]


def test_the_seeds_run_warns_about_nothing_the_project_ships(tmp_path):
    """seeds/EXPECTED.md is listed in seeds/.pipelineignore: no 'ignored files' line on the first `make run`."""
    proc = run_cli("ingest", "--db", str(tmp_path / "a.duckdb"))
    assert proc.returncode == 0, proc.stderr
    assert "ignored" not in proc.stdout and "EXPECTED.md" not in proc.stdout + proc.stderr
