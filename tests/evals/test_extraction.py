"""The AEB scorer, on cases small enough to count by hand, and `make eval`'s handling of a missing corpus."""

import gzip
import json

import pytest

from evals.extraction import main, score, score_page, shingles, tokens


def test_tokens_are_word_runs_and_shingles_count_multiplicity():
    assert tokens("Don't stop—now, 2019!") == ["Don", "t", "stop", "now", "2019"]
    assert shingles("a b c d e") == {("a", "b", "c", "d"): 1, ("b", "c", "d", "e"): 1}
    assert shingles("a b") == {("a", "b"): 1}  # shorter than 4 tokens: one short shingle
    assert shingles("") == {}
    assert shingles("x y z w x y z w x y z w")[("x", "y", "z", "w")] == 3


def test_page_counts_are_normalised_to_one():
    truth = "one two three four five six"  # 3 shingles
    page = score_page(truth, "one two three four five six seven eight")  # 5 shingles, 3 shared
    assert (page.tp, page.fp, page.fn) == pytest.approx((3 / 5, 2 / 5, 0.0))
    assert page.precision == pytest.approx(0.6) and page.recall == 1.0 and not page.exact
    assert score_page(truth, "one, two; three four (five) six.").exact  # punctuation ignored
    assert not score_page(truth, "One two three four five six").exact  # case kept


def test_corpus_scores_are_macro_and_empty_predictions_count_only_against_recall():
    truth = {"a": "one two three four five", "b": "six seven eight nine ten"}
    s = score(truth, {"a": "one two three four five", "b": None}, bootstrap=0)
    assert s.precision == 1.0  # b predicted nothing: no precision to average
    assert s.recall == 0.5 and s.f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert s.accuracy == 0.5 and s.empty == 1


def test_eval_says_clearly_when_the_corpus_is_absent(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nowhere")]) == 3
    assert "AEB corpus not found" in capsys.readouterr().err


def test_eval_runs_the_pipeline_and_the_baselines_on_a_tiny_corpus(tmp_path, capsys):
    text = (
        "The harbour authority said on Friday that the new ferry terminal would open in March, two years "
        "later than planned, after a long dispute over the cost of dredging the northern channel of the port."
    )
    (tmp_path / "html").mkdir()
    page = f"<html><head><title>Terminal opens</title></head><body><article><p>{text}</p><p>{text[::-1]}</p>"
    page += "<p>Share this article</p></article></body></html>"
    with gzip.open(tmp_path / "html" / "p1.html.gz", "wt", encoding="utf-8") as f:
        f.write(page)
    truth = {"p1": {"articleBody": f"{text}\n{text[::-1]}", "url": "https://harbour.example/terminal"}}
    (tmp_path / "ground-truth.json").write_text(json.dumps(truth))
    assert main(["--corpus", str(tmp_path), "--bootstrap", "2", "--json", str(tmp_path / "out.json")]) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["pages"] == 1
    assert out["scores"]["pipeline (trafilatura + our rules)"]["f1"] == 1.0
    assert "pipeline (trafilatura + our rules)" in capsys.readouterr().out
