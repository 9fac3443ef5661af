"""The ECB+ story scorer (evals/stories.py): pairwise scoring and the baseline on cases checked by eye, and a tiny
ECB+-shaped corpus through `make eval`'s command end to end (the real pipeline, a scratch database)."""

import json

import pytest

from evals.stories import (
    ABLATIONS,
    Label,
    first_line_clusters,
    half_of,
    load,
    main,
    pairwise,
    tfidf_clusters,
)
from pipeline.errors import SetupError

LABELS = {
    1: Label("7", "7ecb"),
    2: Label("7", "7ecb"),
    3: Label("7", "7ecbplus"),
    4: Label("9", "9ecb"),
}


def test_pairwise_counts_pairs_and_hard_negatives():
    # one story for 1, 2, 3: pairs (1,2) right, (1,3) and (2,3) hard negatives merged; 4 alone
    score = pairwise({1: "a", 2: "a", 3: "a", 4: "b"}, LABELS)
    assert score.articles == 4
    assert score.precision == pytest.approx(1 / 3) and score.recall == 1.0
    assert (score.hard_merged, score.hard_pairs) == (2, 2)
    apart = pairwise({1: "a", 2: "b", 3: "c", 4: "d"}, LABELS)
    assert (apart.precision, apart.recall, apart.f1, apart.hard_merged) == (0.0, 0.0, 0.0, 0)


def test_the_baseline_joins_a_first_article_at_its_threshold_and_first_lines_compare_normalised():
    texts = [
        "Klitschko stops Rahman in the seventh round in Mannheim.",
        "In Mannheim, Klitschko stops Rahman in round seven.",
        "The harbour authority approved a new pier for the ferry.",
    ]
    assert tfidf_clusters(texts) == [0, 0, 1]
    assert tfidf_clusters(texts, threshold=1.01) == [0, 1, 2]
    assert first_line_clusters(["Big Fight!\nbody", "big fight\nother"]) == ["bigfight", "bigfight"]


def test_topics_split_in_two_stable_halves():
    assert {half_of(str(t)) for t in range(1, 50)} == {"tune", "report"}
    assert half_of("7") == half_of("7")


def test_a_missing_corpus_says_where_to_point(tmp_path):
    with pytest.raises(SetupError, match="ECBPLUS="):
        load(tmp_path)
    assert main(["--corpus", str(tmp_path)]) == 3


FIGHT = (
    "Wladimir Klitschko stopped Hasim Rahman in the seventh round on Saturday in Mannheim, Germany, keeping his "
    "heavyweight titles.\nThe Ukrainian dominated the fight with his jab, and the referee stopped it after a "
    "barrage of punches.\nRahman, a former champion, had not fought for the title since 2006."
)
PIER = (
    "The harbour authority approved a new pier on Tuesday after a two-year review of its effect on the bay.\n"
    "Construction is expected to start in the spring and to take about eighteen months, officials said.\n"
    "Fishermen had asked for the work to pause during the herring season, and the board agreed."
)


def test_a_tiny_corpus_end_to_end(tmp_path, capsys):
    corpus = tmp_path / "ecbplus"
    corpus.mkdir()
    texts = [FIGHT, PIER, FIGHT.replace("Saturday", "Sunday"), PIER.replace("Tuesday", "Monday")]
    events = [("7", "7ecb"), ("13", "13ecb"), ("7", "7ecb"), ("13", "13ecb")]
    (corpus / "articles.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    (corpus / "labels.jsonl").write_text(
        "".join(
            json.dumps({"line": n, "doc": f"{t}_{n}", "topic": t, "event": e}) + "\n"
            for n, (t, e) in enumerate(events, start=1)
        )
    )
    out = tmp_path / "report.json"
    assert main(["--corpus", str(corpus), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    scores = report["all"]["scores"]
    assert set(scores) >= {"pipeline story_id", "same first line"}
    pipeline = scores["pipeline story_id"]
    assert pipeline["articles"] == 4 and pipeline["hard_pairs"] == 0
    assert report["landed"] + report["duplicates"] == 4  # a near-copy is scored as its original's story
    assert pipeline["precision"] == 1.0 and pipeline["recall"] == 1.0
    printed = capsys.readouterr().out
    assert "ECB+ stories, all topics" in printed and "shuffled orders" in printed
    ablated = scores["pipeline without anchors (places, names repeated)"]
    assert ablated["articles"] == 4 and ablated["precision"] == 1.0 and ablated["recall"] == 1.0
    # the same stage over two runs (the odd lines join stories stored by the first) scores as one run in that order
    two_runs = scores["pipeline in two runs (odd lines join through the DB)"]
    assert two_runs == scores["pipeline in one run, even lines first"] and two_runs["recall"] == 1.0
    # the spread over shuffled orders, the pipeline's and the baseline's, for all topics and each half
    spread = report["shuffled"]["all"]["pipeline story_id"]
    assert set(spread) == {"precision", "recall", "f1", "hard_share"}
    assert spread["f1"]["min"] <= spread["f1"]["mean"] <= spread["f1"]["max"] == 1.0
    assert set(report["shuffled"]) == {"all", "tune", "report"}
    seeds = report["seeds"]
    assert set(seeds) == {"pipeline", *ABLATIONS}
    assert seeds["pipeline"] == {"as_expected": True, "orders_as_expected": 120}
    assert seeds["without anchors (places, names repeated)"]["as_expected"] is False  # what anchors buy
