"""Write-audit-publish: a run that fails its batch-level expectations publishes nothing and can be released."""

import json

import duckdb

from pipeline.run.runner import release_run, run_ingest
from pipeline.settings import Settings
from tests.conftest import run_cli

WORDS = [
    "river",
    "bridge",
    "council",
    "budget",
    "school",
    "market",
    "harbour",
    "festival",
    "election",
    "museum",
    "library",
    "station",
]


def write_articles(folder, n: int, start: int = 0) -> None:
    """n distinct plain-text articles: a headline and 60 words each."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        words = " ".join(WORDS[(i * 7 + j * (i + 3)) % len(WORDS)] + str(j % (i + 5)) for j in range(60))
        (folder / f"a{i:03d}.txt").write_text(f"Headline number {i} of the day\n\n{words.capitalize()}.\n")


def write_broken(folder, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"broken{i:03d}.txt").write_bytes(b"\x00\x01binary\x00" * 20)


def counts(db) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("articles", "quarantine")}
    finally:
        con.close()


def run_status(db, run_id) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone()[0]
    finally:
        con.close()


def test_a_day_with_a_few_broken_inputs_publishes(tmp_path):
    write_articles(tmp_path / "in", 10)
    write_broken(tmp_path / "in", 2)
    summary = run_ingest(
        [str(tmp_path / "in")], Settings.from_env(db_path=tmp_path / "a.duckdb"), trigger="test"
    )
    assert (summary.status, summary.landed, summary.quarantined) == ("success", 10, 2)
    assert summary.audit["failed"] == [] and summary.audit["metrics"]["quarantined_share"] == round(2 / 12, 4)
    assert counts(tmp_path / "a.duckdb") == {"articles": 10, "quarantine": 2}


def test_failed_audit_publishes_nothing_then_release_publishes_the_staged_run(tmp_path):
    db = tmp_path / "a.duckdb"
    settings = Settings.from_env(db_path=db)
    write_articles(tmp_path / "day1", 3)
    assert run_ingest([str(tmp_path / "day1")], settings, trigger="test").status == "success"
    before = counts(db)

    write_articles(tmp_path / "day2", 4, start=10)
    write_broken(tmp_path / "day2", 8)  # 8 of 12 quarantined: over the 0.5 default
    summary = run_ingest([str(tmp_path / "day2")], settings, trigger="test")
    assert summary.status == "audit_failed"
    assert [f["name"] for f in summary.audit["failed"]] == ["quarantined_share_below_max"]
    assert summary.audit["failed"][0]["value"] == round(8 / 12, 4)
    assert counts(db) == before  # neither the 4 articles nor the 8 quarantine rows
    assert run_status(db, summary.run_id) == "audit_failed"
    staged = settings.staging_root / summary.run_id
    assert summary.staging == str(staged) and (staged / "audit.json").is_file()
    assert list(staged.glob("articles-*.parquet"))

    released = release_run(summary.run_id, settings)
    assert (released.status, released.landed, released.quarantined) == ("released", 4, 8)
    assert counts(db) == {"articles": before["articles"] + 4, "quarantine": 8}
    assert run_status(db, summary.run_id) == "released" and not staged.exists()


def test_a_run_that_kept_nothing_fails_even_when_small(tmp_path):
    write_broken(tmp_path / "in", 1)
    summary = run_ingest(
        [str(tmp_path / "in")], Settings.from_env(db_path=tmp_path / "a.duckdb"), trigger="test"
    )
    assert summary.status == "audit_failed"
    assert [f["name"] for f in summary.audit["failed"]] == ["some_input_kept"]
    # Fewer inputs than PIPELINE_AUDIT_MIN_READ: the share is not judged, only "kept nothing" is.
    assert summary.audit["thresholds"]["max_quarantined_share"] == 1.0


def test_thresholds_are_settings(tmp_path):
    write_articles(tmp_path / "in", 4)
    write_broken(tmp_path / "in", 8)
    settings = Settings.from_env(db_path=tmp_path / "a.duckdb", max_quarantined_share=0.7)
    assert run_ingest([str(tmp_path / "in")], settings, trigger="test").status == "success"


def test_cli_exit_status_message_json_and_release(tmp_path):
    write_articles(tmp_path / "in", 4)
    write_broken(tmp_path / "in", 8)
    db = tmp_path / "a.duckdb"
    proc = run_cli("ingest", str(tmp_path / "in"), "--db", str(db), "--json")
    assert proc.returncode == 4, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "audit_failed" and summary["quarantined"] == 8
    assert "failed its audit, nothing was published" in proc.stderr
    assert "quarantined_share_below_max" in proc.stderr
    assert f"pipeline release {summary['run_id']}" in proc.stderr

    release = run_cli("release", summary["run_id"], "--db", str(db))
    assert release.returncode == 0, release.stderr
    assert f"Run {summary['run_id']} (release): released" in release.stdout
    again = run_cli("release", summary["run_id"], "--db", str(db))
    assert again.returncode == 3 and "no staged run" in again.stderr
