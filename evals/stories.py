"""Score story grouping (`story_id`) on ECB+: real reports of one event from different outlets (`make eval`).

The corpus (`../shared/corpora/ecbplus`, its README says how to score) holds 485 English articles in 21 topics,
each topic two look-alike events that must stay apart. `evaluate` ingests `articles.jsonl` as it is (file order)
into a scratch database with the real pipeline, gives each input line its article (landed, or the original of a
recorded duplicate; quarantined inputs are left out of every score and counted by reason), and scores:

- pairwise precision, recall and F1 of `story_id` against the labelled events, over the scored articles;
- hard negatives merged: same-topic, different-event pairs that share a story, out of all such pairs;
- in the same run, on the same articles and order, the README's baseline: TF-IDF cosine, each article joining
  the cluster whose first article is most similar at >= 0.3 (fixed before looking), and "same first line";
- what each signal contributes: the story stage again on the same articles with one signal taken out
  (`ABLATIONS`); and every system on the repo's seeds, in file order and in all 120 orders of the five files;
- all of it overall and on two halves of the topics (the parity of the SHA-256 of the topic number), to tune on
  one and report the other.

    python -m evals.stories --corpus ../shared/corpora/ecbplus [--json FILE]
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.errors import SetupError
from pipeline.stage import Ledger

BASELINE_THRESHOLD = 0.3  # the README's, fixed before looking
HALVES = ("tune", "report")
_TOKEN = re.compile(r"[^\W\d_][\w'’-]*")
_STOPWORDS = (
    "the a an and or but of to in on for with as at by from is are was were be been has have had this that these "
    "those it its into over after before about says said will would could should may can not no he she they his "
    "her their him them who which what when where than then there also more one two new being do does did up out "
    "so if we you i our your all any"
)
_STOP = frozenset(_STOPWORDS.split())


@dataclass(frozen=True)
class Label:
    topic: str
    event: str


def load(root: Path) -> tuple[Path, list[str], dict[int, Label]]:
    """The corpus's records file, each line's text, and line -> label; a SetupError naming what is missing."""
    records, labels = root / "articles.jsonl", root / "labels.jsonl"
    for path in (records, labels):
        if not path.is_file():
            raise SetupError(
                f"ECB+ corpus not found at {root} (no {path.name}); pass its folder, "
                "e.g. ECBPLUS=../shared/corpora/ecbplus"
            )
    texts = [json.loads(line).get("text", "") for line in records.read_text(encoding="utf-8").splitlines()]
    by_line = {}
    for line in labels.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_line[int(row["line"])] = Label(str(row["topic"]), str(row["event"]))
    if len(by_line) != len(texts):
        raise SetupError(f"the corpus at {root} has {len(texts)} articles but {len(by_line)} labels")
    return records, texts, by_line


def half_of(topic: str) -> str:
    return HALVES[hashlib.sha256(topic.encode("utf-8")).digest()[-1] % 2]


# --- the pipeline's stories ----------------------------------------------------------------------------------


def pipeline_stories(records: Path, workdir: Path) -> tuple[dict[int, str], Counter, dict]:
    """Ingest the records file into a scratch database; line -> story_id of its article, and the quarantine
    reasons of the lines left out. Raises if a line went nowhere (the README calls that an error). The third
    value's "articles" holds line -> (headline or None, body, language) of its article, for `regroup`."""
    import duckdb

    from pipeline.run.runner import run_ingest
    from pipeline.settings import Settings

    settings = Settings.from_env(db_path=workdir / "ecbplus.duckdb")
    run_ingest([str(records)], settings, trigger="eval")
    line_of = lambda uri: int(uri.rsplit("#", 1)[1])  # noqa: E731
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        rows = con.execute(
            "SELECT source_uri, article_id, story_id, title, title_source, body, language FROM articles"
        ).fetchall()
        copies = con.execute("SELECT source_uri, duplicate_of FROM article_duplicates").fetchall()
        held = con.execute("SELECT source_uri, reason FROM quarantine").fetchall()
    landed = [(uri, article_id, story_id) for uri, article_id, story_id, *_ in rows]
    texts = {row[1]: (row[3] if row[4] == "source" else None, row[5], row[6]) for row in rows}
    story_of = {article_id: story_id for _, article_id, story_id in landed}
    stories = {line_of(uri): story_id for uri, _, story_id in landed}
    stories.update((line_of(uri), story_of[original]) for uri, original in copies)
    article_of = {line_of(uri): article_id for uri, article_id, _ in landed}
    article_of.update((line_of(uri), original) for uri, original in copies)
    reasons = Counter(reason for uri, reason in held if line_of(uri) not in stories)
    quarantined = {line_of(uri) for uri, _ in held} - set(stories)
    total = sum(1 for _ in records.open(encoding="utf-8"))
    missing = sorted(set(range(1, total + 1)) - set(stories) - quarantined)
    if missing:
        raise RuntimeError(
            f"{len(missing)} inputs neither landed, duplicate nor quarantined: lines {missing[:10]}"
        )
    articles = {n: texts[article_id] for n, article_id in article_of.items()}
    return stories, reasons, {"landed": len(landed), "duplicates": len(copies), "articles": articles}


# --- baselines (the README's) --------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    out = []
    for token in _TOKEN.findall(text):
        word = token.lower().strip("'’-")
        if len(word) >= 3 and word not in _STOP:
            out.append(word)
    return out


def tfidf_clusters(texts: list[str], threshold: float = BASELINE_THRESHOLD) -> list[int]:
    """In order, each text joins the cluster whose first text is most similar (cosine >= threshold)."""
    counts = [Counter(tokens(t)) for t in texts]
    df = Counter(word for c in counts for word in c)
    n = len(texts)
    vectors = []
    for c in counts:
        v = {w: (1 + math.log(tf)) * math.log(n / df[w]) for w, tf in c.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        vectors.append({w: x / norm for w, x in v.items()})
    firsts: list[int] = []  # index of each cluster's first text
    out = []
    for i, v in enumerate(vectors):
        best, best_sim = None, threshold
        for cluster, first in enumerate(firsts):
            w = vectors[first]
            small, large = (v, w) if len(v) < len(w) else (w, v)
            sim = sum(x * large.get(k, 0.0) for k, x in small.items())
            if sim >= best_sim:
                best, best_sim = cluster, sim
        if best is None:
            firsts.append(i)
            best = len(firsts) - 1
        out.append(best)
    return out


def first_line_clusters(texts: list[str]) -> list[str]:
    return [re.sub(r"\W+", "", (t.strip().splitlines() or [""])[0].lower()) for t in texts]


# --- scoring -------------------------------------------------------------------------------------------------


@dataclass
class PairScore:
    articles: int
    precision: float
    recall: float
    f1: float
    hard_merged: int
    hard_pairs: int

    @property
    def hard_share(self) -> float:
        return self.hard_merged / self.hard_pairs if self.hard_pairs else 0.0


def pairwise(assigned: dict[int, object], labels: dict[int, Label]) -> PairScore:
    """Pairwise P/R/F1 of `assigned` (line -> cluster) against the events, and hard negatives merged: pairs of
    one topic's two events that share a cluster (`evals.dedupe.pair_scores` counts the pairs)."""
    from evals.dedupe import pair_scores, pairs_within

    events = {n: labels[n].event for n in assigned}
    pairs = pair_scores(events, assigned)
    p, r = pairs.precision or 0.0, pairs.recall or 0.0
    topics = {n: labels[n].topic for n in assigned}
    hard = pairs_within(topics) - pairs_within(events)  # an event lies in one topic
    hard_merged = pairs_within({n: (topics[n], c) for n, c in assigned.items()}) - pairs_within(
        {n: (events[n], c) for n, c in assigned.items()}
    )
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return PairScore(len(assigned), p, r, f1, hard_merged, hard)


# What each signal contributes: the pipeline's story stage run again on the same articles, in the same order,
# with one signal taken out (module constants of `pipeline.stories` set for the run, then restored).
ABLATIONS: dict[str, dict[str, object]] = {
    "without anchors (places, names repeated)": {
        "PLACE_REPEATS": 10**9,
        "NAME_REPEATS": 10**9,
        "FULL_NAME_REPEATS": 10**9,
    },
    "without full names as anchors": {"FULL_NAME_REPEATS": 10**9},
    "without the names check": {"NAME_THRESHOLD": -1.0},
    "headline and lead only (no body)": {"_BODY_OFF": True},
    "first article, not the centroid": {"_NO_CENTROID": True},
}


def regroup(articles: list[tuple[str | None, str, str | None]], **overrides) -> list[str]:
    """The story stage alone over (headline or None, body, language) in order, with `overrides` of
    `pipeline.stories`'s constants (and two switches: `_BODY_OFF` compares headline and lead only,
    `_NO_CENTROID` keeps each story its first article's terms); each article's story."""
    from pipeline import stories

    body_off, no_centroid = overrides.pop("_BODY_OFF", False), overrides.pop("_NO_CENTROID", False)
    saved = {name: getattr(stories, name) for name in overrides}
    merged = stories.merged
    try:
        for name, value in overrides.items():
            setattr(stories, name, value)
        if no_centroid:
            stories.merged = lambda story, article: story
        stage = stories.StoryStage(Ledger(), None, datetime(2026, 1, 1))
        inputs = []
        for n, (title, body, language) in enumerate(articles):
            if body_off:
                body = "\n".join([p for p in body.split("\n") if p.strip()][: stories.LEAD_PARAGRAPHS])
            inputs.append(_article(n, title, body, language))
        got = [a.story_id for a in stage.run(inputs)]  # in batches, as a run
        return [stage.merges.get(s, s) for s in got]  # what the load moves
    finally:
        for name, value in saved.items():
            setattr(stories, name, value)
        stories.merged = merged


def _article(n: int, title: str | None, body: str, language: str | None):
    from pipeline.models import Article

    article = Article(
        source_uri=f"/eval/{n}",
        title=title,
        body=body,
        language=language,
        title_source="source" if title else "derived",
    )
    article.article_id = f"{n:016x}"
    return article


def regroup_in_two_runs(articles: list[tuple[str | None, str, str | None]], workdir: Path) -> list[str]:
    """The story stage over the articles in two runs: the even positions first, their stories loaded into a
    database (the real load), then the odd ones in a later run that finds stored stories through it, in
    batches as a run does; each article's story."""
    from pipeline.store import Store
    from pipeline.store.load import Loader
    from pipeline.stories import StoryStage

    now = datetime(2026, 1, 1)
    first = StoryStage(Ledger(), None, now)
    even = [_article(n, *articles[n]) for n in range(0, len(articles), 2)]
    out = {int(a.article_id, 16): a.story_id for a in first.run(even)}
    staged = workdir / "two-runs-stories.jsonl"
    staged.write_text("".join(json.dumps(row) + "\n" for row in first.rows()), encoding="utf-8")
    db = workdir / "two-runs.duckdb"
    with Store(db) as store:
        Loader(store.con)._save_stories(staged, "eval")
    with Store.for_reading(db) as store:
        later = StoryStage(Ledger(), store.history, now)
        odd = [_article(n, *articles[n]) for n in range(1, len(articles), 2)]
        out.update((int(a.article_id, 16), a.story_id) for a in later.run(odd))
    return [later.merges.get(out[n], out[n]) for n in range(len(articles))]  # the load moves merged stories


def seeds_rows(workdir: Path) -> list[tuple[str, tuple[str | None, str, str | None]]]:
    """The repo's seeds through the pipeline: (file number, (headline or None, body, language)) each."""
    import duckdb

    from pipeline.run.runner import run_ingest
    from pipeline.settings import Settings

    folder = Path(__file__).resolve().parents[1] / "seeds"
    settings = Settings.from_env(db_path=workdir / "seeds.duckdb")
    run_ingest([str(folder)], settings, trigger="eval")
    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        rows = con.execute(
            "SELECT source_uri, title, title_source, body, language FROM articles ORDER BY source_uri"
        ).fetchall()
    return [(Path(uri).name[:3], (t if ts == "source" else None, b, lang)) for uri, t, ts, b, lang in rows]


def seeds_as_expected(story: dict[str, object]) -> bool:
    """seeds/EXPECTED.md: {000, 001, 002} one story, 003 and 004 two others."""
    return (
        story["000"] == story["001"] == story["002"] and len({story[n] for n in ("000", "003", "004")}) == 3
    )


def seeds_check(workdir: Path) -> dict:
    """Each system on the seeds: in file order, and in how many of the 120 orders of the five files the stories
    come out as EXPECTED.md says."""
    from itertools import permutations

    rows = seeds_rows(workdir)
    out = {}
    for name, overrides in {"pipeline": {}, **ABLATIONS}.items():
        first = dict(zip([n for n, _ in rows], regroup([a for _, a in rows], **overrides), strict=True))
        orders = 0
        for order in permutations(range(len(rows))):
            got = regroup([rows[i][1] for i in order], **overrides)
            orders += seeds_as_expected({rows[i][0]: s for i, s in zip(order, got, strict=True)})
        out[name] = {"as_expected": seeds_as_expected(first), "orders_as_expected": orders}
    return out


def evaluate(root: Path, workdir: Path) -> dict:
    records, texts, labels = load(root)
    stories, reasons, counts = pipeline_stories(records, workdir)
    articles = counts.pop("articles")
    scored = sorted(stories)  # the baselines see the same articles, in the same order
    tfidf = tfidf_clusters([texts[n - 1] for n in scored])
    first = first_line_clusters([texts[n - 1] for n in scored])
    systems = {
        "pipeline story_id": stories,
        f"TF-IDF first-article baseline (cosine >= {BASELINE_THRESHOLD})": dict(
            zip(scored, tfidf, strict=True)
        ),
        "same first line": dict(zip(scored, first, strict=True)),
    }
    for name, overrides in ABLATIONS.items():
        systems[f"pipeline {name}"] = dict(
            zip(scored, regroup([articles[n] for n in scored], **overrides), strict=True)
        )
    # Across runs: the same stage with half the articles' stories in the database, against one run that sees
    # the articles in the same order (evens, then odds), so that only the lookup differs.
    evens_first = scored[0::2] + scored[1::2]
    systems["pipeline in one run, even lines first"] = dict(
        zip(evens_first, regroup([articles[n] for n in evens_first]), strict=True)
    )
    systems["pipeline in two runs (odd lines join through the DB)"] = dict(
        zip(scored, regroup_in_two_runs([articles[n] for n in scored], workdir), strict=True)
    )
    report: dict = {"quarantined": dict(reasons), **counts, "seeds": seeds_check(workdir)}
    report["shuffled"] = shuffled_spread(scored, articles, texts, labels)
    for subset in ("all", *HALVES):
        lines = [n for n in scored if subset == "all" or half_of(labels[n].topic) == subset]
        topics = sorted({labels[n].topic for n in lines}, key=int)
        report[subset] = {
            "topics": topics,
            "scores": {
                name: vars(pairwise({n: assign[n] for n in lines}, labels))
                for name, assign in systems.items()
            },
        }
    return report


SHUFFLES = 24  # seeded orders of the scored articles beside the file's (the corpus README: "see the spread")
SPREAD_KEYS = ("precision", "recall", "f1", "hard_share")


def shuffled_spread(scored: list[int], articles: dict, texts: list[str], labels: dict[int, Label]) -> dict:
    """The pipeline's story stage, the baseline and the stage without full names as anchors over `SHUFFLES`
    seeded orders of the scored articles: for all topics and each half, the mean, least and most of P, R, F1 and
    the share of hard negatives merged."""
    import random

    runs: dict[str, dict[str, list[dict]]] = {}
    for seed in range(1, SHUFFLES + 1):
        order = scored[:]
        random.Random(seed).shuffle(order)
        systems = {
            "pipeline story_id": dict(zip(order, regroup([articles[n] for n in order]), strict=True)),
            "TF-IDF first-article baseline": dict(
                zip(order, tfidf_clusters([texts[n - 1] for n in order]), strict=True)
            ),
            # The signal the shuffles chose (on the tune half): what it buys over the orders, not in one.
            "pipeline without full names": dict(
                zip(order, regroup([articles[n] for n in order], FULL_NAME_REPEATS=10**9), strict=True)
            ),
        }
        for subset in ("all", *HALVES):
            lines = [n for n in scored if subset == "all" or half_of(labels[n].topic) == subset]
            for name, assign in systems.items():
                score = vars(pairwise({n: assign[n] for n in lines}, labels))
                score["hard_share"] = (
                    score["hard_merged"] / score["hard_pairs"] if score["hard_pairs"] else 0.0
                )
                runs.setdefault(subset, {}).setdefault(name, []).append(score)
    return {
        subset: {
            name: {
                key: {
                    "mean": sum(r[key] for r in scores) / len(scores),
                    "min": min(r[key] for r in scores),
                    "max": max(r[key] for r in scores),
                }
                for key in SPREAD_KEYS
            }
            for name, scores in by_system.items()
        }
        for subset, by_system in runs.items()
    }


def format_report(report: dict) -> str:
    out = []
    for subset in ("all", *HALVES):
        part = report[subset]
        name = "all topics" if subset == "all" else f"{subset} half (topics {' '.join(part['topics'])})"
        out.append(f"\nECB+ stories, {name}")
        out.append(f"  {'system':58s} {'articles':>8s} {'P':>6s} {'R':>6s} {'F1':>6s}  hard negatives merged")
        for system, s in part["scores"].items():
            share = s["hard_merged"] / s["hard_pairs"] if s["hard_pairs"] else 0.0
            out.append(
                f"  {system:58s} {s['articles']:8d} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f}"
                f"  {s['hard_merged']}/{s['hard_pairs']} ({share:.1%})"
            )
    if "shuffled" in report:
        out.append(f"\nECB+ stories over {SHUFFLES} shuffled orders: mean [least - most]")
        out.append(
            f"  {'part':7s} {'system':32s} {'P':>19s} {'R':>19s} {'F1':>19s} {'hard negatives merged':>23s}"
        )
        for subset, by_system in report["shuffled"].items():
            for system, spread in by_system.items():
                cells = [
                    f"{spread[k]['mean']:.3f} [{spread[k]['min']:.3f}-{spread[k]['max']:.3f}]"
                    for k in ("precision", "recall", "f1")
                ]
                h = spread["hard_share"]
                hard = f"{h['mean']:.1%} [{h['min']:.1%}-{h['max']:.1%}]"
                out.append(
                    f"  {subset:7s} {system:32s} {cells[0]:>19s} {cells[1]:>19s} {cells[2]:>19s} {hard:>23s}"
                )
    if "seeds" in report:
        out.append("\n  the seeds (seeds/EXPECTED.md: {000, 001, 002} one story, 003 and 004 two others):")
        for system, seeds in report["seeds"].items():
            verdict = "as expected" if seeds["as_expected"] else "NOT as expected"
            out.append(
                f"    {system:56s} file order {verdict}; {seeds['orders_as_expected']}/120 orders as expected"
            )
    quarantined = ", ".join(f"{k} {v}" for k, v in sorted(report["quarantined"].items())) or "none"
    out.append(
        f"\n  {report['landed']} landed, {report['duplicates']} recorded as duplicates, quarantined (left out): "
        f"{quarantined}"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import logging

    parser = argparse.ArgumentParser(
        prog="python -m evals.stories",
        description="Score story grouping on ECB+ (real reports of 42 events in 21 topics, two look-alike events "
        "per topic): pairwise P/R/F1 and hard negatives merged, with the TF-IDF baseline in the same run, overall "
        "and on two halves of the topics.",
    )
    parser.add_argument(
        "--corpus", type=Path, required=True, help="the ecbplus folder (articles.jsonl, labels)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        load(args.corpus)
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(f"ECB+: {args.corpus}; running the pipeline (read -> ... -> stories -> load) ...", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="ecbplus-eval-") as tmp:
        report = evaluate(args.corpus, Path(tmp))
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
