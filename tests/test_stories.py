"""Story grouping: the seeds' three reports of one event share a story; later runs join stories in DuckDB."""

from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from pipeline.run.runner import run_ingest
from pipeline.settings import Settings
from pipeline.stage import Ledger
from pipeline.stories import MAX_LEAD_WORDS, STORY_THRESHOLD, StoryStage, cosine, lead_sentence, lead_terms
from tests.conftest import make_article

LEAD = (
    "Ukrainian President Volodymyr Zelensky has extended a fresh invitation to Vladimir Putin for peace talks, "
    "aiming to end the long-running war, even as missile strikes continue to pound Ukrainian cities."
)


def stories_by_file(db: Path) -> dict[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT source_uri, story_id FROM articles").fetchall()
    return {Path(uri).name[:3]: story for uri, story in rows}


def test_the_seeds_group_into_the_three_events_expected(seeds_copy, db_path):
    run_ingest([str(seeds_copy)], Settings.from_env(db_path=db_path), trigger="test")
    story = stories_by_file(db_path)
    assert story["000"] == story["001"] == story["002"]  # one event reported by three sites
    assert len({story["000"], story["003"], story["004"]}) == 3  # two other events
    with duckdb.connect(str(db_path), read_only=True) as con:
        counts = sorted(n for (n,) in con.execute("SELECT article_count FROM stories").fetchall())
    assert counts == [1, 1, 3]


def test_a_report_in_a_later_run_joins_the_stored_story(seeds_copy, db_path, tmp_path):
    settings = Settings.from_env(db_path=db_path)
    run_ingest([str(seeds_copy)], settings, trigger="test")
    later = tmp_path / "later"
    later.mkdir()
    body = " ".join(
        [
            "Zelensky Renews Offer Of Talks With Putin\n",
            "Ukrainian President Volodymyr Zelensky again extended an invitation to Vladimir Putin for peace talks",
            "to end the war, after another night of Russian missile and drone strikes on Ukrainian cities.",
            "Officials in Kyiv said the proposal had been passed to Moscow through intermediaries on Sunday,",
            "and that a venue could be agreed within days if the Kremlin replied in time to the offer made.",
        ]
    )
    (later / "005.txt").write_text(body)
    run_ingest([str(later)], settings, trigger="test")
    story = stories_by_file(db_path)
    assert story["005"] == story["000"]


def test_the_lead_is_the_first_sentence_of_prose_not_a_heading():
    body = f"Renewed Calls for Peace\n\n{LEAD} More follows here.\n\nSecond paragraph."
    assert lead_sentence(body) == LEAD


def test_rare_words_weigh_more_and_unknown_languages_still_compare():
    terms = lead_terms(LEAD, "en")
    assert max(terms, key=terms.get) in ("zelens", "volody")  # names weigh most
    assert "presid" not in terms  # common words fall out of the 16 kept
    assert cosine(terms, terms) == 1.0
    flat = lead_terms(LEAD, None)
    assert set(flat.values()) == {1.0} and cosine(flat, lead_terms(LEAD, "xx")) == 1.0


def test_a_story_older_than_the_window_is_not_joined():
    stage = StoryStage(Ledger(), history=None, now=datetime(2026, 5, 1))
    first = stage.apply(make_article(LEAD, article_id="a1", published_at=datetime(2026, 4, 1), language="en"))
    again = stage.apply(make_article(LEAD, article_id="a2", published_at=datetime(2026, 4, 2), language="en"))
    late = stage.apply(
        make_article(
            LEAD, article_id="a3", published_at=datetime(2026, 4, 1) + timedelta(days=10), language="en"
        )
    )
    assert first.story_id == again.story_id == "a1" and late.story_id == "a3"
    assert stage.ledger.by_stage()["stories"] == {"total": 3, "forwarded": 3, "joined": 1, "started": 2}
    assert STORY_THRESHOLD < 1


def test_languages_wordfreq_cannot_tokenize_here_still_get_stories():
    korean = (
        "서울시 의회는 화요일 새 교통 예산을 승인했으며 북부 지역에 버스 노선 열두 개를 추가한다고 밝혔다."
    )
    for language in ("ko", "ja", "zh"):
        terms = lead_terms(korean, language)
        assert terms and set(terms.values()) == {1.0}


def _lead_article(n: int, lead: str, day: datetime):
    a = make_article(
        f"{lead}\n\nA second paragraph of the report number {n} follows here.", source_uri=f"/in/{n}.txt"
    )
    a.article_id, a.language, a.published_at = f"id{n:04d}", "en", day
    return a


def test_stories_are_scored_through_the_term_index_as_cosine_and_common_terms_are_not_looked_up():
    from pipeline import stories

    day = datetime(2026, 5, 4, 9)
    # 150 distinct events whose leads all share "Parliament" (and "vote"), each with rare words of its own.
    codes = ["".join(chr(97 + (i // 26**k) % 26) for k in range(3)) for i in range(150)]
    rare = [f"{c}xylo {'xq' + c}mo {'vv' + c}ra" for c in codes]  # three made-up words, stems of their own
    leads = [f"Parliament vote backs {words} in the capital on Tuesday, officials said." for words in rare]
    stage = StoryStage(Ledger(), None, day)
    out = list(stage.run(_lead_article(n, lead, day) for n, lead in enumerate(leads)))
    assert len({a.story_id for a in out}) == 150
    assert len(stage.by_term["parlia"][0]) > stories.MAX_STORIES_PER_TERM  # now too common to look up

    # A second report of event 7 joins it, with the score a whole-vector cosine gives.
    follow = _lead_article(900, f"Parliament vote backs {rare[7]} again in the capital, officials said.", day)
    scored = stage._scored_candidates(lead_terms(follow.body, "en"), day)
    assert [s.story_id for s, _ in scored] == [out[7].story_id]  # only the story sharing rare terms
    _, score = scored[0]
    assert (
        abs(
            score
            - cosine(lead_terms(follow.body, "en"), out[7].__dict__ and stage.stories[out[7].story_id].terms)
        )
        < 1e-9
    )
    assert score >= STORY_THRESHOLD
    (joined,) = stage.run([follow])
    assert joined.story_id == out[7].story_id

    # A lead sharing only the common words starts a story of its own, without comparing the 150.
    other = _lead_article(
        901, "Parliament vote delayed by snowstorm across the northern provinces, officials said.", day
    )
    assert stage._scored_candidates(lead_terms(other.body, "en"), day) == []
    (alone,) = stage.run([other])
    assert alone.story_id == alone.article_id


def test_a_text_without_sentence_punctuation_is_weighed_by_its_first_words_only():
    words = [f"filler{n:03d}" for n in range(MAX_LEAD_WORDS)]
    body = " ".join(
        [*words, "zygomorphic"]
    )  # the rarest word of all, past the cap (the fillers are one stem)
    assert "zygomo" not in lead_terms(body, "en")
    assert "zygomo" in lead_terms(" ".join([*words[: MAX_LEAD_WORDS - 1], "zygomorphic"]), "en")
