"""The dedupe bench: its article generator is deterministic and makes what it says, and a tiny bench runs.

Speed and memory are what the bench measures and reports; nothing here asserts on time.
"""

import json
from collections import Counter

import pytest

from bench.dedupe import ArticleGenerator, ensure_history, main, ratios
from pipeline.dedupe.stage import DedupeStage
from pipeline.models import Article, Duplicate
from pipeline.settings import Settings
from pipeline.stage import Ledger
from pipeline.store import Store


def test_generator_is_deterministic():
    first = [g.article for g in ArticleGenerator(7).stream(150)]
    again = [g.article for g in ArticleGenerator(7).stream(150)]
    other = [g.article for g in ArticleGenerator(8).stream(150)]
    assert [(a.article_id, a.title, a.body, a.content_hash) for a in first] == [
        (a.article_id, a.title, a.body, a.content_hash) for a in again
    ]
    assert not {a.content_hash for a in first} & {a.content_hash for a in other}
    # Article i depends only on (seed, i): re-made alone, it is the same.
    assert ArticleGenerator(7).generate(120).article.body == first[120].body


def test_generator_makes_distinct_articles_and_the_intended_copies():
    generated = list(ArticleGenerator(3).stream(400))
    kinds = Counter(g.kind for g in generated)
    assert 0.05 * 400 < kinds["near"] < 0.16 * 400
    assert 0.02 * 400 < kinds["exact"] < 0.09 * 400
    assert len({g.article.article_id for g in generated}) == 400  # every input has its own URL
    originals = [g.article for g in generated if g.kind == "original"]
    assert len({a.content_hash for a in originals}) == len(originals)
    assert all(250 <= a.word_count <= 700 for a in originals)
    by_id = {g.article.article_id: g.article for g in generated}
    for g in generated:
        a = g.article
        assert a.body and a.title and a.url and a.source_uri and a.run_id and a.ingested_at
        if g.kind == "exact":
            assert a.content_hash == by_id[g.copy_of].content_hash and a.body != by_id[g.copy_of].body
        elif g.kind == "near":
            assert a.content_hash != by_id[g.copy_of].content_hash

    # What the pipeline's dedupe makes of them is what the generator meant.
    stage = DedupeStage(Ledger(), Settings(), None)
    for g, out in zip(generated, stage.run(g.article for g in generated), strict=True):
        if g.kind == "original":
            assert isinstance(out, Article), g.index
        else:
            assert isinstance(out, Duplicate) and (out.method, out.duplicate_of) == (g.kind, g.copy_of), (
                g.index
            )


def test_copies_can_copy_the_prior_streams_articles():
    prior = ArticleGenerator(1)
    gen = ArticleGenerator(2, prior, 500)
    prior_ids = {prior.article_id(i) for i in range(500)}
    copies = [g for g in gen.stream(400) if g.kind != "original"]
    from_prior = [g for g in copies if g.copy_of in prior_ids]
    assert 0 < len(from_prior) < len(copies)


def _outcomes(stage, stream):
    return [
        (
            type(o).__name__,
            getattr(o, "duplicate_of", None),
            getattr(o, "method", None),
            getattr(o, "similarity", None),
        )
        for o in stage.run(stream)
    ]


HISTORY = 200


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A bench workdir holding a cached history DB of HISTORY rows, shared by the tests below."""
    folder = tmp_path_factory.mktemp("bench")
    _, meta = ensure_history(folder, HISTORY)
    assert meta["rows"]["articles"] == HISTORY and not meta["cached"]
    assert (
        meta["rows"]["article_lsh"] == Settings().lsh_bands * HISTORY
        and meta["rows"]["article_duplicates"] > 0
    )
    return folder


def test_history_db_is_cached(workdir):
    db, meta = ensure_history(workdir, HISTORY)
    assert meta["cached"] and db.exists()


def test_chunked_dedupe_against_the_history_gives_the_per_article_outcomes(workdir):
    db, _ = ensure_history(workdir, HISTORY)
    gen = ArticleGenerator(2, ArticleGenerator(1), HISTORY)

    def news():  # fresh objects each time: dedupe sets fields on the articles it forwards
        return [g.article for g in gen.stream(250)]

    with Store.for_reading(db) as history:
        one_by_one = _outcomes(DedupeStage(Ledger(), Settings(dedupe_chunk=1), history.history), news())
    with Store.for_reading(db) as history:
        chunked = _outcomes(DedupeStage(Ledger(), Settings(dedupe_chunk=64), history.history), news())
    assert chunked == one_by_one
    assert {o[2] for o in one_by_one} >= {"near", "exact", None}
    # Some copies are of history articles: the cross-run paths ran.
    prior = ArticleGenerator(1)
    history_ids = {prior.article_id(i) for i in range(2 * HISTORY)}
    assert any(o[1] in history_ids for o in one_by_one)


def test_tiny_bench_prints_a_table_with_ratios(workdir, tmp_path, capsys):
    out = tmp_path / "report.json"
    args = ["--sizes", "50,200", "--history", str(HISTORY), "--workdir", str(workdir), "--json", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Dedupe benchmark" in printed
    assert "time(200)/time(50) vs empty DB" in printed
    assert f"time(200)/time(50) vs {HISTORY}-row DB" in printed
    assert "Where the time goes" in printed and "db.band_members" in printed
    report = json.loads(out.read_text())
    assert [(r["size"], r["db"]) for r in report["scenarios"]] == [
        (50, "empty"),
        (200, "empty"),
        (50, "history"),
        (200, "history"),
    ]
    for r in report["scenarios"]:
        assert r["processed"] == r["size"] == sum(r["outcomes"].values())
        assert r["peak_rss_mb"] > 0 and r["dedupe_s"] > 0
    size_ratios = [q for q in report["ratios"] if q["kind"] == "size"]
    assert len(size_ratios) == 2 and all(q["time_ratio"] > 0 for q in size_ratios)
    # A few bulk queries per chunk of 1,000 articles, not several per article.
    assert all(4 <= r["history_queries"] <= 12 for r in report["scenarios"])


def test_ratios_extrapolate_a_stopped_scenario():
    def result(size, db, seconds, stopped=False):
        return {
            "db": db,
            "history_rows": 0 if db == "empty" else 1000,
            "size": size,
            "dedupe_s_full": seconds,
            "dedupe_cpu_s_full": seconds,
            "stopped_early": stopped,
        }

    got = ratios(
        [
            result(10, "empty", 1.0),
            result(100, "empty", 11.0),
            result(10, "history", 4.0),
            result(100, "history", 40.0, True),
        ]
    )
    by = {(q["kind"], q["db"] if q["kind"] == "size" else q["size"]): q for q in got}
    assert by[("size", "empty")]["time_ratio"] == 11.0 and not by[("size", "empty")]["extrapolated"]
    assert by[("size", "history")]["extrapolated"]
    assert by[("history", 10)]["time_ratio"] == 4.0


@pytest.mark.parametrize("args", [["--sizes", "ten"], ["--sizes", "0"], ["--history", "-1"]])
def test_bad_arguments_are_a_usage_error(tmp_path, args):
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--workdir", str(tmp_path)])
    assert exit_.value.code == 2
