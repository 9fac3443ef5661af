"""Story assignment benchmark: time and peak memory of `StoryStage` over 10k and 100k generated articles, against
an empty database and one holding `--history` stories.

    python -m bench.stories [--sizes 10000,100000] [--history 100000] [--workdir data/bench] [--json OUT]

Every scenario runs in a fresh subprocess (its peak RSS is its own). The articles are `bench.dedupe`'s generator
(prose-like text with Zipf word frequencies, near copies among them); the time is `StoryStage.run` over the whole
stream in its batches, generation left out. Against a history, each batch asks the database for its articles'
candidate stories (one query), and the run's dates fall in the stored stories' window, so the lookups return
stories to compare: the worst case, every stored story open.

The history database is built once and cached under the workdir, keyed by its size and by the stage's source: its
stories come from generated articles (another seed) through `StoryStage` and the real load (`Loader`).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

HISTORY_SEED, RUN_SEED = 11, 12
START = datetime(2026, 3, 2, 8)  # the history's stories; the run's articles come a day later
RATIO_TARGET = 12  # issue 19: time(100k) / time(10k) at most 12


def _articles(seed: int, n: int, when: datetime):
    from bench.dedupe import ArticleGenerator

    for g in ArticleGenerator(seed).stream(n):
        a = g.article
        a.language, a.title_source, a.published_at = a.language or "en", "source", when
        yield a


def history_path(workdir: Path, size: int) -> Path:
    import pipeline.store.load
    import pipeline.store.schema
    import pipeline.stories

    digest = hashlib.sha256()
    for module in (pipeline.stories, pipeline.store.load, pipeline.store.schema):
        digest.update(Path(module.__file__).read_bytes())
    digest = digest.hexdigest()[:12]
    return workdir / f"stories-history-{size}-{digest}.duckdb"


def ensure_history(workdir: Path, size: int) -> Path:
    """The cached database of `size` generated articles' stories (built when missing)."""
    from pipeline.stage import Ledger
    from pipeline.store import Store
    from pipeline.store.load import Loader
    from pipeline.stories import StoryStage

    path = history_path(workdir, size)
    if path.exists():
        return path
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"[bench] building a history of {size:,} articles' stories at {path}", file=sys.stderr)
    stage = StoryStage(Ledger(), None, START)
    for article in _articles(HISTORY_SEED, size, START):
        stage.apply(article)
    staged = path.with_suffix(".jsonl")
    staged.write_text("".join(json.dumps(row) + "\n" for row in stage.rows()))
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with Store(partial) as store:
        Loader(store.con)._save_stories(staged, "bench")
    staged.unlink()
    partial.rename(path)
    return path


def scenario(size: int, history: str | None, budget_s: float) -> dict:
    """One scenario in this process: `size` articles through `StoryStage`, with the history database if any;
    stopped once it has spent `budget_s` (then `done` says how many articles it assigned, and `seconds` is the
    time the whole stream would take at that rate)."""
    from bench.run import vm_hwm_mb
    from pipeline.stage import Ledger
    from pipeline.store import Store
    from pipeline.stories import StoryStage

    when = START + timedelta(days=1)
    store = Store.for_reading(Path(history)) if history else None
    stage = StoryStage(Ledger(), store.history if store else None, when)
    busy, done = 0.0, 0
    articles = _articles(RUN_SEED, size, when)
    while done < size and busy <= budget_s:
        chunk = list(itertools.islice(articles, stage.batch_size))  # generated outside the clock
        started = time.perf_counter()
        for _ in stage.run(chunk):  # as a run feeds it: a batch at a time, one history query a batch
            pass
        busy += time.perf_counter() - started
        done += len(chunk)
    if done < size:
        busy = busy * size / done
    counts = stage.ledger.by_stage()["stories"]
    return {
        "articles": size,
        "done": done,
        "db": "history" if history else "empty",
        "seconds": busy,
        "per_s": size / busy if busy else None,
        "joined": counts.get("joined", 0),
        "started": counts.get("started", 0),
        "peak_rss_mb": vm_hwm_mb(),  # not ru_maxrss: that keeps the forking parent's peak across exec
    }


def run(sizes: list[int], history_size: int, workdir: Path, budget_s: float) -> dict:
    history = str(ensure_history(workdir, history_size)) if history_size else None
    results = []
    for db in [None, history] if history else [None]:
        for size in sizes:
            args = [sys.executable, "-m", "bench.stories", "--scenario", json.dumps([size, db, budget_s])]
            out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            r = results[-1]
            partial = "" if r["done"] == size else f" (extrapolated from the first {r['done']:,})"
            print(
                f"[bench] stories: {size:,} articles, {r['db']} DB: {r['seconds']:.1f} s{partial}, peak RSS "
                f"{r['peak_rss_mb']:.0f} MB",
                file=sys.stderr,
            )
    ratios = {}
    for db in ("empty", "history"):
        by_size = {r["articles"]: r["seconds"] for r in results if r["db"] == db}
        if len(by_size) >= 2:
            small, large = min(by_size), max(by_size)
            ratios[db] = by_size[large] / by_size[small]
    return {"history_stories": history_size, "results": results, "ratios": ratios, "target": RATIO_TARGET}


def render(report: dict) -> str:
    lines = [
        "| articles | database | seconds | articles/s | joined / started | peak RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        where = "empty" if r["db"] == "empty" else f"{report['history_stories']:,}-article history"
        seconds = f"{r['seconds']:.1f}" + ("" if r["done"] == r["articles"] else f" (from {r['done']:,})")
        lines.append(
            f"| {r['articles']:,} | {where} | {seconds} | {r['per_s']:.0f} | {r['joined']:,} / "
            f"{r['started']:,} | {r['peak_rss_mb']:.0f} |"
        )
    for db, ratio in report["ratios"].items():
        verdict = "met" if ratio <= report["target"] else "missed"
        lines.append(
            f"\ntime(largest)/time(smallest), {db} DB: {ratio:.2f} (target <= {report['target']}: {verdict})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stories",
        description="Time story assignment (StoryStage) over generated articles, against an empty database and "
        "one holding a history of stories; each scenario in a fresh process.",
    )
    parser.add_argument("--sizes", default="10000,100000", help="articles per scenario, comma-separated")
    parser.add_argument(
        "--history", type=int, default=100_000, help="articles whose stories the history holds"
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path("data/bench"), help="the cached history lives here"
    )
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument(
        "--budget-s",
        type=float,
        default=300.0,
        help="stop a scenario after this long and extrapolate its time from the articles done (default 300)",
    )
    parser.add_argument("--scenario", help=argparse.SUPPRESS)  # internal: run one scenario, print JSON
    args = parser.parse_args(argv)
    if args.scenario:
        size, db, budget_s = json.loads(args.scenario)
        print(json.dumps(scenario(size, db, budget_s)))
        return 0
    report = run([int(s) for s in args.sizes.split(",")], args.history, args.workdir, args.budget_s)
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
