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


def test_a_trickling_feed_does_not_hold_back_the_inbox_files(tmp_path):
    """The files are a run of their own, published before the feed is fetched; the feed, a server sending a
    byte a second, is quarantined as `timeout` once its whole fetch budget is spent (not 4 deadlines)."""
    from tests.read.test_fetch import raw_server, trickle_body

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    old = time.time() - 60
    for f in SEED_FILES:
        shutil.copy(f, inbox / f.name)
        os.utime(inbox / f.name, (old, old))
    settings = Settings.from_env(
        db_path=tmp_path / "t.duckdb",
        allow_private_network=True,
        respect_robots=False,
        host_delay_s=0.0,
        fetch_deadline_s=2.0,
        fetch_total_s=3.0,
    )
    with raw_server(trickle_body) as port:
        feed = f"http://127.0.0.1:{port}/feed.xml"
        t0 = time.monotonic()
        result = micro_batch(inbox, settings, feeds=[feed], wait_s=0, settle_s=0)
        took = time.monotonic() - t0
    assert (result["files"], result["feeds"], result["landed"], result["quarantined"]) == (5, 1, 5, 1)
    assert len(result["run_ids"]) == 2 and result["run_id"] == result["run_ids"][0]
    con = duckdb.connect(str(settings.db_path), read_only=True)
    runs = con.execute(
        "SELECT run_id, landed, quarantined, started_at, ended_at FROM runs ORDER BY started_at"
    ).fetchall()
    (reason, detail) = con.execute("SELECT reason, detail FROM quarantine").fetchone()
    con.close()
    (files_run, landed, _, _, files_done), (feed_run, _, quarantined, feed_started, _) = runs
    assert (files_run, landed, feed_run, quarantined) == (*result["run_ids"][:1], 5, result["run_ids"][1], 1)
    assert files_done <= feed_started  # the files were published before the feed was asked for
    assert reason == "timeout" and "3 s budget for all its attempts" in detail, detail
    print(f"\n[stream] files published, then the trickling feed quarantined: {took:.1f} s in all ({detail})")
