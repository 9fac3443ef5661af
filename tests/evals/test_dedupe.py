"""The dedupe evaluation set and its scores: generated copies carry the right ground truth, the pairwise
arithmetic counts by hand, and the real pipeline run on a tiny synthetic corpus finds the copies."""

import difflib
import gzip
import json
import random
from collections import Counter

import pytest

from evals.dedupe import (
    COPY_KINDS,
    KINDS,
    MIN_WORDS,
    ORIGINAL,
    SITES,
    Case,
    Outcome,
    edit_words,
    evaluate,
    format_report,
    generate,
    main,
    pair_scores,
    score_outcomes,
)
from evals.extraction import Page

_VOCAB_TEXT = (
    "council harbour ferry budget winter school teacher river bridge farmer market price station engineer "
    "doctor patient museum painting village mayor court judge witness police storm flood road train airport "
    "pilot factory worker union strike contract company profit energy solar wind battery library student "
    "exam garden festival musician theatre stadium coach player season election voter minister treaty border "
    "island fishing boat quota forest fire volunteer hospital nurse vaccine clinic software startup founder "
    "investor bank loan rent tenant landlord housing plan committee report survey scientist glacier ocean "
    "reef satellite rocket launch delay cost review audit inquiry evidence"
)
_GLUE_TEXT = "the a of to and in on for with after before during said would could new old local national"
_VOCAB, _GLUE = _VOCAB_TEXT.split(), _GLUE_TEXT.split()


def synthetic_article(rng: random.Random, words: int) -> str:
    """Word salad shaped like an article: sentences of 10-18 words, paragraphs of three to five sentences."""
    paragraphs, total = [], 0
    while total < words:
        sentences = []
        for _ in range(rng.randint(3, 5)):
            n = rng.randint(10, 18)
            sentence = [rng.choice(_VOCAB if i % 2 == 0 else _GLUE) for i in range(n)]
            sentences.append(" ".join(sentence).capitalize() + ".")
            total += n
        paragraphs.append(" ".join(sentences))
    return "\n".join(paragraphs)


def synthetic_pages(count: int = 6, words: int = 600, seed: int = 7) -> list[Page]:
    rng = random.Random(seed)
    return [
        Page(
            f"{n:02d}" + "ab" * 31,
            f"https://news{n}.example/2024/05/story-number-{n}",
            "",
            synthetic_article(rng, words),
        )
        for n in range(count)
    ]


def test_generate_is_deterministic_and_makes_every_kind_with_its_ground_truth():
    pages = [
        *synthetic_pages(),
        Page("short" + "0" * 59, "https://x.example/a", "", "Too short to copy. " * 10),
    ]
    cases = generate(pages, seed=1)
    assert cases == generate(pages, seed=1)
    assert cases != generate(pages, seed=2)

    by_group: dict[str, dict[str, Case]] = {}
    for case in cases:
        by_group.setdefault(case.group, {})[case.kind] = case
    assert set(by_group) == {p.id for p in pages[:-1]}  # the short article (< MIN_WORDS words) makes none
    assert all(set(kinds) == set(KINDS) for kinds in by_group.values())
    assert len({c.record["url"] for c in cases}) == len(cases)  # every record has its own URL
    assert len({c.key for c in cases}) == len(cases)
    for case in cases:
        assert set(case.record) in ({"url", "title", "html"}, {"url", "title", "text"})
        assert (case.site is None) == ("text" in case.record)

    for page in pages[:-1]:
        kinds = by_group[page.id]
        original = kinds[ORIGINAL]
        assert original.format == "html" and original.site in {s.name for s in SITES}
        assert kinds["other_site"].site != original.site
        assert urlsplit_host(kinds["other_site"].record["url"]) != urlsplit_host(original.record["url"])
        for kind in COPY_KINDS:
            assert kinds[kind].record["title"] != original.record["title"], kind
        truth_paras = page.truth.split("\n")
        assert truth_paras[-1] not in json.dumps(kinds["last_dropped"].record, ensure_ascii=False)
        assert truth_paras[-2][-40:] in json.dumps(kinds["last_dropped"].record, ensure_ascii=False)
        assert truth_paras[-1][-40:] not in kinds["first_half"].record["html"]
        assert truth_paras[0][:40] in kinds["first_half"].record["html"]
        wire = kinds["wire"].record.get("text") or kinds["wire"].record["html"]
        assert "(Reuters) - " in wire or "(AP) — " in wire or "(AFP) - " in wire
        assert "Reporting by" in wire and "Editing by" in wire

    # Edited: 3-5% of the words substituted, inserted or deleted.
    truth = synthetic_pages(count=1, words=2000, seed=3)[0].truth.split("\n")
    edited = edit_words(truth, random.Random(5))
    a, b = " ".join(truth).split(), " ".join(edited).split()
    ops = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")
    assert 0.02 * len(a) <= changed <= 0.06 * len(a)
    # Many different articles share each site template: the built-in negatives.
    many = generate(synthetic_pages(count=30, words=MIN_WORDS + 20, seed=9), seed=0)
    per_site = Counter(c.site for c in many if c.kind == ORIGINAL)
    assert max(per_site.values()) >= 3


def urlsplit_host(url: str) -> str:
    return url.split("/")[2]


def test_pairwise_precision_and_recall_by_hand():
    truth = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"}
    predicted = {"a": "X", "b": "X", "c": "Y", "d": "Y", "e": "Z"}
    # true pairs ab ac bc de; predicted pairs ab cd: one right (ab), one false merge (cd), three missed
    s = pair_scores(truth, predicted)
    assert (s.tp, s.fp, s.fn) == (1, 1, 3)
    assert s.precision == 0.5 and s.recall == 0.25
    assert pair_scores({"a": "1"}, {"a": "X"}).precision is None  # no pairs at all: undefined, not 0 or 1
    assert pair_scores(truth, {k: k for k in truth}).precision is None
    assert pair_scores(truth, {k: k for k in truth}).recall == 0.0


def test_scores_per_kind_false_merges_and_lost_groups_from_outcomes():
    def case(group: str, kind: str, site: str | None) -> Case:
        return Case(
            f"{group}:{kind}", group, kind, site, {"url": f"https://x.example/{group}/{kind}"}, words=300
        )

    cases = [
        case("g1", ORIGINAL, "A"),
        case("g1", "wire", None),
        case("g1", "first_half", "B"),
        case("g2", ORIGINAL, "A"),
        case("g2", "wire", None),
        case("g3", ORIGINAL, "B"),
    ]
    outcomes = {
        "g1:original": Outcome("landed", "id1", story="s1"),
        "g1:wire": Outcome("duplicate", "id1", "near", 0.9, story="s1"),
        "g1:first_half": Outcome("landed", "id1b", story="s1"),  # missed copy, but the same story
        "g2:original": Outcome("duplicate", "id1", "near", 0.7, story="s1"),  # a false merge, same template A
        "g2:wire": Outcome("quarantined", "id2w", reasons=("body_min_30_words",)),
        "g3:original": Outcome("landed", "id3", story="s3"),
    }
    scores = score_outcomes(cases, outcomes)
    kinds = scores["kinds"]
    assert (kinds["wire"].pairs, kinds["wire"].found) == (2, 1)
    assert kinds["wire"].misses == {"quarantined": 1}
    assert (kinds["first_half"].pairs, kinds["first_half"].found) == (1, 0)
    assert kinds["edited"].recall is None
    # predicted clusters: {g1:o, g1:w, g2:o}, {g1:fh}, {g2:w}, {g3:o}; true pairs: 3 in g1, 1 in g2
    overall = scores["overall"]
    assert (overall.tp, overall.fp, overall.fn) == (1, 2, 3)
    assert scores["false_merges"] == {"original+original same template": 1, "original+wire": 1}
    assert scores["template_negatives"] == 2  # g1:o~g2:o (A), g1:first_half~g3:o (B)
    assert scores["template_negatives_merged"] == 1
    assert scores["groups_lost"] == ["g2"]
    assert scores["quarantined"] == {"body_min_30_words": 1}
    assert scores["truncated_heads"] == 0
    story = scores["story_landed"]  # landed: g1:o (s1), g1:fh (s1), g3:o (s3) -> one true pair, found
    assert (story.tp, story.fp, story.fn) == (1, 0, 0)


def write_corpus(root, pages: list[Page]) -> None:
    (root / "html").mkdir(parents=True)
    truth = {}
    for page in pages:
        with gzip.open(root / "html" / f"{page.id}.html.gz", "wt", encoding="utf-8") as f:
            f.write("<html><body><p>not read by the dedupe eval</p></body></html>")
        truth[page.id] = {"articleBody": page.truth, "url": page.url}
    (root / "ground-truth.json").write_text(json.dumps(truth), encoding="utf-8")


def test_evaluate_runs_the_pipeline_finds_other_site_and_wire_copies_and_merges_no_negatives(tmp_path):
    write_corpus(tmp_path / "aeb", synthetic_pages(count=6, words=600))
    rng = random.Random(11)
    event_text = synthetic_article(rng, 120).replace("\n", "\n\n")
    events = [
        {"url": "https://a.example/e1", "title": "Ferry strike ends", "text": event_text, "event": "strike"},
        {
            "url": "https://b.example/e2",
            "title": "Strike over",
            "text": synthetic_article(rng, 120),
            "event": "strike",
        },
    ]
    report = evaluate(tmp_path / "aeb", events=events)
    assert report.records == 36 and report.groups == 6
    assert report.run["read"] == 38  # the two event records too
    assert report.kinds["other_site"].recall == 1.0
    assert report.kinds["wire"].recall == 1.0
    assert report.overall.fp == 0 and report.false_merges == {}
    assert report.template_negatives > 0 and report.template_negatives_merged == 0
    assert report.groups_lost == [] and report.orphan_duplicates == 0
    assert report.events is not None
    text = format_report(report)
    for kind in COPY_KINDS:
        assert kind in text
    assert "precision" in text and "articles lost" in text and "story_id" in text


def test_main_says_clearly_when_the_corpus_is_absent(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nowhere")]) == 3
    assert "AEB corpus not found" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [["--set", "shingle_size"], ["--set", "no_such_setting=3"]])
def test_main_refuses_bad_settings(tmp_path, bad):
    write_corpus(tmp_path / "aeb", synthetic_pages(count=1))
    with pytest.raises(SystemExit) as exc:
        main(["--corpus", str(tmp_path / "aeb"), *bad])
    assert exc.value.code == 2


def test_aeb_pages_of_one_event_share_a_story_label_and_others_keep_their_own():
    from evals.aeb_events import EVENTS, event_of

    pages = [page for group in EVENTS.values() for page in group]
    assert len(pages) == len(set(pages)), "an AEB page belongs to at most one event"
    assert all(len(group) >= 2 for group in EVENTS.values())
    assert all(len(p) == 64 and set(p) <= set("0123456789abcdef") for p in pages)

    event, (first, second, *_) = next(iter(EVENTS.items()))
    rng = random.Random(3)
    made = [
        Page(pid, f"https://news{n}.example/2019/11/item-{n}", "", synthetic_article(rng, 300))
        for n, pid in enumerate((first, second, "cd" * 32))
    ]
    labels = {case.group: case.story_label for case in generate(made, seed=0)}
    assert labels[first] == labels[second] == event == event_of(first)
    assert labels["cd" * 32] == "cd" * 32 and event_of("cd" * 32) == ""
