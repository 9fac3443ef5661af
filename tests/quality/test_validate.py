"""Validation with the GX suite in expectations/: rows failing a critical expectation are quarantined with the
expectations' names; rows failing only warnings land, flagged."""

import gc
from datetime import datetime, timedelta

import duckdb
import pytest

from pipeline.errors import SetupError
from pipeline.models import Article
from pipeline.quality.gx import load_suite
from pipeline.quality.validate import FRAME_COLUMNS, ValidateStage, Validator
from pipeline.run.runner import run_ingest
from pipeline.settings import Settings
from pipeline.stage import Ledger

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


C, W = "critical", "warning"


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({"title": "Hi"}, [("title_length_5_300", W)]),
        ({"title_source": "guessed"}, [("title_source_known", C)]),
        ({"body": "Too short.", "word_count": 2}, [("body_min_200_chars", W), ("body_min_30_words", W)]),
        (
            {"body": "", "word_count": 0},
            [("body_not_empty", C), ("body_min_200_chars", W), ("body_min_30_words", W)],
        ),
        ({"body": LONG + "<p>Left over</p>"}, [("body_no_markup", C)]),
        ({"body": LONG + " Tom &amp; Jerry"}, [("body_no_markup", C)]),
        ({"language": None}, [("language_present", C)]),
        ({"language": "english"}, [("language_code_form", C)]),
        ({"url": "ftp://x.example/a"}, [("url_form", C)]),
        ({"published_at": datetime.now() + timedelta(days=2)}, [("published_at_not_in_future", C)]),
        ({"published_at": datetime(1970, 1, 1)}, [("published_at_not_in_future", C)]),
        ({"body": LONG + "\n\nLeave a Reply\n\n" + LONG}, [("body_no_boilerplate", W)]),
        ({"body": LONG + "\n\nJohn Smith Avatar"}, [("body_no_boilerplate", W)]),
    ],
)
def test_each_failing_row_is_named_by_its_expectations_with_their_severity(validator, changes, expected):
    bad = row(article_id="badbadbadbad0000", **changes)
    failures, _ = validator.validate([row(), bad])
    assert failures == {"badbadbadbad0000": expected}


def test_duplicate_ids_fail_uniqueness(validator):
    failures, _ = validator.validate([row(), row()])
    assert failures == {"0123456789abcdef": [("article_id_unique", C)]}


def test_invalid_suite_is_bad_setup(tmp_path):
    suite = tmp_path / "bad.json"
    suite.write_text('{"name": "x", "expectations": [{"type": "expect_nonsense", "kwargs": {}}]}')
    with pytest.raises(SetupError, match="invalid"):
        load_suite(suite)


def test_short_real_articles_land_flagged_and_broken_rows_are_quarantined_with_their_copies(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    residue = (
        "All rights reserved by the wire service and its licensors, whose terms of use apply to every reader of "
        "this story in every country where it appears in print or online, as set out in the notice."
    )
    markup = f'Pier Plans Published\n\n{LONG}\n\n<div class="share">Share</div>\n'
    (src / "a_short.txt").write_text("Tiny Story Headline\n\nOnly a few words here.\n")
    (src / "b_markup.txt").write_text(markup)
    other = (
        "The ferry company said its winter timetable would keep two crossings a day, weather allowing. " * 4
    )
    (src / "c_residue.txt").write_text(f"Pier Opens At Last\n\n{other}\n\n{residue}\n")
    (src / "d_good.txt").write_text(f"Pier Opens At Last Again\n\n{LONG} And more words in this one.\n")
    (src / "e_markup_copy.txt").write_text(markup)
    db = tmp_path / "v.duckdb"
    summary = run_ingest([str(src)], Settings.from_env(db_path=db), trigger="test")
    assert (summary.read, summary.landed, summary.quarantined, summary.duplicates) == (5, 3, 2, 0)
    assert summary.stages["validate"]["flagged_body_min_200_chars"] == 1
    assert summary.stages["validate"]["flagged_body_no_boilerplate"] == 1
    con = duckdb.connect(str(db), read_only=True)
    quarantined = con.execute(
        "SELECT regexp_extract(source_uri, '[^/]+$'), stage, reasons, payload->>'title' FROM quarantine ORDER BY 1"
    ).fetchall()
    landed = con.execute(
        "SELECT regexp_extract(source_uri, '[^/]+$'), quality_flags FROM articles ORDER BY 1"
    ).fetchall()
    con.close()
    assert quarantined == [
        ("b_markup.txt", "validate", ["body_no_markup"], "Pier Plans Published"),
        ("e_markup_copy.txt", "validate", ["body_no_markup"], "Pier Plans Published"),
    ]
    assert landed == [
        ("a_short.txt", ["body_min_200_chars", "body_min_30_words"]),
        ("c_residue.txt", ["body_no_boilerplate"]),
        ("d_good.txt", []),
    ]


def test_the_imports_are_frozen_out_of_the_collector_while_a_run_validates_and_thawed_after():
    def article(n: int) -> Article:
        fields = row(article_id=f"{n:016x}", content_hash=f"{n:064x}", source_uri=f"/x/{n}.txt")
        return Article(**fields)

    gc.unfreeze()
    stage = ValidateStage(Ledger(), Settings())
    stream = stage.run(iter([article(n) for n in range(3)]))
    assert gc.get_freeze_count() == 0
    first = next(stream)  # the first batch validated: GX and every other import loaded
    assert gc.get_freeze_count() > 10_000
    assert [a.article_id for a in [first, *stream]] == [f"{n:016x}" for n in range(3)]
    assert gc.get_freeze_count() == 0  # the stream ended

    stream = stage.run(iter([article(n) for n in range(3)]))
    next(stream)
    assert gc.get_freeze_count() > 10_000
    stream.close()  # a run stopped early thaws them too
    assert gc.get_freeze_count() == 0


def test_the_warm_up_thread_builds_the_validator_then_warms_the_next_stage_whose_failure_is_not_validations(
    caplog,
):
    import threading

    from pipeline import stories

    def article(n: int) -> Article:
        fields = row(article_id=f"{n:016x}", content_hash=f"{n:064x}", source_uri=f"/x/{n}.txt")
        return Article(**fields)

    seen: list[tuple[str, bool]] = []

    def then() -> None:  # runs in the warm-up thread, once the validator is built
        seen.append((threading.current_thread().name, stage._validator is not None))
        raise RuntimeError("the place names are unreadable")

    stage = ValidateStage(Ledger(), Settings())
    stage.warm_up(then=then)
    assert [a.article_id for a in stage.run(iter([article(1), article(2)]))] == [f"{n:016x}" for n in (1, 2)]
    assert seen == [("gx-warm-up", True)]
    assert "warming up after the validator failed" in caplog.text

    stories._place_hashes.cache_clear()
    stories.warm_up()
    assert stories._place_hashes.cache_info().currsize == 1 and stories.is_place("geneva")
