"""A staged run carries a manifest (each file, its bytes, sha256 and rows); publish and release check it and
refuse, saying what is missing or changed, before any write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from pipeline.errors import SetupError
from pipeline.settings import Settings
from pipeline.store.staging import MANIFEST_FILE, StagedRunBroken, verify_manifest
from tests.conftest import run_cli
from tests.quality.test_audit import counts, run_status, write_articles, write_broken


@pytest.fixture
def held(tmp_path) -> tuple[Path, str, Path]:
    """A run held by a failed audit (8 of its 12 inputs quarantined): (db, run_id, its staging folder)."""
    write_articles(tmp_path / "in", 4)
    write_broken(tmp_path / "in", 8)
    db = tmp_path / "a.duckdb"
    proc = run_cli("ingest", str(tmp_path / "in"), "--db", str(db), "--json")
    assert proc.returncode == 4, proc.stderr
    run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    folder = Settings.from_env(db_path=db).staging_root / run_id
    assert (folder / MANIFEST_FILE).is_file()
    return db, run_id, folder


def release(db: Path, run_id: str):
    return run_cli("release", run_id, "--db", str(db))


def assert_refused(proc, db: Path, run_id: str, *words: str) -> None:
    assert proc.returncode == 3, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert line.startswith("error: staged run") and "nothing was published" in line, line
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    for word in words:
        assert word in line, line
    assert counts(db) == {"articles": 0, "quarantine": 0}
    assert run_status(db, run_id) == "audit_failed"


def test_a_deleted_part_refuses_the_release_before_any_write(held):
    db, run_id, folder = held
    (part,) = sorted(folder.glob("articles-*.parquet"))
    part.unlink()
    assert_refused(release(db, run_id), db, run_id, f"{part.name} is missing")


def test_an_altered_part_refuses_the_release(held):
    db, run_id, folder = held
    (part,) = sorted(folder.glob("quarantine-*.parquet"))
    with duckdb.connect() as con:  # a valid Parquet file, one row short
        con.execute(f"COPY (SELECT * FROM read_parquet('{part}') LIMIT 7) TO '{part}.tmp' (FORMAT parquet)")
    Path(f"{part}.tmp").replace(part)
    assert_refused(release(db, run_id), db, run_id, f"{part.name} was changed")


def test_a_part_that_was_not_staged_refuses_the_release(held):
    db, run_id, folder = held
    (part,) = sorted(folder.glob("articles-*.parquet"))
    shutil.copy(part, folder / "articles-00009.parquet")
    assert_refused(release(db, run_id), db, run_id, "articles-00009.parquet is not part of the staged run")


def test_a_folder_without_its_manifest_was_not_staged_whole(held):
    db, run_id, folder = held
    (folder / MANIFEST_FILE).unlink()
    assert_refused(release(db, run_id), db, run_id, "no manifest.json")


def test_a_manifest_whose_rows_disagree_with_the_ledger_is_refused(held):
    _, _, folder = held
    ledger = json.loads((folder / "ledger.json").read_text())
    ledger["tally"]["landed"] += 2000  # the ledger claims what the parts do not hold
    (folder / "ledger.json").write_text(json.dumps(ledger))
    manifest = json.loads((folder / MANIFEST_FILE).read_text())  # re-signed, so only the counts disagree
    from pipeline.store.staging import _sha256

    manifest["files"]["ledger.json"] = {
        "bytes": (folder / "ledger.json").stat().st_size,
        "sha256": _sha256(folder / "ledger.json"),
    }
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(StagedRunBroken, match="4 articles rows staged, the ledger says 2004 landed"):
        verify_manifest(folder)


def test_the_intact_run_releases_and_lands_what_the_manifest_lists(held):
    db, run_id, _ = held
    proc = release(db, run_id)
    assert proc.returncode == 0, proc.stderr
    assert counts(db) == {"articles": 4, "quarantine": 8}


def test_a_partition_with_a_missing_part_stops_the_merge(seeds_copy, tmp_path):
    from pipeline.run.partitions import merge_partitions, process_partition

    settings = Settings.from_env(db_path=tmp_path / "db.duckdb")
    part = process_partition(str(seeds_copy), 0, settings, "r", None)
    folder = Path(part["folder"])
    next(folder.glob("raw-*.parquet")).unlink()
    with pytest.raises(SetupError, match=r"raw-00000\.parquet is missing"):
        merge_partitions([folder], settings, "r", None, [str(seeds_copy)])
    assert not (settings.staging_root / "r").exists()
