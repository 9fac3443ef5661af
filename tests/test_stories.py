"""Story grouping: the seeds' three reports of one event share a story, the look-alike events stay apart; later
runs join stories in DuckDB through their centroids."""

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from pipeline import stories
from pipeline.rarity import rarity
from pipeline.run.assemble import new_run_id, plan_run
from pipeline.run.runner import process_run, publish_run, run_ingest
from pipeline.settings import Settings
from pipeline.stage import Ledger
from pipeline.store import Store
from pipeline.store.history import History
from pipeline.store.load import Loader
from pipeline.stories import (
    MAX_WORDS,
    NAME_MARK,
    SHORT_TEXT_TERMS,
    STORY_THRESHOLD,
    StoryStage,
    describe,
    is_place,
    merged,
    similarity,
)
from tests.conftest import make_article

TALKS = (
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
        stored = json.loads(
            con.execute("SELECT terms FROM story_index WHERE story_id = ?", [story["000"]]).fetchone()[0]
        )
        indexed = {
            t
            for (t,) in con.execute(
                "SELECT term FROM story_terms WHERE story_id = ?", [story["000"]]
            ).fetchall()
        }
    assert counts == [1, 1, 3]
    # The stored story is the three reports' centroid: words of each (000's Umerov, 002's Kharkiv) are in it.
    assert {"umerov", "kharki", "istanb"} <= set(stored["terms"]) and "istanbul" in stored["mentioned"]
    assert indexed == {t for t in stored["terms"] if not t.startswith(NAME_MARK)}


def test_a_report_in_a_later_run_joins_the_stored_story(seeds_copy, db_path, tmp_path):
    settings = Settings.from_env(db_path=db_path)
    run_ingest([str(seeds_copy)], settings, trigger="test")
    later = tmp_path / "later"
    later.mkdir()
    body = "\n".join(
        [
            "Zelensky Renews Offer Of Talks With Putin",
            "",
            "Ukrainian President Volodymyr Zelensky again extended an invitation to Vladimir Putin for peace talks "
            "to end the war, after another night of Russian missile and drone strikes on Ukrainian cities.",
            "The offer was passed to Moscow through Rustem Umerov, who led the Ukrainian delegation at the two "
            "previous rounds of talks in Istanbul; the Kremlin has not replied. Zelensky proposed a ceasefire "
            "meeting next week and urged Putin to stop hiding from decisions.",
        ]
    )
    (later / "005.txt").write_text(body)
    run_ingest([str(later)], settings, trigger="test")
    story = stories_by_file(db_path)
    assert story["005"] == story["000"]
    with duckdb.connect(str(db_path), read_only=True) as con:
        (count,) = con.execute(
            "SELECT article_count FROM stories WHERE story_id = ?", [story["000"]]
        ).fetchone()
        (last,) = con.execute("SELECT max(last_seen) FROM story_index").fetchone()
    assert count == 4 and last is not None


def _report(place: str, n: int) -> str:
    """A report of peace talks held in `place`, the place named four times (`PLACE_REPEATS`)."""
    return "\n".join(
        [
            f"Delegations from Ukraine and Russia met in {place} on Saturday for a new round of peace talks, "
            f"report {n}.",
            f"Officials said the talks in {place} would continue for two days under American mediation.",
            f"Envoy Kirill Dmitriev arrived in {place} late on Friday; {place} police closed the streets near "
            "the hotel. Kyiv asked for a ceasefire and for prisoner exchanges before any territorial talks.",
        ]
    )


def test_look_alike_events_stay_apart_by_the_place_each_report_dwells_on():
    assert stories.PLACE_REPEATS == 4
    miami, geneva = describe(None, _report("Miami", 1), "en"), describe(None, _report("Geneva", 2), "en")
    assert "miami" in miami.anchors and "geneva" in geneva.anchors
    words, _ = similarity(miami.terms, geneva.terms)
    assert words >= STORY_THRESHOLD  # by their words alone they would be one story

    stage = StoryStage(Ledger(), None, datetime(2026, 5, 1))
    first, second, again = (
        stage.apply(make_article(_report(place, n), title=None, article_id=f"a{n}", language="en"))
        for n, place in enumerate(["Miami", "Geneva", "Miami"])
    )
    assert first.story_id != second.story_id  # Geneva is never named by the Miami story
    assert again.story_id == first.story_id  # a second report from Miami joins the first
    assert stage.ledger.by_stage()["stories"]["joined"] == 1


def test_an_anchor_the_story_mentions_once_does_not_keep_a_report_out():
    stage = StoryStage(Ledger(), None, datetime(2026, 5, 1))
    first = stage.apply(
        make_article(
            _report("Miami", 1) + "\nEarlier rounds were held in Geneva.", article_id="a1", language="en"
        )
    )
    later = stage.apply(
        make_article(
            _report("Geneva", 2) + "\nThe last round was held in Miami.", article_id="a2", language="en"
        )
    )
    assert later.story_id == first.story_id  # each names the other's place


def _arrest(first: str, last: str, n: int) -> str:
    return "\n".join(
        [
            f"San Diego Chargers lineman {first} {last} was arrested on suspicion of drunk driving early on "
            f"Sunday, report {n}.",
            f"The California Highway Patrol said {last} was stopped on the freeway after midnight.",
            f"{last} was booked into county jail and released on bail; {last} did not comment. The team said it "
            f"was aware of the arrest of {last} and was gathering information.",
        ]
    )


def test_a_person_named_in_full_anchors_though_the_surname_is_a_common_word():
    assert stories.FULL_NAME_REPEATS == 5 < stories.NAME_REPEATS
    assert rarity("williams", "en") < stories.NAME_RARITY  # alone, too common to anchor
    williams, johnson = (
        describe(None, _arrest("Jamal", "Williams", 1), "en"),
        describe(None, _arrest("Tavon", "Johnson", 2), "en"),
    )
    assert "williams" in williams.anchors and "johnson" in johnson.anchors  # neither is a place
    words, _ = similarity(williams.terms, johnson.terms)
    assert words >= STORY_THRESHOLD  # by their words alone the two arrests would be one story
    # Without a first name before it, the same surname as often is not what the text is about.
    assert "williams" not in describe(None, _arrest("The", "Williams", 1), "en").anchors

    stage = StoryStage(Ledger(), None, datetime(2026, 5, 1))
    first, second, again = (
        stage.apply(make_article(_arrest(*name, n), title=None, article_id=f"a{n}", language="en"))
        for n, name in enumerate([("Jamal", "Williams"), ("Tavon", "Johnson"), ("Jamal", "Williams")])
    )
    assert first.story_id != second.story_id and again.story_id == first.story_id


def test_places_are_known_in_other_languages_and_scripts_and_common_words_are_not_anchors():
    assert all(is_place(w) for w in ("miami", "genf", "ginevra", "москва", "istanbul", "kyiv"))
    assert not any(is_place(w) for w in ("zelensky", "ceasefire", "negotiations"))
    text = "Talks resumed on Friday. " + " ".join(["Officials met again on Friday in Europe."] * 8)
    assert describe(None, text, "en").anchors == frozenset()  # Friday and Europe are too common


def test_rare_words_and_names_weigh_more_and_unknown_languages_still_compare():
    terms = describe(None, TALKS, "en").terms
    words = {t: w for t, w in terms.items() if not t.startswith(NAME_MARK)}
    assert max(words, key=words.get) in ("zelens", "volody")  # names weigh most
    assert words["zelens"] > 3 * words.get("contin", 0.0)
    assert NAME_MARK + "putin" in terms and NAME_MARK + "aiming" not in terms
    assert similarity(terms, terms) == (1.0, 1.0) or abs(similarity(terms, terms)[0] - 1) < 1e-3
    flat = describe(None, TALKS, None).terms
    assert similarity(flat, describe(None, TALKS, "xx").terms)[0] > 0.999


def test_a_short_text_compares_as_it_is_but_counts_in_a_centroid_as_its_share_of_a_text():
    def norm(terms, names):
        return sum(w * w for t, w in terms.items() if t.startswith(NAME_MARK) == names) ** 0.5

    long = describe(None, TALKS, "en").terms
    short = describe(None, "The peace talks with Putin are over in Ukraine.", "en").terms
    words = sum(not t.startswith(NAME_MARK) for t in short)
    assert 0 < words < SHORT_TEXT_TERMS
    assert abs(norm(long, False) - 1) < 1e-3
    assert abs(norm(short, False) - words / SHORT_TEXT_TERMS) < 1e-3
    assert abs(norm(short, True) - words / SHORT_TEXT_TERMS) < 1e-3
    unit = {t: w / norm(short, t.startswith(NAME_MARK)) for t, w in short.items()}
    for a, b in zip(similarity(short, long), similarity(unit, long), strict=True):
        assert abs(a - b) < 1e-3  # its cosines are a unit vector's
    centroid = merged(long, short)
    assert similarity(centroid, long)[0] > similarity(merged(long, unit), long)[0]
    assert (
        describe(None, "Hi.", "en").terms == {} == describe(None, "It is on.", None).terms
    )  # no words: none


def test_a_title_case_headline_does_not_make_every_word_a_name():
    body = "The council approved the budget on Tuesday after a long debate about new buses."
    terms = describe("Council Approves Budget After Long Debate", body, "en").terms
    assert NAME_MARK + "counci" not in terms and NAME_MARK + "budget" not in terms


def test_a_story_older_than_the_window_is_not_joined():
    stage = StoryStage(Ledger(), history=None, now=datetime(2026, 5, 1))
    first = stage.apply(
        make_article(TALKS, article_id="a1", published_at=datetime(2026, 4, 1), language="en")
    )
    again = stage.apply(
        make_article(TALKS, article_id="a2", published_at=datetime(2026, 4, 2), language="en")
    )
    late = stage.apply(
        make_article(
            TALKS, article_id="a3", published_at=datetime(2026, 4, 1) + timedelta(days=10), language="en"
        )
    )
    assert first.story_id == again.story_id == "a1" and late.story_id == "a3"
    assert stage.ledger.by_stage()["stories"] == {"total": 3, "forwarded": 3, "joined": 1, "started": 2}


def test_languages_wordfreq_cannot_tokenize_here_still_get_stories():
    korean = (
        "서울시 의회는 화요일 새 교통 예산을 승인했으며 북부 지역에 버스 노선 열두 개를 추가한다고 밝혔다."
    )
    for language in ("ko", "ja", "zh"):
        terms = describe(None, korean, language).terms
        assert terms and len(set(terms.values())) == 1  # every word weighs the same


def _event_article(n: int, text: str, day: datetime):
    a = make_article(f"{text}\n\nA second paragraph of the report follows here.", title=None)
    a.source_uri, a.article_id, a.language, a.published_at = f"/in/{n}.txt", f"id{n:04d}", "en", day
    return a


def test_candidates_are_found_through_the_term_index_and_common_words_are_not_looked_up():
    day = datetime(2026, 5, 4, 9)
    # 150 distinct events whose texts all share "Parliament" (and "vote"), each with rare words of its own.
    codes = ["".join(chr(97 + (i // 26**k) % 26) for k in range(3)) for i in range(150)]
    rare = [f"{c}xylo {'xq' + c}mo {'vv' + c}ra" for c in codes]  # three made-up words, stems of their own
    texts = [f"Parliament vote backs {words} in the capital on Tuesday, officials said." for words in rare]
    stage = StoryStage(Ledger(), None, day)
    out = list(stage.run(_event_article(n, text, day) for n, text in enumerate(texts)))
    assert len({a.story_id for a in out}) == 150
    assert stage.by_term["parlia"] is stories.TOO_COMMON  # in over 100 stories: its postings dropped
    assert list(stage.by_term[codes[0] + "xyl"]) == [0]  # a rare word keeps its one story

    # A second report of event 7 joins it, with the score the whole vectors' cosine gives.
    follow = _event_article(
        900, f"Parliament vote backs {rare[7]} again in the capital, officials said.", day
    )
    description = describe(None, follow.body, "en")
    scored = stage._scores(description, day, [])
    assert [stage.stories.ids[slot] for slot, _, _ in scored] == [
        out[7].story_id
    ]  # it alone shares rare words
    (slot, words, _) = scored[0]
    assert abs(words - similarity(description.terms, stage.stories.story(slot).terms)[0]) < 1e-4
    assert words >= STORY_THRESHOLD
    (joined,) = stage.run([follow])
    assert joined.story_id == out[7].story_id
    centroid, first = stage.stories[out[7].story_id].terms, describe(None, out[7].body, "en").terms
    stem = rare[7][:6]
    assert abs(centroid[stem] - (first[stem] + description.terms[stem])) < 1e-3  # the reports' vectors summed
    assert "again" in centroid and "again" not in first

    # A text sharing only the common words starts a story of its own, without comparing the 150.
    other = _event_article(901, "Parliament vote delayed by snowstorm across the northern provinces.", day)
    assert stage._scores(describe(None, other.body, "en"), day, []) == []
    (alone,) = stage.run([other])
    assert alone.story_id == alone.article_id


def test_a_long_text_is_weighed_by_its_first_words_only():
    words = [f"filler{n:04d}" for n in range(MAX_WORDS)]
    assert "zygomo" not in describe(None, " ".join([*words, "zygomorphic"]), "en").terms
    assert "zygomo" in describe(None, " ".join([*words[: MAX_WORDS - 1], "zygomorphic"]), "en").terms


class CountingHistory(History):
    """The real history, counting the candidate queries a stage asks."""

    def __init__(self, con):
        super().__init__(con)
        self.queries, self.lookups = 0, 0

    def story_candidates(self, lookups, limit, common):
        self.queries += 1
        self.lookups += len(lookups)
        return super().story_candidates(lookups, limit, common)


def test_a_later_run_finds_stored_stories_a_batch_at_a_time_each_article_in_its_own_window(tmp_path):
    day = datetime(2026, 5, 4, 9)
    codes = ["".join(chr(97 + (i // 26**k) % 26) for k in range(3)) for i in range(150)]
    rare = [f"{c}xylo {'xq' + c}mo {'vv' + c}ra" for c in codes]
    texts = [f"Parliament vote backs {words} in the capital on Tuesday, officials said." for words in rare]
    first = StoryStage(Ledger(), None, day)
    out = list(first.run(_event_article(n, text, day) for n, text in enumerate(texts)))
    staged = tmp_path / "stories.jsonl"
    staged.write_text("".join(json.dumps(row) + "\n" for row in first.rows()))
    db = tmp_path / "history.duckdb"
    with Store(db) as store:
        Loader(store.con)._save_stories(staged, "test-run")
        windows = store.con.execute(
            "SELECT DISTINCT first_seen, last_seen FROM story_terms WHERE story_id = ?", [out[7].story_id]
        ).fetchall()
        assert windows == [(day, day)]  # each index row carries its story's window

    def follow(n: int, event: int, when: datetime):
        return _event_article(
            n, f"Parliament vote backs {rare[event]} again in the capital, officials said.", when
        )

    later = day + timedelta(days=1)
    batch = [
        follow(900, 7, later),
        follow(901, 42, later),
        follow(902, 9, day + timedelta(days=3, hours=12)),  # event 9's story closed half a day before
        _event_article(903, "Parliament vote delayed by snowstorm across the northern provinces.", later),
        follow(904, 11, day + timedelta(days=10)),  # dated a week later
    ]
    with Store.for_reading(db) as store:
        history = CountingHistory(store.con)
        stage = StoryStage(Ledger(), history, later)
        joined = list(stage.run(batch))
        # one query for the articles of a few days, another for the one dated a week later
        assert (history.queries, history.lookups) == (2, 5)
        assert [a.story_id for a in joined] == [
            out[7].story_id,
            out[42].story_id,
            "id0902",
            "id0903",
            "id0904",
        ]
        assert stage.ledger.by_stage()["stories"] == {"total": 5, "forwarded": 5, "joined": 2, "started": 3}
        # in one query, each article finds the stories open in its own window; "parliament" is in 150 stored
        # stories, too common to find one by (as within a run)
        lookups = [stories._lookup(describe(None, a.body, "en"), a.published_at) for a in batch[:4]]
        assert history.story_candidates(lookups, 8, 100) == [[out[7].story_id], [out[42].story_id], [], []]
        # one at a time (`apply`), an article asks for its own candidates and joins the same way
        alone = StoryStage(Ledger(), history, later)
        assert alone.apply(follow(905, 7, later)).story_id == out[7].story_id and history.queries == 4

    # the joined stories' index rows take their new window at the load
    staged.write_text("".join(json.dumps(row) + "\n" for row in stage.rows()))
    with Store(db) as store:
        Loader(store.con)._save_stories(staged, "test-run")
        rows = store.con.execute(
            "SELECT DISTINCT story_id, first_seen, last_seen FROM story_terms WHERE story_id IN (?, ?) ORDER BY 1",
            [out[7].story_id, "id0904"],
        ).fetchall()
    week = day + timedelta(days=10)
    assert rows == [(out[7].story_id, day, later), ("id0904", week, week)]


def test_a_later_report_merges_the_lone_stories_of_an_earlier_run_it_joins(seeds_copy, db_path, tmp_path):
    """001 and 002 land in one run as two stories (too unlike to join); 000 comes in a later run, joins one and
    could have joined the other: the load moves the other's article into the story, drops its index rows and
    records the merge. A retry of that load converges."""
    later = tmp_path / "later"
    later.mkdir()
    for name in ("000", "003"):
        (src,) = seeds_copy.glob(f"{name}_*.txt")
        src.rename(later / src.name)
    (seeds_copy / next(seeds_copy.glob("004_*.txt")).name).unlink()
    settings = Settings.from_env(db_path=db_path)
    run_ingest([str(seeds_copy)], settings, trigger="test")
    first = stories_by_file(db_path)
    assert first["001"] != first["002"]
    with Store(db_path) as store:
        folder = process_run(plan_run([str(later)], settings), settings, new_run_id(), store.history)
        retry = folder.with_name("retry")
        shutil.copytree(folder, retry)
        publish_run(folder, store, "test")
        published = store.con.execute("SELECT article_id, story_id FROM articles ORDER BY 1").fetchall()
        publish_run(retry, store, "test")  # an Airflow retry of the load
        assert (
            store.con.execute("SELECT article_id, story_id FROM articles ORDER BY 1").fetchall() == published
        )
    story = stories_by_file(db_path)
    assert story["000"] == story["001"] == story["002"] != story["003"]
    (gone,) = {first["001"], first["002"]} - {story["000"]}
    with duckdb.connect(str(db_path), read_only=True) as con:
        merges = con.execute("SELECT story_id, merged_into FROM story_merges").fetchall()
        index = {sid for (sid,) in con.execute("SELECT story_id FROM story_index").fetchall()}
        terms = con.execute("SELECT count(*) FROM story_terms WHERE story_id = ?", [gone]).fetchone()
        view = con.execute("SELECT article_count FROM stories WHERE story_id = ?", [story["000"]]).fetchone()
        (counts,) = con.execute("SELECT counts FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        size = con.execute(
            "SELECT terms->>'$.size' FROM story_index WHERE story_id = ?", [story["000"]]
        ).fetchone()
    assert merges == [(gone, story["000"])]
    assert index == {story["000"], story["003"]} and terms == (0,) and view == (3,) and size == ("3",)
    # the later run's counts: 000 joined, 003 started, one stored story merged
    counted = json.loads(counts)["stories"]
    assert (counted["joined"], counted["started"], counted["regrouped"]) == (1, 1, 1)


def test_a_lone_story_of_an_earlier_batch_is_merged_by_the_load(seeds_copy, db_path, monkeypatch):
    """In batches of one, 001 and 002 are handed on as stories of their own before 000 joins one and adopts the
    other: the load moves the article that was handed on, and a retry of the load (whose staged row still
    has the article's first story) converges."""
    for n, name in enumerate(("001", "002", "000")):  # read in this order
        (src,) = seeds_copy.glob(f"{name}_*.txt")
        src.rename(seeds_copy / f"{n}_{src.name}")
    for name in ("003", "004"):
        next(seeds_copy.glob(f"{name}_*.txt")).unlink()
    monkeypatch.setattr(StoryStage, "batch_size", 1)
    settings = Settings.from_env(db_path=db_path)
    with Store(db_path) as store:
        folder = process_run(plan_run([str(seeds_copy)], settings), settings, new_run_id(), store.history)
        with duckdb.connect() as con:
            staged = dict(
                con.execute(f"SELECT source_uri, story_id FROM '{folder}/articles-*.parquet'").fetchall()
            )
        retry = folder.with_name("retry")
        shutil.copytree(folder, retry)
        publish_run(folder, store, "test")
        published = store.con.execute("SELECT source_uri, story_id FROM articles ORDER BY 1").fetchall()
        publish_run(retry, store, "test")
        assert (
            store.con.execute("SELECT source_uri, story_id FROM articles ORDER BY 1").fetchall() == published
        )
        (merged,) = store.con.execute("SELECT story_id, merged_into FROM story_merges").fetchall()
    story = {Path(uri).name[2:5]: sid for uri, sid in published}
    assert story["000"] == story["001"] == story["002"]
    assert len(set(staged.values())) == 2  # as handed on: 001 and 002 each a story, 000 in one of them
    assert merged[1] == story["000"] and merged[0] in staged.values()


def test_two_reports_too_unlike_to_join_both_join_a_third_that_comes_after_them(seeds_copy, db_path):
    """The seeds' 001 and 002 share too little for one to join the other; 000 is like both. In a batch, 000
    coming last still makes one story of the three, as when it comes first (one at a time, it cannot)."""
    for n, name in enumerate(("001", "002", "003", "004", "000")):  # read in this order
        (src,) = seeds_copy.glob(f"{name}_*.txt")
        src.rename(seeds_copy / f"{n}_{src.name}")
    summary = run_ingest([str(seeds_copy)], Settings.from_env(db_path=db_path), trigger="test")
    assert summary.landed == 5
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute("SELECT source_uri, story_id, body, language FROM articles").fetchall()
        (counts,) = con.execute("SELECT counts FROM runs").fetchone()
        staged = {sid for (sid,) in con.execute("SELECT story_id FROM story_index").fetchall()}
    story = {Path(uri).name[2:5]: sid for uri, sid, _, _ in rows}
    assert story["000"] == story["001"] == story["002"]
    assert len({story["000"], story["003"], story["004"]}) == 3
    counted = json.loads(counts)["stories"]
    assert (counted["regrouped"], counted["joined"], counted["started"]) == (1, 2, 3)
    assert staged == {story["000"], story["003"], story["004"]}  # the lone story 002 started is not stored

    body = {Path(uri).name[2:5]: (b, lang) for uri, _, b, lang in rows}
    assert (
        similarity(describe(None, *body["001"]).terms, describe(None, *body["002"]).terms)[0]
        < STORY_THRESHOLD
    )
    one_at_a_time = StoryStage(Ledger(), None, datetime(2026, 5, 4))
    alone = {}
    for n in ("001", "002", "003", "004", "000"):
        a = make_article(body[n][0], title=None, article_id=f"s{n}", language=body[n][1])
        alone[n] = one_at_a_time.apply(a).story_id
    assert alone["001"] != alone["002"]
