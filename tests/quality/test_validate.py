"""Validation with the GX suite in expectations/: failing rows are quarantined with the expectations' names."""

from datetime import datetime, timedelta

import duckdb
import pytest

from pipeline.errors import SetupError
from pipeline.quality.gx import load_suite
from pipeline.quality.validate import FRAME_COLUMNS, Validator
from pipeline.run.runner import run_ingest
from pipeline.settings import Settings

LONG = (
    "The harbour authority said the new pier would open in June after two years of delays and cost overruns. "
    * 4
)


def row(**changes):
    base = {
        "article_id": "0123456789abcdef",
        "source_uri": "/x/a.txt",
        "url": None,
        "source": "x",
        "title": "Harbour Pier Opens",
        "title_source": "source",
        "author": None,
        "published_at": None,
        "language": "en",
        "body": LONG,
        "word_count": len(LONG.split()),
        "content_hash": "a" * 64,
        "run_id": "r1",
        "ingested_at": datetime(2026, 5, 1, 12, 0),
        "extractor": "text",
    }
    base.update(changes)
    assert set(base) == set(FRAME_COLUMNS)
    return base


@pytest.fixture(scope="module")
def validator():
    return Validator(Settings().suite_path)


def test_good_rows_pass(validator):
    failures, table_level = validator.validate(
        [row(), row(article_id="fedcba9876543210", url="https://x.example/a")]
    )
    assert failures == {} and table_level == []


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"title": "Hi"}, ["title_length_5_300"]),
        ({"title_source": "guessed"}, ["title_source_known"]),
        ({"body": "Too short.", "word_count": 2}, ["body_min_200_chars", "body_min_30_words"]),
        ({"language": None}, ["language_present"]),
        ({"language": "english"}, ["language_code_form"]),
        ({"url": "ftp://x.example/a"}, ["url_form"]),
        ({"published_at": datetime.now() + timedelta(days=2)}, ["published_at_not_in_future"]),
        ({"published_at": datetime(1970, 1, 1)}, ["published_at_not_in_future"]),
        ({"body": LONG + "\n\nLeave a Reply\n\n" + LONG}, ["body_no_boilerplate"]),
        ({"body": LONG + "\n\nJohn Smith Avatar"}, ["body_no_boilerplate"]),
    ],
)
def test_each_failing_row_is_named_by_its_expectations(validator, changes, expected):
    bad = row(article_id="badbadbadbad0000", **changes)
    failures, _ = validator.validate([row(), bad])
    assert failures == {"badbadbadbad0000": expected}


def test_duplicate_ids_fail_uniqueness(validator):
    failures, _ = validator.validate([row(), row()])
    assert failures == {"0123456789abcdef": ["article_id_unique"]}


def test_invalid_suite_is_bad_setup(tmp_path):
    suite = tmp_path / "bad.json"
    suite.write_text('{"name": "x", "expectations": [{"type": "expect_nonsense", "kwargs": {}}]}')
    with pytest.raises(SetupError, match="invalid"):
        load_suite(suite)


def test_rows_failing_in_a_run_are_quarantined_with_names_and_their_copies_too(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    residue = (
        "All rights reserved by the wire service and its licensors, whose terms of use apply to every reader of "
        "this story in every country where it appears in print or online, as set out in the notice."
    )
    (src / "a_short.txt").write_text("Tiny Story Headline\n\nOnly a few words here.\n")
    (src / "b_short_copy.txt").write_text("Tiny Story Headline\n\nOnly a few words here.\n")
    (src / "c_residue.txt").write_text(f"Pier Opens At Last\n\n{LONG}\n\n{residue}\n")
    (src / "d_good.txt").write_text(f"Pier Opens At Last Again\n\n{LONG} And more words in this one.\n")
    db = tmp_path / "v.duckdb"
    summary = run_ingest([str(src)], Settings.from_env(db_path=db), trigger="test")
    assert (summary.read, summary.landed, summary.quarantined, summary.duplicates) == (4, 1, 3, 0)
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute(
        "SELECT regexp_extract(source_uri, '[^/]+$'), stage, reasons, payload->>'title' FROM quarantine ORDER BY 1"
    ).fetchall()
    con.close()
    assert rows == [
        ("a_short.txt", "validate", ["body_min_200_chars", "body_min_30_words"], "Tiny Story Headline"),
        ("b_short_copy.txt", "validate", ["body_min_200_chars", "body_min_30_words"], "Tiny Story Headline"),
        ("c_residue.txt", "validate", ["body_no_boilerplate"], "Pier Opens At Last"),
    ]
