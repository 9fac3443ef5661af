"""Dedupe benchmark: time and peak memory of `DedupeStage` over 10k and 100k generated articles.

    python -m bench.dedupe [--sizes 10000,100000] [--history 100000] [--workdir data/bench] [--json OUT]

Four scenarios by default: each size against an empty database and against one holding `--history` landed
rows. Every scenario runs in a fresh subprocess, so its peak RSS is its own. The table says how long
`DedupeStage.run` took over the whole stream (article generation is timed separately and left out), the
rate, peak RSS, and where the time went (signatures, each history lookup, the in-run comparison); then the
ratios time(largest)/time(smallest) per database, which are about size ratio when dedupe is linear.

Articles are generated, deterministically from a seed: a few thousand words with Zipf-like frequencies,
300-600 words an article, in sentences and paragraphs, so shingles behave like prose; about 10% near copies
(a few words edited, a paragraph added or cut) and 5% exact copies (same text, cosmetic case and spacing
changes) of earlier articles, published under other URLs. Against a history, half of the copies copy a
history article, so the cross-run paths are exercised too.

The history database is built once and cached under the workdir, keyed by its size and seed: generated
articles go through `DedupeStage`, the real `StagingWriter` and `Store.load`, until the target number landed.

Dedupe answers its history questions in bulk, a chunk of articles at a time (`HistoryCache` in
pipeline/dedupe.py), so each scenario also reports how many queries it made.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import itertools
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.document.enrich import content_hash, count_words, stable_id
from pipeline.models import Article

GENERATOR_VERSION = 1  # bump when the generated articles change: cached history databases are keyed by it
HISTORY_SEED = 1  # the history database's articles
NEW_SEED = 2  # the articles a timed scenario dedupes
NEAR_SHARE = 0.10
EXACT_SHARE = 0.05
RATIO_TARGET = 11.0  # dedupe time(100k) / time(10k), at most (issue 21)
RUN_ID = "bench"
INGESTED_AT = datetime(2026, 1, 1)
PROGRESS_EVERY_S = 10.0

# The commonest English words first, then made-up words: a Zipf-like vocabulary whose shingles repeat like
# prose does (function words everywhere, most content words rare).
_COMMON = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "that",
    "for",
    "it",
    "on",
    "was",
    "with",
    "as",
    "he",
    "said",
    "by",
    "at",
    "from",
    "his",
    "be",
    "have",
    "are",
    "has",
    "an",
    "this",
    "but",
    "not",
    "were",
    "they",
    "which",
    "or",
    "been",
    "its",
    "their",
    "who",
    "had",
    "after",
    "also",
    "will",
    "would",
    "more",
    "new",
    "one",
    "two",
    "about",
    "over",
    "year",
    "people",
    "than",
    "when",
    "up",
    "first",
    "out",
    "there",
    "into",
    "government",
    "last",
    "could",
    "she",
    "we",
    "all",
    "other",
    "time",
    "up",
    "police",
    "three",
    "told",
    "week",
    "some",
    "officials",
    "what",
    "years",
    "under",
    "while",
    "can",
    "may",
    "state",
    "before",
    "since",
    "most",
    "city",
    "during",
    "against",
    "no",
    "him",
    "her",
    "them",
    "president",
    "minister",
    "country",
    "percent",
    "her",
    "made",
    "between",
    "only",
    "because",
    "where",
    "how",
]
_ONSETS = ("b", "br", "c", "ch", "cl", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pl",
           "pr", "r", "s", "sh", "st", "t", "th", "tr", "v", "w", "")  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io", "ou")
_CODAS = ("", "", "n", "r", "s", "t", "l", "nd", "st", "m", "ck", "ng")
_SITES = ("dailyherald.example", "morningpost.example", "wire.example", "citytimes.example",
          "coastnews.example", "valleygazette.example", "thenational.example", "metro.example")  # fmt: skip


@functools.cache
def vocabulary(size: int = 5000, seed: int = 0) -> tuple[str, ...]:
    """`size` distinct lower-case words, commonest first: real function words, then made-up ones."""
    rng = random.Random(seed)
    words = list(dict.fromkeys(_COMMON))
    seen = set(words)
    while len(words) < size:
        syllables = 1 + min(2, int(rng.expovariate(1.5)) + (len(words) > 1500))  # rarer words run longer
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )
        if len(word) > 1 and word not in seen:
            seen.add(word)
            words.append(word)
    return tuple(words)


@dataclass(frozen=True)
class Generated:
    """One generated article and what it is meant to be: an original, or a copy of an earlier one."""

    index: int
    kind: str  # original | near | exact
    copy_of: str | None  # the article_id of the original it copies
    article: Article


class ArticleGenerator:
    """Deterministic stream of articles as they leave the enrich stage, ready for `DedupeStage.run`.

    Article `i` of a seed depends only on (seed, i), so any original can be re-made to copy it. `prior` is
    another generator (the history's): then half of this stream's copies copy one of its originals.
    """

    def __init__(
        self,
        seed: int,
        prior: ArticleGenerator | None = None,
        prior_size: int = 0,
        words: tuple[int, int] = (300, 600),
    ):
        self.seed = seed
        self.prior, self.prior_size = prior, prior_size
        self.length = words  # an original's words, at least and at most
        self.words = vocabulary()
        weights = [1.0 / (rank + 2.7) ** 1.07 for rank in range(len(self.words))]  # Zipf-Mandelbrot
        self.cum = list(itertools.accumulate(weights))

    def _rng(self, index: int, salt: str = "") -> random.Random:
        return random.Random(f"{GENERATOR_VERSION}:{self.seed}:{index}:{salt}")

    def kind(self, index: int) -> str:
        if index < 20:  # the first few are originals, so copies have something to copy
            return "original"
        roll = self._rng(index, "kind").random()
        return "near" if roll < NEAR_SHARE else "exact" if roll < NEAR_SHARE + EXACT_SHARE else "original"

    def _sentence(self, rng: random.Random, n: int) -> str:
        words = rng.choices(self.words, cum_weights=self.cum, k=n)
        if rng.random() < 0.15:  # a figure now and then
            words[rng.randrange(n)] = str(rng.choice((rng.randint(2, 99), rng.randint(1990, 2026))))
        return words[0].capitalize() + " " + " ".join(words[1:]) + rng.choice(".....?!")

    def _paragraph(self, rng: random.Random, words: int) -> str:
        out, left = [], words
        while left > 0:
            n = min(left, rng.randint(8, 28))
            out.append(self._sentence(rng, max(n, 3)))
            left -= n
        return " ".join(out)

    def original_parts(self, index: int) -> tuple[str, list[str]]:
        """The title and paragraphs of original `index`."""
        rng = self._rng(index)
        total = rng.randint(*self.length)
        paragraphs, left = [], total
        while left > 0:
            n = min(left, rng.randint(40, 110))
            paragraphs.append(self._paragraph(rng, n))
            left -= n
        title = self._sentence(rng, rng.randint(6, 12)).rstrip(".?!")
        return title, paragraphs

    def url(self, index: int) -> str:
        site = _SITES[self._rng(index, "site").randrange(len(_SITES))]
        return f"https://{site}/news/{self.seed}/{index:07d}"

    def article_id(self, index: int) -> str:
        return stable_id("url", self.url(index))

    def make_article(self, index: int, title: str, body: str) -> Article:
        url = self.url(index)
        aid = stable_id("url", url)
        return Article(
            source_uri=url,
            media_type="text/html",
            url=url,
            source=url.split("/")[2],
            title=title,
            title_source="source",
            published_at=INGESTED_AT - timedelta(minutes=index % 100_000),
            language="en",
            body=body,
            word_count=count_words(body),
            content_hash=content_hash(body),
            article_id=aid,
            story_id=aid,
            run_id=RUN_ID,
            ingested_at=INGESTED_AT,
            extractor="trafilatura",
        )

    def _source_of_copy(self, index: int) -> tuple[ArticleGenerator, int]:
        """The original a copy copies: an earlier original of this stream, or one of the prior stream's."""
        rng = self._rng(index, "source")
        if self.prior is not None and self.prior_size and rng.random() < 0.5:
            gen, upto = self.prior, self.prior_size
        else:
            gen, upto = self, index
        while True:  # recent articles are copied more often than old ones
            j = upto - 1 - min(int(rng.expovariate(1 / 2000)), upto - 1)
            if gen.kind(j) == "original":
                return gen, j

    def generate(self, index: int) -> Generated:
        kind = self.kind(index)
        if kind == "original":
            title, paragraphs = self.original_parts(index)
            return Generated(index, kind, None, self.make_article(index, title, "\n\n".join(paragraphs)))
        gen, j = self._source_of_copy(index)
        title, paragraphs = gen.original_parts(j)
        rng = self._rng(index, "copy")
        if kind == "exact":  # cosmetic changes only: case, spacing, punctuation fold away
            paragraphs = list(paragraphs)
            paragraphs[0] = paragraphs[0].upper()
            body = "\n\n".join(p.replace(". ", ".  ") for p in paragraphs)
        else:
            body = "\n\n".join(self._near(rng, paragraphs))
            title = title if rng.random() < 0.5 else self._sentence(rng, rng.randint(6, 12)).rstrip(".?!")
        return Generated(index, kind, gen.article_id(j), self.make_article(index, title, body))

    def _near(self, rng: random.Random, paragraphs: list[str]) -> list[str]:
        """A near copy: a few words edited, or a paragraph added, or the last one cut."""
        how = rng.choice(("edit", "edit", "extend", "trim"))
        if how == "extend":
            extra = self._paragraph(rng, rng.randint(40, 80))
            return [*paragraphs[:1], extra, *paragraphs[1:]] if rng.random() < 0.5 else [*paragraphs, extra]
        if how == "trim" and len(paragraphs) > 3:
            return paragraphs[:-1]
        out = []
        for p in paragraphs:  # about 3% of words replaced
            words = p.split(" ")
            for _ in range(max(1, len(words) * 3 // 100)):
                words[rng.randrange(len(words))] = rng.choices(self.words, cum_weights=self.cum)[0]
            out.append(" ".join(words))
        return out

    def stream(self, n: int | None) -> Iterator[Generated]:
        """Articles 0..n-1 (without end when n is None)."""
        for index in itertools.count() if n is None else range(n):
            yield self.generate(index)


def articles(n: int, seed: int = NEW_SEED, prior: tuple[int, int] | None = None) -> Iterator[Article]:
    """n generated articles; `prior` = (seed, size) of the history their copies may copy."""
    gen = ArticleGenerator(seed, *((ArticleGenerator(prior[0]), prior[1]) if prior else ()))
    return (g.article for g in gen.stream(n))


# The history database: built once through the real dedupe, staging and load code, then cached.


def fingerprint() -> str:
    """What a cached database depends on besides size and seed: the generator, the schema, the MinHash setup."""
    from pipeline.settings import Settings
    from pipeline.store.schema import MIGRATIONS, VIEWS

    s = Settings()
    schema = "".join(m for _, m in MIGRATIONS if isinstance(m, str)) + VIEWS
    setup = f"{GENERATOR_VERSION}|{schema}|{s.shingle_size}|{s.minhash_perms}|{s.lsh_bands}"
    return hashlib.sha256(setup.encode()).hexdigest()[:8]


def history_path(workdir: Path, size: int, seed: int = HISTORY_SEED) -> Path:
    return workdir / f"history-{size}-s{seed}-{fingerprint()}.duckdb"


def empty_path(workdir: Path) -> Path:
    return workdir / f"empty-{fingerprint()}.duckdb"


def ensure_empty(workdir: Path) -> Path:
    """A database with the schema and no rows, as a first run finds it once the writer has migrated it."""
    from pipeline.store import Store

    path = empty_path(workdir)
    if not path.exists():
        Store(path).close()
    return path


def ensure_history(workdir: Path, size: int, seed: int = HISTORY_SEED, log=None) -> tuple[Path, dict]:
    """The cached history database of `size` landed rows (built when missing) and how it was built."""
    path = history_path(workdir, size, seed)
    meta_file = path.with_suffix(".json")
    if path.exists() and meta_file.exists():
        return path, {**json.loads(meta_file.read_text()), "cached": True}
    meta = build_history(path, size, seed, log)
    meta_file.write_text(json.dumps(meta, indent=2))
    return path, {**meta, "cached": False}


def build_history(path: Path, size: int, seed: int, log=None) -> dict:
    """Dedupe generated articles until `size` landed, stage them with `StagingWriter`, `Store.load` them."""
    from pipeline.clock import utcnow
    from pipeline.dedupe.stage import DedupeStage
    from pipeline.settings import Settings
    from pipeline.stage import Ledger
    from pipeline.store import Store
    from pipeline.store.staging import StagingWriter, write_manifest

    log = log or (lambda msg: None)
    building = path.with_name(path.stem + ".building.duckdb")
    staging = path.with_name(path.stem + ".staging")
    for leftover in (building, building.with_suffix(".duckdb.wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(staging, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)

    ledger = Ledger()
    stage = DedupeStage(ledger, Settings(), None)
    source = Timed(g.article for g in ArticleGenerator(seed).stream(None))
    dedupe_s = 0.0

    def until_landed(items: Iterable) -> Iterator:
        nonlocal dedupe_s
        landed = 0
        it = iter(items)
        while landed < size:
            t = time.perf_counter()
            item = next(it)
            dedupe_s += time.perf_counter() - t
            landed += isinstance(item, Article)
            yield item

    def progress(done: int) -> None:
        if done % 10_000 == 0:
            log(f"history: {done:,} articles generated and deduped")

    started = utcnow()
    t0 = time.perf_counter()
    tally = StagingWriter(staging, RUN_ID).consume(until_landed(stage.run(source)), progress)
    write_manifest(staging)  # as a run's last staging step does: the load checks it
    stream_s = time.perf_counter() - t0
    log(f"history: {tally.landed:,} landed, {tally.duplicates:,} duplicates; loading into {building.name}")
    run = {
        "run_id": RUN_ID,
        "trigger": "test",
        "started_at": started,
        "ended_at": utcnow(),
        "status": "success",
        "sources": ["bench.dedupe"],
        "read": tally.read,
        "landed": tally.landed,
        "duplicates": tally.duplicates,
        "quarantined": tally.quarantined,
        "skipped": tally.skipped,
        "counts": ledger.by_stage(),
        "error": None,
    }
    t1 = time.perf_counter()
    with Store(building) as store:
        store.load(staging, run)
        rows = {
            t: store.count(t) for t in ("articles", "article_duplicates", "article_minhash", "article_lsh")
        }
    load_s = time.perf_counter() - t1
    shutil.rmtree(staging, ignore_errors=True)
    building.rename(path)
    source_s = source.seconds
    return {
        "size": size,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "read": tally.read,
        "rows": rows,
        "method": "DedupeStage -> StagingWriter (Parquet) -> Store.load",
        "generate_s": round(source_s, 1),
        "dedupe_s": round(dedupe_s - source_s, 1),
        "staging_s": round(stream_s - dedupe_s, 1),
        "load_s": round(load_s, 1),
        "total_s": round(stream_s + load_s, 1),
        "file_mb": round(path.stat().st_size / 2**20, 1),
    }


class Timed:
    """An iterator wrapper that adds up the time spent producing items, so generation can be left out."""

    def __init__(self, items: Iterable):
        self._it = iter(items)
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def __iter__(self) -> Timed:
        return self

    def __next__(self):
        t, c = time.perf_counter(), time.process_time()
        try:
            return next(self._it)
        finally:
            self.seconds += time.perf_counter() - t
            self.cpu_seconds += time.process_time() - c


# Timed scenarios: each runs in its own process (`--scenario`), so its peak RSS is its own.


@dataclass
class Scenario:
    name: str
    size: int
    db: str  # "empty" or "history"
    history_size: int = 0
    budget_s: float = 0.0  # stop after this long and extrapolate (0: never)


@dataclass
class Timers:
    """Seconds and calls per named step, filled by wrappers put around the stage's and store's methods."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def wrap(self, name: str, fn: Callable) -> Callable:
        seconds, calls = self.seconds, self.calls
        seconds.setdefault(name, 0.0)
        calls.setdefault(name, 0)

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - t
                calls[name] += 1

        return timed


HISTORY_QUERIES = (
    "landed_hashes",
    "known_duplicates",
    "ids_for_hashes",
    "paragraph_counts",
    "band_members",
    "signatures",
)


def instrument(stage, timers: Timers) -> Callable[[], None]:
    """Time the stage's signature work, its history lookups and its candidate comparisons; return an undo."""
    import pipeline.dedupe.stage as dedupe

    stage.hasher.signature = timers.wrap("signature", stage.hasher.signature)
    stage.hasher.band_keys = timers.wrap("band_keys", stage.hasher.band_keys)
    if stage.history is not None:  # the bulk queries its HistoryCache makes, a chunk at a time
        store = stage.history.store
        for name in HISTORY_QUERIES:
            setattr(store, name, timers.wrap(f"db.{name}", getattr(store, name)))
        stage.history.clear()  # so the cache calls the wrapped methods
    original = dedupe.similarity
    dedupe.similarity = timers.wrap("compare", original)  # a module global: put back by the undo

    def undo() -> None:
        dedupe.similarity = original

    return undo


def max_rss_mb() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux keeps that across exec, so a child
    started by a large parent would report the parent's peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


def run_scenario(sc: Scenario, workdir: Path, log=None) -> dict:
    """Dedupe `sc.size` new articles against the scenario's database, timed; the result as a dict."""
    from pipeline.dedupe.stage import DedupeStage
    from pipeline.settings import Settings
    from pipeline.stage import Ledger
    from pipeline.store import Store

    log = log or (lambda msg: None)
    db = ensure_empty(workdir) if sc.db == "empty" else history_path(workdir, sc.history_size)
    prior = (HISTORY_SEED, sc.history_size) if sc.db == "history" else None
    gen = ArticleGenerator(NEW_SEED, *((ArticleGenerator(prior[0]), prior[1]) if prior else ()))
    if not db.exists():  # e.g. the schema changed since the parent built it: never bench without the history
        raise FileNotFoundError(f"{db} is missing; run the bench again to build it")
    history = Store.for_reading(db)  # read-only, as the pipeline's process step opens it
    ledger = Ledger()
    stage = DedupeStage(ledger, Settings(), history.history)
    timers = Timers()
    undo = instrument(stage, timers)
    source = Timed(g.article for g in gen.stream(sc.size))
    rss_before = current_rss_mb()
    outcomes: dict[str, int] = {}
    done, stopped = 0, False
    load_before = os.getloadavg()[0]
    next_log = time.perf_counter() + PROGRESS_EVERY_S
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        for item in stage.run(source):
            kind = (
                "landed"
                if isinstance(item, Article)
                else getattr(item, "method", None) or type(item).__name__
            )
            outcomes[kind] = outcomes.get(kind, 0) + 1
            done += 1
            now = time.perf_counter()
            if now >= next_log:
                next_log = now + PROGRESS_EVERY_S
                eta = (now - t0) / done * (sc.size - done)
                log(f"{sc.name}: {done:,}/{sc.size:,} articles, {now - t0:.0f} s, ~{eta:.0f} s to go")
                if sc.budget_s and now - t0 > sc.budget_s and done < sc.size:
                    stopped = True
                    break
    finally:
        undo()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    dedupe_s = wall - source.seconds  # generating the articles is not dedupe's time
    dedupe_cpu_s = cpu - source.cpu_seconds
    if history is not None:
        history.close()
    accounted = sum(timers.seconds.values())
    steps = {k: round(v, 3) for k, v in timers.seconds.items()}
    steps["other"] = round(max(dedupe_s - accounted, 0.0), 3)
    scale = sc.size / done if done else float("nan")
    return {
        "name": sc.name,
        "db": sc.db,
        "history_rows": sc.history_size if sc.db == "history" else 0,
        "size": sc.size,
        "processed": done,
        "stopped_early": stopped,
        "dedupe_s": round(dedupe_s, 3),
        "dedupe_s_full": round(dedupe_s * scale, 3),  # = dedupe_s unless stopped early: extrapolated
        "dedupe_cpu_s": round(dedupe_cpu_s, 3),
        "dedupe_cpu_s_full": round(dedupe_cpu_s * scale, 3),
        "loadavg": [round(load_before, 2), round(os.getloadavg()[0], 2)],  # other work on the machine
        "generate_s": round(source.seconds, 3),
        "rate": round(done / dedupe_s, 1) if dedupe_s else None,
        "peak_rss_mb": round(max_rss_mb(), 1),
        "rss_before_mb": round(rss_before, 1),
        "steps_s": steps,
        "calls": timers.calls,
        "history_queries": stage.history.queries if stage.history is not None else 0,
        "outcomes": outcomes,
        "run_state": {
            "run_index_entries": len(stage.run_index),
            "run_index_mb": round(stage.run_index.nbytes / 2**20, 1),
            "run_signatures": len(stage.run_signatures),
        },
    }


# The bench: build what is missing, run each scenario in a fresh process, print the table and ratios.


def code_fingerprint() -> dict[str, str]:
    """Short hashes of the files whose speed is measured, to tell runs before and after a change apart."""
    root = Path(__file__).resolve().parent.parent
    files = [*sorted((root / "pipeline" / "dedupe").glob("*.py")), root / "pipeline" / "store" / "history.py"]
    files += [root / "pipeline" / "store" / "load.py", Path(__file__).resolve()]
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()[:10]
        for f in files
        if f.name != "__init__.py"
    }


def _child(args: list[str]) -> dict:
    """Run `python -m bench.dedupe <args>` and return the JSON its stdout's last line holds."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.dedupe", *args], stdout=subprocess.PIPE, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench step {args[:2]} failed with status {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def scenarios(sizes: list[int], history: int, budget_s: float) -> list[Scenario]:
    out = []
    for db in ("empty", "history") if history else ("empty",):
        for size in sizes:
            name = f"{_short(size)} vs {'empty' if db == 'empty' else _short(history) + ' rows'}"
            out.append(Scenario(name, size, db, history if db == "history" else 0, budget_s))
    return out


def _short(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def ratios(results: list[dict]) -> list[dict]:
    """time(largest)/time(smallest) per database, and time(vs history)/time(vs empty) per size."""
    out = []
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["db"], r["history_rows"]), []).append(r)
    for (db, rows), group in groups.items():
        group = sorted(group, key=lambda r: r["size"])
        if len(group) >= 2 and group[0]["dedupe_s_full"]:
            small, large = group[0], group[-1]
            out.append(
                {
                    "kind": "size",
                    "db": db,
                    "history_rows": rows,
                    "sizes": [small["size"], large["size"]],
                    "size_ratio": large["size"] / small["size"],
                    "time_ratio": round(large["dedupe_s_full"] / small["dedupe_s_full"], 2),
                    "cpu_ratio": _ratio(large["dedupe_cpu_s_full"], small["dedupe_cpu_s_full"]),
                    "extrapolated": small["stopped_early"] or large["stopped_early"],
                }
            )
    by_key = {(r["db"], r["size"]): r for r in results}
    for (db, size), r in by_key.items():
        empty = by_key.get(("empty", size))
        if db == "history" and empty and empty["dedupe_s_full"]:
            out.append(
                {
                    "kind": "history",
                    "size": size,
                    "history_rows": r["history_rows"],
                    "time_ratio": round(r["dedupe_s_full"] / empty["dedupe_s_full"], 2),
                    "cpu_ratio": _ratio(r["dedupe_cpu_s_full"], empty["dedupe_cpu_s_full"]),
                    "extrapolated": r["stopped_early"] or empty["stopped_early"],
                }
            )
    return out


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b else None


def render(report: dict) -> str:
    results = report["scenarios"]
    lines = ["", "Dedupe benchmark (DedupeStage.run over generated articles; generation time excluded)", ""]
    head = (
        f"{'scenario':<18} {'articles':>9} {'dedupe s':>10} {'CPU s':>9} {'articles/s':>10} "
        f"{'peak RSS MB':>11} {'RSS at start':>12} {'queries':>8}  outcomes"
    )
    lines += [head, "-" * len(head)]
    for r in results:
        star = "*" if r["stopped_early"] else ""
        secs = f"{r['dedupe_s_full']:.1f}{star}"
        cpu = f"{r['dedupe_cpu_s_full']:.1f}{star}"
        outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(r["outcomes"].items()))
        lines.append(
            f"{r['name']:<18} {r['size']:>9,} {secs:>10} {cpu:>9} {r['rate'] or 0:>10,.0f} "
            f"{r['peak_rss_mb']:>11,.0f} {r['rss_before_mb']:>12,.0f} {r['history_queries']:>8,}  {outcomes}"
        )
    lines.append(
        "dedupe s: wall time of DedupeStage.run; CPU s: this process's CPU time (all threads); queries: "
        "history queries made (bulk, per chunk of articles)"
    )
    if any(r["stopped_early"] for r in results):
        lines.append(
            "* stopped at the time budget after the articles counted in outcomes; the time is extrapolated "
            "from the measured rate, and the peak RSS is the partial run's"
        )
    lines += ["", "Ratios"]
    for q in report["ratios"]:
        star = " (extrapolated)" if q["extrapolated"] else ""
        if q["kind"] == "size":
            where = "empty DB" if q["db"] == "empty" else f"{q['history_rows']:,}-row DB"
            verdict = f"target <= {RATIO_TARGET:g}: " + (
                "met" if q["time_ratio"] <= RATIO_TARGET else "MISSED"
            )
            lines.append(
                f"  time({_short(q['sizes'][1])})/time({_short(q['sizes'][0])}) vs {where}: "
                f"{q['time_ratio']:.2f}  (CPU {q['cpu_ratio']}; size ratio {q['size_ratio']:.0f}; {verdict}){star}"
            )
        else:
            lines.append(
                f"  time({_short(q['size'])} vs {q['history_rows']:,}-row DB)/"
                f"time({_short(q['size'])} vs empty DB): {q['time_ratio']:.2f}  (CPU {q['cpu_ratio']}; "
                f"1 = dedupe costs the same whatever the history holds){star}"
            )
    lines += ["", "Where the time goes (microseconds per article; % of dedupe time)"]
    steps = sorted({k for r in results for k in r["steps_s"]}, key=_step_order)
    width = max(len(s) for s in steps) + 2
    lines.append(f"  {'step':<{width}}" + "".join(f"{r['name']:>20}" for r in results))
    for step in steps:
        cells = []
        for r in results:
            v = r["steps_s"].get(step)
            if v is None:
                cells.append(f"{'-':>20}")
            else:
                pct = 100 * v / r["dedupe_s"] if r["dedupe_s"] else 0
                cells.append(f"{1e6 * v / max(r['processed'], 1):>12,.0f} ({pct:>3.0f}%)")
        lines.append(f"  {step:<{width}}" + "".join(cells))
    lines.append(
        "  signature: fold + shingles + MinHash (look-ahead included); db.*: Store's bulk history queries; "
        "compare: similarity() per candidate; other: the rest"
    )
    for r in results:
        rs = r["run_state"]
        lines.append(
            f"  {r['name']}: in-run LSH index {rs['run_index_entries']:,} entries ({rs['run_index_mb']} MB); "
            f"{rs['run_signatures']:,} signatures held; {r['calls'].get('compare', 0):,} candidate comparisons"
        )
    if report.get("history"):
        h = report["history"]
        lines += [
            "",
            f"History DB {h['path']} ({'cached' if h['cached'] else 'built now'}): {h['rows']['articles']:,} "
            f"articles, {h['rows']['article_duplicates']:,} duplicates, {h['rows']['article_lsh']:,} LSH rows, "
            f"{h['file_mb']} MB; built by {h['method']} from {h['read']:,} generated articles in {h['total_s']} s "
            f"(generate {h['generate_s']}, dedupe {h['dedupe_s']}, staging {h['staging_s']}, load {h['load_s']})",
        ]
    code = ", ".join(f"{k} {v}" for k, v in report.get("code", {}).items())
    lines.append(f"Code measured: {code}; {report.get('cpus')} CPUs")
    lines.append(f"Total bench time: {report['total_s']:.0f} s")
    return "\n".join(lines)


def _step_order(step: str) -> tuple:
    order = ["signature", "band_keys", *(f"db.{n}" for n in HISTORY_QUERIES), "compare", "other"]
    return (order.index(step) if step in order else len(order), step)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dedupe",
        description=__doc__.split("\n\n")[0],
        epilog="Scenarios run in fresh processes; the history DB is built once and cached in --workdir.",
    )
    parser.add_argument(
        "--sizes", default="10000,100000", help="articles to dedupe per scenario, comma-separated"
    )
    parser.add_argument(
        "--history", type=int, default=100_000, help="landed rows of the history DB (0: none)"
    )
    parser.add_argument("--workdir", type=Path, default=Path("data/bench"), help="cached databases live here")
    parser.add_argument("--json", type=Path, help="also write the whole report as JSON to this file")
    parser.add_argument(
        "--budget", type=float, default=0.0,
        help="stop a scenario after this many seconds and extrapolate its time (default 0: run to the end)",
    )  # fmt: skip
    parser.add_argument("--scenario", help=argparse.SUPPRESS)  # internal: run one scenario, print JSON
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[bench] {msg}", file=sys.stderr, flush=True)

    if args.scenario:
        print(json.dumps(run_scenario(Scenario(**json.loads(args.scenario)), args.workdir, log)))
        return 0

    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--sizes takes comma-separated numbers, not {args.sizes!r}")
    if not sizes or min(sizes) <= 0 or args.history < 0:
        parser.error("--sizes must be positive numbers and --history not negative")
    started = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "sizes": sizes,
        "history_rows": args.history,
        "workdir": str(args.workdir),
        "code": code_fingerprint(),
        "cpus": os.cpu_count(),
    }
    if args.history:  # built in this process: its memory is not measured, the scenarios' is
        log(f"history DB of {args.history:,} landed rows (built once, then cached in {args.workdir})")
        path, meta = ensure_history(args.workdir, args.history, log=log)
        report["history"] = {**meta, "path": str(path)}
        log(f"history DB ready: {path} ({meta['total_s']} s to build{', cached' if meta['cached'] else ''})")
    results = []
    for sc in scenarios(sizes, args.history, args.budget):
        log(f"scenario {sc.name}: {sc.size:,} articles in a fresh process")
        result = _child(["--scenario", json.dumps(sc.__dict__), "--workdir", str(args.workdir)])
        log(f"scenario {sc.name}: {result['dedupe_s']:.1f} s, {result['rate']:,.0f} articles/s")
        results.append(result)
    report["scenarios"] = results
    report["ratios"] = ratios(results)
    report["total_s"] = round(time.perf_counter() - started, 1)
    print(render(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
