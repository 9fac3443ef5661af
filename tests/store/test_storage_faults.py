"""Storage faults end a run with exit 3 and one line saying what happened and what to do; the published data
stays as it was, and a run again (or a release) after the fault converges.

The full disks are real small file systems: a tmpfs mounted for the test when the tests run as root (as in CI),
else the kernel's file-size limit (RLIMIT_FSIZE) on the run's process, which fails writes the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import copy_seeds, run_cli

BIG_JSONL_RECORDS = 1500  # about 6 MB of distinct articles: more than the small disk holds


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int) -> Iterator[tuple[dict, Callable[[int], dict]]]:
    """A folder that holds about `size_mb` MB. Yields what the run's process needs (`fsize` when the
    folder is not a real small file system), and a function that makes the disk bigger."""
    path.mkdir(parents=True)
    mounted = False
    if os.geteuid() == 0:
        mounted = (
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}M", "tmpfs", str(path)]).returncode
            == 0
        )

    def grow(to_mb: int) -> dict:
        """Make the disk bigger (the user freed space); what the run's process needs from then on."""
        if mounted:
            subprocess.run(["mount", "-o", f"remount,size={to_mb}M", str(path)], check=True)
            return {}
        return {"fsize": to_mb * 2**20}

    try:
        yield ({} if mounted else {"fsize": size_mb * 2**20}), grow
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("progress: ")]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def articles(db: Path) -> int:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT count(*) FROM articles").fetchone()[0]


def big_jsonl(path: Path, n: int = BIG_JSONL_RECORDS) -> Path:
    rng = random.Random(n)
    vocabulary = [f"w{k}" for k in range(20_000)]
    with path.open("w") as f:
        for i in range(n):
            words = " ".join(rng.choices(vocabulary, k=600))
            f.write(
                json.dumps({"url": f"https://example.org/{i}", "title": f"Story number {i}", "text": words})
                + "\n"
            )
    return path


def test_a_full_disk_under_the_database_publishes_nothing_then_release_converges(tmp_path):
    disk = tmp_path / "disk"
    with small_disk(disk, 6) as (limit, grow):
        db = disk / "articles.duckdb"
        first = run_cli("ingest", str(copy_seeds(tmp_path)), "--db", str(db), **limit)
        assert first.returncode == 0, first.stderr
        staging = tmp_path / "staging"  # elsewhere: the run stages whole, then the load meets the full disk
        env = {"PIPELINE_STAGING_DIR": str(staging)}
        proc = run_cli(
            "ingest", str(big_jsonl(tmp_path / "big.jsonl")), "--db", str(db), "--json", **limit, env=env
        )
        line = one_line_error(proc, "nothing was published", "pipeline release ")
        assert "full" in line or "too large" in line.lower()
        run_id = line.split("release ", 1)[1].split()[0]
        assert articles(db) == 5  # the previous state
        assert (staging / run_id / "manifest.json").is_file()  # kept whole for release
        roomy = grow(256)
        released = run_cli("release", run_id, "--db", str(db), env=env, **roomy)
        assert released.returncode == 0, released.stderr
        assert articles(db) == 5 + BIG_JSONL_RECORDS
        rerun = run_cli("ingest", str(tmp_path / "big.jsonl"), "--db", str(db), "--json", env=env, **roomy)
        assert (
            rerun.returncode == 0
            and json.loads(rerun.stdout.splitlines()[-1])["skipped"] == BIG_JSONL_RECORDS
        )


def test_a_full_staging_disk_ends_the_run_and_leaves_the_database_as_it_was(tmp_path, seeds_copy):
    db = tmp_path / "db" / "articles.duckdb"
    assert run_cli("ingest", str(seeds_copy), "--db", str(db)).returncode == 0
    with small_disk(tmp_path / "staging", 1) as (limit, _):
        env = {"PIPELINE_STAGING_DIR": str(tmp_path / "staging")}
        proc = run_cli(
            "ingest", str(big_jsonl(tmp_path / "big.jsonl", 600)), "--db", str(db), env=env, **limit
        )
        one_line_error(proc, "staging", "nothing was published", "run again")
        assert list((tmp_path / "staging").iterdir()) == []  # the unfinished run's folder removed
    assert articles(db) == 5
    again = run_cli("ingest", str(big_jsonl(tmp_path / "big.jsonl", 600)), "--db", str(db))
    assert again.returncode == 0, again.stderr
    assert articles(db) == 605


def test_the_staging_folder_removed_mid_run_ends_it_with_one_line(tmp_path, seeds_copy):
    (seeds_copy / "spans.html").write_text("<span>w</span>" * 100_000, encoding="utf-8")  # seconds of work
    db = tmp_path / "db" / "articles.duckdb"
    staging = tmp_path / "staging"
    removed = threading.Event()

    def remove_when_it_appears() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not removed.is_set():
            for run in staging.glob("*"):
                shutil.rmtree(run, ignore_errors=True)
                removed.set()
            time.sleep(0.01)

    remover = threading.Thread(target=remove_when_it_appears, daemon=True)
    remover.start()
    proc = run_cli("ingest", str(seeds_copy), "--db", str(db), "--max-input-bytes", "20000000",
               env={"PIPELINE_STAGING_DIR": str(staging)})  # fmt: skip
    remover.join()
    assert removed.is_set()
    one_line_error(proc, "staging", "removed", "nothing was published")
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM articles").fetchone() == (0,)
        assert con.execute("SELECT status FROM runs").fetchall() == [("failed",)]
    (
        seeds_copy / "spans.html"
    ).unlink()  # it only made the first run last: the rerun shows the database works
    again = run_cli("ingest", str(seeds_copy), "--db", str(db))
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_damaged_database_is_refused_when_the_run_starts_before_any_work(tmp_path, seeds_copy, damage):
    db = tmp_path / "db" / "articles.duckdb"
    assert run_cli("ingest", str(seeds_copy), "--db", str(db)).returncode == 0
    if damage == "truncated":
        os.truncate(db, db.stat().st_size // 2)
    else:
        db.write_bytes(b"not a database")
    for _ in range(2):  # and the second run the same way, not a crash in recording it
        proc = run_cli("ingest", str(seeds_copy), "--db", str(db))
        line = one_line_error(proc, str(db), "restore it from a backup")
        assert ("truncated" in line) if damage == "truncated" else ("damaged" in line)
        assert not (db.parent / "staging").exists() or not any((db.parent / "staging").iterdir())
