"""Raw retention and replay: reprocess reruns the stages over stored raw inputs, without reading the sources."""

import shutil

import duckdb

import pipeline.document.rules as rules
from pipeline.run.runner import reprocess_run, run_ingest
from pipeline.settings import Settings
from tests.conftest import SEEDS, run_cli


def rows(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_raw_inputs_are_kept_compressed_with_source_and_fetch_time(seeds_copy, tmp_path):
    db = tmp_path / "a.duckdb"
    summary = run_ingest([str(seeds_copy)], Settings.from_env(db_path=db), trigger="test")
    kept = rows(db, "SELECT source_uri, run_id, fetched_at, bytes, octet_length(content) FROM raw_documents")
    assert len(kept) == 5 and {r[1] for r in kept} == {summary.run_id}
    for uri, _, fetched_at, size, stored in kept:
        assert fetched_at is not None and size == (seeds_copy / uri.rsplit("/", 1)[1]).stat().st_size
        assert stored < size  # compressed
    # Read again unchanged: no second copy.
    run_ingest([str(seeds_copy)], Settings.from_env(db_path=db), trigger="test")
    assert rows(db, "SELECT count(*) FROM raw_documents") == [(5,)]


def test_reprocess_after_a_rule_change_updates_in_place_without_the_sources(
    seeds_copy, tmp_path, monkeypatch
):
    db = tmp_path / "a.duckdb"
    settings = Settings.from_env(db_path=db, extract_workers=0)  # in-process: the monkeypatched rule applies
    run_ingest([str(seeds_copy)], settings, trigger="test")
    before = dict(rows(db, "SELECT article_id, body FROM articles"))
    shutil.rmtree(seeds_copy)  # reprocess must not need them

    unchanged = reprocess_run(settings)
    assert (unchanged.read, unchanged.skipped, unchanged.landed) == (5, 5, 0)

    # A rule change: lines mentioning "Ukraine" are now boilerplate (a stand-in for any new rule).
    new_rule = rules._rule("test_rule", "a rule added after the first run", r".*\bUkraine\b.*")
    monkeypatch.setattr(rules, "LINE_RULES", (*rules.LINE_RULES, new_rule))
    changed = reprocess_run(settings)
    assert changed.status == "success" and changed.read == 5
    assert changed.landed >= 1 and changed.landed + changed.skipped == 5
    after = dict(rows(db, "SELECT article_id, body FROM articles"))
    assert set(after) == set(before)  # the same articles, updated in place: no new ids
    assert sum(after[k] != before[k] for k in after) == changed.landed
    lines = [line for body in after.values() for line in body.split("\n")]
    assert all("ukraine" not in line.lower() or len(line.split()) > 40 for line in lines)  # rule's max_words

    again = reprocess_run(settings)  # converged: nothing changes a second time
    assert (again.read, again.skipped) == (5, 5)
    assert dict(rows(db, "SELECT article_id, body FROM articles")) == after


def test_quarantined_inputs_are_replayed_after_a_fix(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    sentence = "Municipal councillors unanimously approved comprehensive infrastructure appropriations yesterday evening."
    short = "Council approves budget\n\n" + " ".join([sentence] * 2)
    (source / "short.txt").write_text(short)  # 18 long words: under the suite's 30-word minimum
    shutil.copy(next(SEEDS.glob("000_*.txt")), source / "seed.txt")
    db = tmp_path / "a.duckdb"
    # A suite that quarantined short articles (as this project's did before warnings landed them flagged) ...
    import json

    strict = tmp_path / "strict.json"
    data = json.loads(Settings().suite_path.read_text())
    for e in data["expectations"]:
        if e["meta"]["name"] == "body_min_30_words":
            e["severity"] = "critical"
    strict.write_text(json.dumps(data))
    first = run_ingest([str(source)], Settings.from_env(db_path=db, suite_path=strict), trigger="test")
    assert (first.landed, first.quarantined) == (1, 1)
    assert first.quarantine_reasons == {"body_min_30_words": 1}

    # ... and the fix: the suite that lands them, flagged.
    replay = reprocess_run(Settings.from_env(db_path=db), quarantined_only=True)
    assert (replay.read, replay.landed) == (1, 1)
    assert rows(db, "SELECT count(*) FROM articles") == [(2,)]
    assert rows(db, "SELECT count(*) FROM quarantine WHERE resolved_by_run IS NULL") == [(0,)]
    assert rows(db, "SELECT resolved_by_run FROM quarantine") == [(replay.run_id,)]
    assert rows(db, "SELECT quality_flags FROM articles WHERE source_uri LIKE '%short.txt'") == [
        (["body_min_30_words"],)
    ]


def test_reprocess_cli(seeds_copy, tmp_path):
    db = tmp_path / "a.duckdb"
    assert run_cli("ingest", str(seeds_copy), "--db", str(db)).returncode == 0
    proc = run_cli("reprocess", "--db", str(db))
    assert proc.returncode == 0, proc.stderr
    assert "skipped (unchanged) 5" in proc.stdout
    nothing = run_cli("reprocess", "--quarantined", "--db", str(db))
    assert nothing.returncode == 3 and "nothing to reprocess" in nothing.stderr
