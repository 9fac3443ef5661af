"""Score article bodies against the Article Extraction Benchmark (AEB) ground truth.

The metric is the benchmark's (written here from its description, not its code): each text becomes a sequence
of word tokens (maximal runs of Unicode word characters), compared as multisets of 4-token shingles. Per page,
true/false positives and false negatives are normalised to sum to 1, so every page weighs the same. Precision
is averaged over pages with a non-empty prediction, recall over pages with non-empty truth, and F1 is the
harmonic mean of those two averages. Accuracy is the share of pages whose token sequence equals the truth's.

`main` (`make eval`) scores AEB here and the fundus corpus (`evals.fundus`: body, title, authors, date, per
language and per half) in the same run; a corpus that is absent is reported in one line and skipped.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import SetupError

SHINGLE = 4
_TOKEN = re.compile(r"\w+")


def tokens(text: str | None) -> list[str]:
    return _TOKEN.findall(text or "")


def shingles(text: str | None, n: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """Overlapping n-token runs; a text shorter than n gives one shorter shingle, an empty text none."""
    toks = tokens(text)
    if len(toks) < n:
        return Counter([tuple(toks)] if toks else [])
    return Counter(tuple(toks[i : i + n]) for i in range(len(toks) - n + 1))


@dataclass(frozen=True)
class PageScore:
    tp: float
    fp: float
    fn: float
    exact: bool

    @property
    def precision(self) -> float | None:
        """None when the prediction was empty: such pages do not count towards precision (nor, for recall, pages
        with empty truth)."""
        if self.tp + self.fp == 0:
            return None
        return 1.0 if self.fp == self.fn == 0 else self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        if self.tp + self.fn == 0:
            return None
        return 1.0 if self.fp == self.fn == 0 else self.tp / (self.tp + self.fn)


def score_page(truth: str, prediction: str | None) -> PageScore:
    true_sh, pred_sh = shingles(truth), shingles(prediction)
    tp = sum((true_sh & pred_sh).values())
    fp = sum((pred_sh - true_sh).values())
    fn = sum((true_sh - pred_sh).values())
    total = tp + fp + fn
    if total:
        tp, fp, fn = tp / total, fp / total, fn / total
    return PageScore(tp, fp, fn, tokens(truth) == tokens(prediction))


@dataclass(frozen=True)
class Scores:
    f1: float
    precision: float
    recall: float
    accuracy: float
    f1_std: float = 0.0
    pages: int = 0
    empty: int = 0  # pages with no prediction at all


def aggregate(pages: list[PageScore]) -> tuple[float, float, float, float]:
    precisions = [p.precision for p in pages if p.precision is not None]
    recalls = [p.recall for p in pages if p.recall is not None]
    precision = statistics.fmean(precisions) if precisions else 0.0
    recall = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return f1, precision, recall, statistics.fmean(p.exact for p in pages)


def score(
    truth: Mapping[str, str], predictions: Mapping[str, str | None], bootstrap: int = 1000, seed: int = 0
) -> Scores:
    """Corpus scores of `predictions` (page id -> body; a missing id counts as empty) against `truth`."""
    pages = [score_page(truth[key], predictions.get(key)) for key in truth]
    f1, precision, recall, accuracy = aggregate(pages)
    rng = random.Random(seed)  # seeded: the same input gives the same "±" every run
    resampled = [aggregate(rng.choices(pages, k=len(pages)))[0] for _ in range(bootstrap)]
    return Scores(
        f1=f1,
        precision=precision,
        recall=recall,
        accuracy=accuracy,
        f1_std=statistics.stdev(resampled) if bootstrap > 1 else 0.0,
        pages=len(pages),
        empty=sum(1 for key in truth if not tokens(predictions.get(key))),
    )


@dataclass(frozen=True)
class Page:
    id: str
    url: str
    html: str
    truth: str


def load_corpus(root: Path) -> Iterator[Page]:
    """The benchmark's pages in id order: `ground-truth.json` and `html/<id>.html.gz` under `root`."""
    truth_file = root / "ground-truth.json"
    if not truth_file.is_file():
        raise SetupError(
            f"AEB corpus not found at {root} (no ground-truth.json); pass its folder, e.g. AEB=../shared/corpora/aeb"
        )
    truth = json.loads(truth_file.read_text(encoding="utf-8"))
    if not isinstance(truth, dict) or not all(
        isinstance(v, dict) and "articleBody" in v for v in truth.values()
    ):
        raise SetupError(
            f"the corpus at {root} is not AEB: its ground-truth.json entries have no articleBody"
        )
    for key in sorted(truth):
        yield Page(
            key, truth[key].get("url", ""), page_html(root, key, "AEB"), truth[key].get("articleBody", "")
        )


def page_html(root: Path, key: str, corpus: str) -> str:
    """A corpus page's HTML (`html/<key>.html.gz`, UTF-8), or a SetupError naming the missing file."""
    html_file = root / "html" / f"{key}.html.gz"
    if not html_file.is_file():
        raise SetupError(f"{corpus} corpus at {root} is incomplete: {html_file.name} is missing")
    with gzip.open(html_file, "rt", encoding="utf-8") as f:
        return f.read()


# --- `make eval`: the pipeline against plain trafilatura, on the same pages, in one run ----------------------

BASELINES = {  # name -> trafilatura.extract() keyword arguments
    "trafilatura (defaults)": {},
    "trafilatura (include_comments=False, favor_precision=True)": {
        "include_comments": False,
        "favor_precision": True,
    },
}
GOAL_F1 = 0.975


def ingest_records(
    records: Iterable[dict], workdir: Path, name: str, settings_overrides: dict | None = None
) -> tuple[Path, object]:
    """Run the real pipeline on records written as one JSONL file `workdir/name`, into a scratch database.

    The pages go in as a records file, the way a crawler's dump would arrive; a record's `source_uri` in the
    database is `<file>#<line>`. Returns the database's path and the run summary.
    """
    from pipeline.run.runner import run_ingest
    from pipeline.settings import Settings

    path = workdir / name
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    settings = Settings.from_env(db_path=workdir / f"{path.stem}.duckdb", **(settings_overrides or {}))
    return settings.db_path, run_ingest([str(path)], settings, trigger="eval")


def pipeline_bodies(pages: list[Page], workdir: Path, settings_overrides: dict) -> tuple[dict, object]:
    """Run the real pipeline on the pages (one JSONL record each: url + html) into a scratch database.

    Returns the landed body per page id (pages quarantined or dropped as duplicates have none) and the run
    summary.
    """
    import duckdb

    records = ({"url": page.url, "html": page.html} for page in pages)
    db_path, summary = ingest_records(records, workdir, "aeb.jsonl", settings_overrides)
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute("SELECT source_uri, body FROM articles").fetchall()
    by_line = {int(uri.rsplit("#", 1)[1]): body for uri, body in rows}
    return {page.id: by_line.get(n) for n, page in enumerate(pages, start=1)}, summary


def baseline_bodies(pages: list[Page], options: dict) -> dict[str, str | None]:
    import trafilatura

    return {page.id: trafilatura.extract(page.html, **options) for page in pages}


def format_table(results: dict[str, Scores]) -> str:
    width = max(len(name) for name in results)
    lines = [
        f"{'system':<{width}}  {'F1':>13}  {'precision':>9}  {'recall':>6}  {'accuracy':>8}  {'empty':>5}"
    ]
    for name, s in results.items():
        lines.append(
            f"{name:<{width}}  {s.f1:.3f} ± {s.f1_std:.3f}  {s.precision:>9.3f}  {s.recall:>6.3f}"
            f"  {s.accuracy:>8.3f}  {s.empty:>5}"
        )
    return "\n".join(lines)


def evaluate_aeb(pages: list[Page], bootstrap: int = 1000) -> dict:
    """The pipeline against plain trafilatura on the AEB pages: print the table and rule counts, return them."""
    import sys
    import tempfile

    from pipeline.document.rules import RULE_REASONS

    truth = {page.id: page.truth for page in pages}
    results: dict[str, Scores] = {}
    with tempfile.TemporaryDirectory(prefix="aeb-eval-") as tmp:
        print("running the pipeline (read -> extract -> clean -> ... -> load) ...", file=sys.stderr)
        bodies, summary = pipeline_bodies(pages, Path(tmp), {})
    results["pipeline (trafilatura + our rules)"] = score(truth, bodies, bootstrap)
    for name, options in BASELINES.items():
        print(f"running {name} ...", file=sys.stderr)
        results[name] = score(truth, baseline_bodies(pages, options), bootstrap)

    print(format_table(results))
    ours = results["pipeline (trafilatura + our rules)"]
    best = max((s for name, s in results.items() if name.startswith("trafilatura")), key=lambda s: s.f1)
    print(
        f"\ngoal F1 {GOAL_F1:.3f}: pipeline {ours.f1:.4f} ({ours.f1 - GOAL_F1:+.4f}); "
        f"best plain trafilatura {best.f1:.3f} ({ours.f1 - best.f1:+.3f} for the pipeline)"
    )
    print(
        f"pipeline run: {summary.landed} landed, {summary.duplicates} duplicates, {summary.quarantined} "
        f"quarantined {summary.quarantine_reasons or ''} (pages without a landed body score as empty)"
    )
    fired = summary.removed_by_rule()
    print("\nboilerplate rules fired on these pages (lines removed):")
    for rule, n in sorted(fired.items(), key=lambda kv: -kv[1]):
        print(f"  {rule:<20} {n:>5}  {RULE_REASONS.get(rule, '')}")
    signals = signals_fired(summary)
    print(format_signals(signals))
    return {
        "pages": len(pages),
        "scores": {k: vars(v) for k, v in results.items()},
        "rules": fired,
        "signals": signals,
    }


# What the extract stage counts (`pipeline.document.extract.parse_html`'s signals): structure-led repairs that need
# no language.
SIGNAL_REASONS = {
    "restored_lead": "pages: the summary, shown above the text or set as a heading in the article, kept as the lead",
    "restored_chunks": "chunks: of a body the page set in several containers of one template, put back",
    "embedded_body": "pages: a client-rendered page's body read from the data its script carries",
    "labelled_byline": "pages: the author from the page's labelled byline, when the metadata named no person",
}


def signals_fired(summary) -> dict[str, int]:
    """The extract stage's signals in a run's summary, by name."""
    extract = summary.stages.get("extract", {})
    return {k: n for k, n in extract.items() if k in SIGNAL_REASONS}


def format_signals(fired: Mapping[str, int]) -> str:
    lines = ["\nsignals fired on these pages (structure-led repairs, no language):"]
    lines += [f"  {name:<20} {fired.get(name, 0):>5}  {reason}" for name, reason in SIGNAL_REASONS.items()]
    return "\n".join(lines)


CORPORA = ("aeb", "fundus")


def _to_stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr)


def corpus_arg(value: str) -> tuple[str | None, Path]:
    """`aeb=PATH`, `fundus=PATH`, or a bare PATH whose kind is read from its ground truth."""
    kind, sep, path = value.partition("=")
    if sep and kind.lower() in CORPORA:
        return kind.lower(), Path(path)
    return None, Path(value)


def corpus_kind(root: Path) -> str:
    """fundus when the ground truth's entries name a publisher; AEB otherwise (and when there is none)."""
    try:
        truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
        first = next(iter(truth.values())) if isinstance(truth, dict) and truth else {}
    except (OSError, ValueError):
        return "aeb"
    return "fundus" if isinstance(first, dict) and "publisher" in first else "aeb"


def main(argv: list[str] | None = None) -> int:
    import argparse
    import logging
    import sys
    import tempfile

    from evals import fundus

    parser = argparse.ArgumentParser(
        prog="python -m evals.extraction",
        description=(
            "Score the pipeline's landed articles against plain trafilatura on the same pages. AEB: the article "
            "body, 4-token-shingle precision, recall and F1 (macro over pages) and exact-match accuracy, with a "
            "bootstrap ± on F1. fundus: the same body figures and title, author and date accuracy, overall and "
            "per language, on all pages and on each half of a publisher split. The corpora are not part of "
            "this repo; a missing one is reported in one line and skipped."
        ),
    )
    parser.add_argument(
        "--corpus",
        type=corpus_arg,
        action="append",
        required=True,
        metavar="[aeb=|fundus=]PATH",
        help="a corpus folder (ground-truth.json and html/); repeat for both. A bare PATH is fundus when its "
        "ground truth names publishers, else AEB",
    )
    parser.add_argument("--limit", type=int, default=None, help="score only the first N pages (quick checks)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the F1 ±")
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write every figure here: AEB's as before (pages, scores, rules), fundus's under 'fundus'",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    loaded, problems = [], []
    for kind, root in args.corpus:
        kind = kind or corpus_kind(root)
        try:
            pages = list(load_corpus(root)) if kind == "aeb" else fundus.load_fundus(root)
        except SetupError as exc:
            problems.append(str(exc))
            continue
        loaded.append((kind, root, pages[: args.limit]))
    for problem in problems:  # one line each; the other corpus is still scored
        print(f"error: {problem}" if not loaded else f"skipped: {problem}", file=sys.stderr)
    if not loaded:
        return 3

    report: dict = {"absent": problems}
    for n, (kind, root, pages) in enumerate(loaded):
        print(f"{'AEB' if kind == 'aeb' else kind}: {len(pages)} pages from {root}", file=sys.stderr)
        if n:
            print()
        if kind == "aeb":
            report.update(evaluate_aeb(pages, args.bootstrap))
        else:
            with tempfile.TemporaryDirectory(prefix="fundus-eval-") as tmp:
                report["fundus"] = fundus.evaluate(pages, Path(tmp), args.bootstrap, log=_to_stderr)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
