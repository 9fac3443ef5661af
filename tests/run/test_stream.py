"""Streaming micro-batches: inbox files are ingested, then moved aside only once their run is published."""

import os
import shutil
import time

import duckdb

from pipeline.run.stream import micro_batch
from pipeline.settings import Settings
from tests.conftest import SEED_FILES


def test_a_micro_batch_ingests_the_ready_inbox_files_then_moves_them_aside(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for f in SEED_FILES:
        shutil.copy(f, inbox / f.name)
    (inbox / "broken.txt").write_bytes(b"\x00binary\x00" * 20)
    (inbox / "notes.md").write_text("not an article type")  # quarantined, moved to rejected/
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.4")
    (inbox / "a-folder").mkdir()
    (inbox / "a-folder" / "inside.txt").write_text("Dropped as a folder\n\nNot read from in there.")
    old = time.time() - 60
    for f in inbox.iterdir():
        os.utime(f, (old, old))
    (inbox / "writing.txt").write_text("Still being written\n\n")  # changed just now: next batch
    settings = Settings.from_env(db_path=tmp_path / "s.duckdb")

    result = micro_batch(inbox, settings, wait_s=0, settle_s=30)
    assert (result["status"], result["files"], result["landed"], result["quarantined"]) == (
        "success",
        9,
        5,
        4,
    )
    done = sorted(p.name for p in (tmp_path / "inbox" / "done").rglob("*") if p.is_file())
    assert done == sorted([f.name for f in SEED_FILES] + ["broken.txt"])
    rejected = sorted(p.name for p in (tmp_path / "inbox" / "rejected").glob("*/*"))
    assert rejected == ["a-folder", "notes.md", "scan.pdf"]  # nothing it cannot read sits in the inbox
    assert sorted(p.name for p in inbox.iterdir()) == ["done", "rejected", "writing.txt"]
    con = duckdb.connect(str(settings.db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM articles").fetchone() == (5,)
    reasons = con.execute(
        "SELECT regexp_extract(source_uri, '[^/]+$'), reason, detail FROM quarantine ORDER BY 1"
    ).fetchall()
    con.close()
    assert [(name, reason) for name, reason, _ in reasons] == [
        ("a-folder", "unsupported_type"),
        ("broken.txt", "binary_content"),
        ("notes.md", "unsupported_type"),
        ("scan.pdf", "unsupported_type"),
    ]
    assert "folder in the inbox" in reasons[0][2] and ".md" in reasons[2][2]

    idle = micro_batch(inbox, settings, wait_s=0.2, poll_s=0.1, settle_s=30)
    assert idle == {"status": "idle", "files": 0, "feeds": 0}


def test_one_broken_file_alone_is_quarantined_and_published(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "broken.txt").write_bytes(b"\x00binary\x00" * 20)
    settings = Settings.from_env(db_path=tmp_path / "s.duckdb")
    result = micro_batch(inbox, settings, wait_s=0, settle_s=0)
    assert (result["status"], result["quarantined"]) == ("success", 1)
    assert not (inbox / "broken.txt").exists()
