"""`make bench`: where a run's time and memory go, measured against the project's limits.

    python -m bench.run [--parts html,text,memory,dedupe,airflow,warc] [--out docs/benchmarks.md] ...

Parts, each measured in fresh processes so that time, imports and memory are each run's own:

- quality: `make eval`'s headline figures (`evals.extraction` on AEB and fundus, `evals.dedupe` on AEB,
  `evals.stories` on ECB+, each in its own process), against the same figures at issue 21's starting point
  (`bench/before.json`): speed must not be bought with quality. A corpus not found is said and left out.
- steps: where a worker's CPU goes on a page, against plain `trafilatura.extract` on the same page: the AEB
  pages through a worker's steps (`pipeline.document.stage.document_job`) in one process, each step and the
  parts of the extraction timed (CPU), alternating with the plain loop, `--rounds` times (medians).
- html: 1,000 and 5,000 article pages (`--html-docs`; the AEB benchmark's 181 pages, copied with small
  variations: a title prefix, one added paragraph) ingested end to end (read to landed, into a fresh
  database) with 2 worker processes (and 1, at the first size), against plain `trafilatura.extract` over the
  same files in one process, and against trafilatura's own CLI over the folder in 2 processes
  (`trafilatura --input-dir ... -o ... --parallel 2 --no-comments`, writing text files: what a user would run
  instead). They run alternately, `--rounds` times, and the medians are compared; the CPU of each run's whole
  process tree (user + system, every process it started) against the plain loop's.
- text: 10k and 100k generated plain-text articles (the dedupe bench's generator: prose with 10% near and
  5% exact copies) ingested end to end: articles per second, load rows per second, peak memory.
- memory: what a run's state costs as it grows: 10k and 200k JSONL records of short distinct texts (80-150
  words, `{"url", "title", "text"}` a line) through `python -m pipeline ingest FILE --json --workers 2`, run
  as that command runs it: the main process's peak resident set (VmHWM), also as it stood when the stages
  ended (before the load), the process tree's PSS, and the growth per article between the two sizes.
- dedupe: `python -m bench.dedupe` (DedupeStage over 10k and 100k articles, against an empty and a
  100k-row database) and its 100k/10k time ratios.
- airflow: what importing the DAG files costs over importing `airflow.sdk` alone, in fresh interpreters.
- warc: a web archive of `--warc-gb` GB (1) on disk, gzip per record as crawlers write it: HTML responses made
  from the AEB pages (varied as in the html part, `--warc-pages` of them) and image responses (random bytes,
  skipped as not HTML) filling the rest. Read alone (the records of `pipeline.read.warc`, one process:
  records per second and peak memory) and ingested end to end with 2 workers (records and pages per second,
  peak memory of all processes): memory must stay flat over the file, whatever its size.

Memory is the main process's own peak resident set (VmHWM), and the peak of the run's whole process tree
(main process, forkserver and workers, sampled every 0.1 s) as the sum of their proportional set sizes (PSS:
pages the workers share with the forkserver they fork from count once), with the plain RSS sum beside it. Speed is only measured here,
never asserted by the tests. Generated inputs are cached in `--workdir` and rebuilt when their recipe
changes. The report goes to stdout and, as Markdown, to `--out`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = ROOT / "bench" / "before.json"  # issue 21's starting point (866ef18), measured by this bench
PARTS = ("quality", "steps", "html", "text", "memory", "dedupe", "airflow", "warc")
HTML_RECIPE = 1  # bump when the page variations change: the cached corpus is rebuilt
WARC_RECIPE = 1  # bump when the web archive's make-up changes
TEXT_SEED = 3
MEMORY_SEED = 5
MEMORY_WORDS = (80, 150)  # words of a generated record's text
TARGETS = {
    "html_ratio": 0.6,  # end to end with 2 workers / plain single-process trafilatura, at most
    "html_cpu_ratio": 1.25,  # the run's CPU, all processes / the plain loop's, at most
    "html_cli_ratio": 1.2,  # end to end with 2 workers / trafilatura's CLI with --parallel 2, at most
    "text_rss_mb": 700,  # peak PSS of all processes of a 100k-article text run, at most (issue 21)
    "dedupe_ratio": 11.0,  # dedupe time(100k) / time(10k), at most (issue 21)
    "growth_bytes": 1024,  # main process's peak growth per article between the memory part's sizes, at most
}


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --- inputs ------------------------------------------------------------------------------------------------


def html_corpus(aeb: Path, workdir: Path, docs: int) -> Path:
    """`docs` HTML files made from the AEB pages: copy 0 of each page as it is, later copies varied a little."""
    from evals.extraction import load_corpus

    truth = (aeb / "ground-truth.json").read_bytes() if (aeb / "ground-truth.json").is_file() else b""
    key = hashlib.sha256(truth + f"{HTML_RECIPE}:{docs}".encode()).hexdigest()[:8]
    folder = workdir / f"html-{docs}-{key}"
    if (folder / ".complete").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    pages = list(load_corpus(aeb))  # raises SetupError with the path when the corpus is missing
    log(f"making {docs} pages from {len(pages)} AEB pages in {folder}")
    folder.mkdir(parents=True)
    for n in range(docs):
        page, copy = pages[n % len(pages)], n // len(pages)
        (folder / f"{n:05d}-{page.id[:12]}.html").write_text(vary_page(page.html, page.id, copy), "utf-8")
    (folder / ".complete").write_text("")
    return folder


def vary_page(html: str, page_id: str, copy: int) -> str:
    """Copy 0 is the page; copy k gets "Update k: " before its title and one short paragraph after the first."""
    if copy == 0:
        return html
    rng = random.Random(f"{HTML_RECIPE}:{page_id}:{copy}")
    html = re.sub(r"(<title[^>]*>)", rf"\g<1>Update {copy}: ", html, count=1, flags=re.I)
    note = f"<p>Update {copy}: this story was revised at {rng.randint(6, 22)}:{rng.randint(0, 59):02d}.</p>"
    return html.replace("</p>", "</p>" + note, 1)


def warc_corpus(aeb: Path, workdir: Path, pages: int, gigabytes: float) -> Path:
    """A `.warc.gz` of `gigabytes` on disk: `pages` HTML responses from the AEB pages (varied as `vary_page`
    does), then image responses of random bytes up to the size; a warcinfo record first."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from evals.extraction import load_corpus

    target = int(gigabytes * 2**30)
    path = workdir / f"crawl-{pages}-{gigabytes:g}g-r{WARC_RECIPE}.warc.gz"
    if path.is_file() and path.stat().st_size >= target:
        return path
    source = list(load_corpus(aeb))
    log(f"writing a {gigabytes:g} GB web archive ({pages} HTML pages, then images) to {path}")
    rng = random.Random(WARC_RECIPE)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        writer.write_record(writer.create_warcinfo_record(path.name, {"software": "bench.run"}))

        def response(uri: str, body: bytes, content_type: str) -> None:
            headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=headers)
            )

        for n in range(pages):
            page, copy = source[n % len(source)], n // len(source)
            html = vary_page(page.html, page.id, copy).encode("utf-8")
            response(f"https://news{n % 7}.example/{page.id[:12]}/{copy}", html, "text/html; charset=utf-8")
        n = 0
        while out.tell() < target:
            response(f"https://img.example/{n}.jpg", rng.randbytes(256 * 1024), "image/jpeg")
            n += 1
    partial.rename(path)
    return path


def text_corpus(workdir: Path, size: int) -> Path:
    """`size` generated articles as .txt files (headline, blank line, paragraphs), 1000 to a folder."""
    from bench.dedupe import GENERATOR_VERSION, ArticleGenerator

    folder = workdir / f"text-{size}-g{GENERATOR_VERSION}-s{TEXT_SEED}"
    if (folder / ".complete").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    log(f"writing {size:,} generated text articles to {folder}")
    for g in ArticleGenerator(TEXT_SEED).stream(size):
        sub = folder / f"{g.index // 1000:04d}"
        if g.index % 1000 == 0:
            sub.mkdir(parents=True)
        a = g.article
        (sub / f"{g.index:06d}.txt").write_text(f"{a.title}\n\n{a.body}\n", "utf-8")
    (folder / ".complete").write_text("")
    return folder


def records_corpus(workdir: Path, size: int) -> Path:
    """`size` JSONL records of distinct short texts (originals of the dedupe bench's generator)."""
    from bench.dedupe import GENERATOR_VERSION, ArticleGenerator

    path = (
        workdir
        / f"records-{size}-g{GENERATOR_VERSION}-s{MEMORY_SEED}-w{MEMORY_WORDS[0]}-{MEMORY_WORDS[1]}.jsonl"
    )
    if path.is_file():
        return path
    log(f"writing {size:,} generated JSONL records to {path}")
    gen = ArticleGenerator(MEMORY_SEED, words=MEMORY_WORDS)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as f:
        for i in range(size):
            title, paragraphs = gen.original_parts(i)
            f.write(json.dumps({"url": gen.url(i), "title": title, "text": "\n\n".join(paragraphs)}) + "\n")
    partial.rename(path)
    return path


# --- memory of a process tree -------------------------------------------------------------------------------


class TreeMemory:
    """Samples the resident set of a process and all its descendants every `interval` seconds."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid, self.interval = pid, interval
        self.peak_total_mb = self.peak_pss_mb = self.peak_process_mb = 0.0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-memory", daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        next_pss = 0.0
        while not self._stop.is_set():
            pids = _descendants(self.pid)
            rss = [_rss_pages(pid) * page_mb for pid in pids]
            if rss:
                # PSS costs the kernel a walk of each process's pages: read it twice a second, and whenever
                # the RSS sum reaches a new peak (where the PSS peak is).
                now = time.monotonic()
                if sum(rss) > self.peak_total_mb or now >= next_pss:
                    self.peak_pss_mb = max(self.peak_pss_mb, sum(_pss_mb(pid) for pid in pids))
                    next_pss = now + 0.5
                self.peak_total_mb = max(self.peak_total_mb, sum(rss))
                self.peak_process_mb = max(self.peak_process_mb, max(rss))
                self.peak_processes = max(self.peak_processes, len(rss))
            self._stop.wait(self.interval)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _pss_mb(pid: int) -> float:
    """Proportional set size: pages shared by several processes (the workers fork from one server) are
    split between them, so the tree's sum is the memory it really holds."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) / 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0.0


def _rss_pages(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _child_env() -> dict[str, str]:
    """A measured process's environment: this checkout importable, GX's analytics off."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "GX_ANALYTICS_ENABLED": "false"}


def child(part: str, args: dict, timeout_s: float = 3600) -> dict:
    """Run one measurement in a fresh interpreter; its JSON result, with the process tree's peak memory."""
    cmd = [sys.executable, "-m", "bench.run", "--child", part, json.dumps(args)]
    env = _child_env()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, env=env, cwd=ROOT)
        with TreeMemory(proc.pid) as memory:
            try:
                code = proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise RuntimeError(f"bench step {part} ran over {timeout_s:g} s") from None
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        text = out.read().decode()
    if code != 0:
        raise RuntimeError(f"bench step {part} {args} failed with status {code}")
    result = json.loads(text.strip().splitlines()[-1])
    result["tree_peak_rss_mb"] = round(memory.peak_total_mb, 1)
    result["tree_peak_pss_mb"] = round(memory.peak_pss_mb, 1)
    result["largest_process_rss_mb"] = round(memory.peak_process_mb, 1)
    result["processes"] = memory.peak_processes
    # every process of the tree that was waited for (workers by their forkserver, it by the child): all of them
    result["tree_cpu_s"] = round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2)
    return result


def vm_hwm_mb() -> float:
    """This process's own peak resident set."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# --- measurements, each run in a child process ---------------------------------------------------------------


def measure_plain(folder: str) -> dict:
    """Plain `trafilatura.extract` over the folder's files, one after another in this process."""
    t0 = time.perf_counter()
    import trafilatura

    import_s = time.perf_counter() - t0
    files = sorted(Path(folder).glob("*.html"))
    empty = 0
    t0, c0 = time.perf_counter(), time.process_time()
    for path in files:
        if not trafilatura.extract(path.read_bytes()):
            empty += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"docs": len(files), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "import_s": round(import_s, 2),
            "empty": empty, "main_peak_rss_mb": round(vm_hwm_mb(), 1)}  # fmt: skip


def measure_trafilatura_cli(folder: str, scratch: str, processes: int = 2) -> dict:
    """trafilatura's own command over the folder, as a user would run it instead: `--parallel` processes,
    comments off, a text file written per page (it skips pages whose text it has already seen)."""
    out_dir = Path(scratch) / "trafilatura-cli"
    shutil.rmtree(out_dir, ignore_errors=True)
    command = [str(Path(sys.executable).parent / "trafilatura"), "--input-dir", folder, "-o", str(out_dir),
               "--parallel", str(processes), "--no-comments"]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    written = sum(1 for f in out_dir.rglob("*.txt")) if out_dir.is_dir() else 0
    shutil.rmtree(out_dir, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"trafilatura CLI failed ({proc.returncode}): {proc.stderr[-500:]}")
    return {"docs": len(list(Path(folder).glob("*.html"))), "processes": processes, "wall_s": round(wall, 2),
            "files_written": written, "main_peak_rss_mb": round(vm_hwm_mb(), 1)}  # fmt: skip


def _timer(totals: dict[str, float], clock: Callable[[], float]) -> Callable[[str, Callable], Callable]:
    """`timed(name, fn)`: `fn`, adding the `clock` time of each call to `totals[name]`."""

    def timed(name: str, fn: Callable) -> Callable:
        def wrapper(*a, **kw):
            t = clock()
            try:
                return fn(*a, **kw)
            finally:
                totals[name] = totals.get(name, 0.0) + clock() - t

        return wrapper

    return timed


def measure_ingest(folder: str, workers: int, scratch: str) -> dict:
    """`run_ingest` (what `python -m pipeline ingest` does) over the folder into a fresh database, timed.

    The phases are timed by wrapping the runner's own functions: process (read to staged Parquet: extract,
    clean, enrich in the workers; validate, dedupe, stories here), audit, then publish (the load).
    """
    c_imports = time.process_time()
    from pipeline.run import runner
    from pipeline.settings import Settings

    imports_cpu = time.process_time() - c_imports
    scratch_dir = Path(scratch)
    shutil.rmtree(scratch_dir, ignore_errors=True)
    scratch_dir.mkdir(parents=True)
    phases: dict[str, float] = {}
    timed = _timer(phases, time.perf_counter)
    runner.process_run = timed("process", runner.process_run)
    runner.audit_run = timed("audit", runner.audit_run)
    runner.publish_run = timed("load", runner.publish_run)
    main_cpu = _time_main_parts()
    settings = Settings.from_env(db_path=scratch_dir / "bench.duckdb", extract_workers=workers)
    t0, c0 = time.perf_counter(), time.process_time()
    summary = runner.run_ingest([folder], settings, trigger="test")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    import duckdb

    with duckdb.connect(str(settings.db_path), read_only=True) as con:
        tables = (
            "articles",
            "article_minhash",
            "article_lsh",
            "article_duplicates",
            "quarantine",
            "raw_documents",
            "host_paragraphs",
            "story_index",
            "story_terms",
        )  # what a load writes
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
    db_mb = settings.db_path.stat().st_size / 2**20
    shutil.rmtree(scratch_dir, ignore_errors=True)
    return {
        "workers": workers,
        "wall_s": round(wall, 2),
        "main_cpu_s": round(cpu, 2),
        "phases_s": {k: round(v, 2) for k, v in phases.items()},
        "imports_cpu_s": round(imports_cpu, 2),
        "main_cpu_parts_s": {k: round(v, 3) for k, v in main_cpu.items()},
        "status": summary.status,
        "read": summary.read,
        "landed": summary.landed,
        "duplicates": summary.duplicates,
        "quarantined": summary.quarantined,
        "rows": rows,
        "db_mb": round(db_mb, 1),
        "main_peak_rss_mb": round(vm_hwm_mb(), 1),
    }


# The main process's parts, each timed by its own thread's CPU clock, as (label, module, class or None, attribute).
# A label starting "  - " is inside the one above it (the feeder thread's steps); the others do not overlap.
MAIN_PARTS = (
    ("GX import and suite (warm-up thread)", "pipeline.quality.validate", "Validator", "__init__"),
    ("feeder thread (reads, hands pages to the workers)", "pipeline.document.stage", "DocumentStage", "_feed"),
    # the reader thread that reads ahead of the feeder (`_read_ahead`) counts with it
    ("feeder thread (reads, hands pages to the workers)", "pipeline.document.stage", None, "_read"),
    ("  - read files", "pipeline.read.sources", "ReadStage", "process"),
    ("  - unchanged check (sha256, lookup)", "pipeline.read.unchanged", "UnchangedStage", "process_batch"),
    ("  - pages sent to the workers (pickled)", "pipeline.document.workers", "WorkerPool", "_dispatch"),
    ("  - results received (unpickled)", "pipeline.document.workers", "WorkerPool", "_receive"),
    ("workers' results taken in (counts, raw rows queued)", "pipeline.document.stage", "DocumentStage",
     "_from_worker"),
    ("validate (GX)", "pipeline.quality.validate", "ValidateStage", "process_batch"),
    ("dedupe", "pipeline.dedupe.stage", "DedupeStage", "process_batch"),
    ("stories", "pipeline.stories", "StoryStage", "process_batch"),
    ("stories", "pipeline.stories", "StoryStage", "apply"),  # a stage without batches (before b50d34f)
    ("staging (Parquet parts: raw, articles, outcomes)", "pipeline.store.staging", "StagingWriter", "_flush"),
    ("audit", "pipeline.run.runner", None, "audit_run"),
    ("load (publish)", "pipeline.run.runner", None, "publish_run"),
)  # fmt: skip


def _time_main_parts() -> dict[str, float]:
    """Wrap each of `MAIN_PARTS` (that exists) with its thread's CPU clock; the totals fill in as the run goes.

    Staging flushes made while a worker's result is taken in (its raw rows) count as staging only: their time
    is taken off the result's part again (`inside`)."""
    import importlib
    import threading

    spent: dict[str, float] = {}
    timed = _timer(spent, time.thread_time)
    inside = threading.local()
    outer = next(label for label, *_, name in MAIN_PARTS if name == "_from_worker")
    for label, module, cls, name in MAIN_PARTS:
        try:
            owner = importlib.import_module(module)
        except ImportError:  # an older tree, measured for comparison
            continue
        owner = getattr(owner, cls, None) if cls else owner
        if owner is None or not hasattr(owner, name):
            continue
        fn = timed(label, getattr(owner, name))
        if name == "_from_worker":
            fn = _marking(inside, fn)
        elif name == "_flush":
            fn = _excluded(inside, spent, outer, fn)
        setattr(owner, name, fn)
    return spent


def _marking(inside, fn: Callable) -> Callable:
    def wrapper(*a, **kw):
        inside.active = True
        try:
            return fn(*a, **kw)
        finally:
            inside.active = False

    return wrapper


def _excluded(inside, spent: dict[str, float], outer: str, fn: Callable) -> Callable:
    """`fn`, its thread CPU taken off `spent[outer]` when it runs inside `outer`."""

    def wrapper(*a, **kw):
        if not getattr(inside, "active", False):
            return fn(*a, **kw)
        t = time.thread_time()
        try:
            return fn(*a, **kw)
        finally:
            spent[outer] = spent.get(outer, 0.0) - (time.thread_time() - t)

    return wrapper


def measure_cli(path: str, workers: int, scratch: str) -> dict:
    """`python -m pipeline ingest PATH --db ... --json --workers N`, run here by its `main`: this process is
    the command's main process. Its peak resident set is read when the stages end (before the load) and at
    the end."""
    from pipeline import cli
    from pipeline.run import runner

    scratch_dir = Path(scratch)
    shutil.rmtree(scratch_dir, ignore_errors=True)
    scratch_dir.mkdir(parents=True)
    stages: dict[str, float] = {}
    process_run = runner.process_run

    def measured(*a, **kw):
        try:
            return process_run(*a, **kw)
        finally:
            stages["peak_rss_mb"] = vm_hwm_mb()

    runner.process_run = measured
    argv = ["ingest", path, "--db", str(scratch_dir / "bench.duckdb"), "--json", "--workers", str(workers)]
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = cli.main(argv)
    wall = time.perf_counter() - t0
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    shutil.rmtree(scratch_dir, ignore_errors=True)
    return {
        "command": "python -m pipeline " + " ".join(argv),
        "exit": code,
        "workers": workers,
        "wall_s": round(wall, 2),
        **{k: summary[k] for k in ("status", "read", "landed", "duplicates", "quarantined")},
        "stages_peak_rss_mb": round(stages.get("peak_rss_mb", float("nan")), 1),
        "main_peak_rss_mb": round(vm_hwm_mb(), 1),
    }


# The extraction's parts, timed inside `parse_html` by wrapping what it calls: (label, module, attribute).
_EXTRACT_PARTS = (
    ("parse (lxml, trafilatura.load_html)", "trafilatura", "load_html"),
    ("metadata (title, author, date, site)", "pipeline.document.cascade", "page_metadata"),
    ("main text (trafilatura's cascade)", "pipeline.document.cascade", "main_text"),
    ("blocks (links measured, unlinked)", "pipeline.document.extract", "html_blocks"),
)


def measure_steps(aeb: str, rounds: int) -> dict:
    """CPU per page of each of a worker's steps over the AEB pages, and of plain `trafilatura.extract`."""
    import importlib
    from datetime import datetime as dt

    import trafilatura

    from evals.extraction import load_corpus
    from pipeline.dedupe import minhash
    from pipeline.document import language_model  # noqa: F401  (the workers' forkserver preloads it)
    from pipeline.document import stage as document_stage
    from pipeline.document.xpaths import unscreen_trafilatura
    from pipeline.models import Article
    from pipeline.settings import Settings

    pages = [(page.id, page.html.encode()) for page in load_corpus(Path(aeb))]
    settings = Settings()
    setup = (settings.shingle_size, settings.minhash_perms, settings.lsh_bands)
    spec = document_stage.DocumentSteps(
        ("retain", "extract", "clean", "enrich"), "bench", dt(2026, 1, 1), dt(2026, 1, 1), setup
    )
    spent: dict[str, float] = {}
    timed = _timer(spent, time.process_time)
    for label, module, name in _EXTRACT_PARTS:
        owner = importlib.import_module(module)
        setattr(owner, name, timed(label, getattr(owner, name)))
    # `document_job` as the workers run it, each stage it makes and the MinHash it computes timed
    make_stages = document_stage._stages

    def timed_stages(*args):
        stages = make_stages(*args)
        for stage in stages:
            stage.apply = timed(stage.name, stage.apply)
        return stages

    document_stage._stages = timed_stages
    minhash.precompute_signature = timed("minhash", minhash.precompute_signature)

    def steps() -> None:
        for page_id, raw in pages:
            article = Article(source_uri=f"/bench/{page_id}.html", raw=raw, media_type="text/html")
            document_stage.document_job((article, spec))

    def plain() -> None:
        unscreen_trafilatura()  # trafilatura's own expressions: the steps' extraction screens them again
        for _, raw in pages:
            trafilatura.extract(raw)

    steps(), plain()  # warm: lazy imports and caches, in both
    per_round: list[dict[str, float]] = []
    for r in range(rounds):
        out: dict[str, float] = {}
        for name, fn in (
            (("plain", plain), ("steps", steps)) if r % 2 == 0 else (("steps", steps), ("plain", plain))
        ):
            spent.clear()
            c = time.process_time()
            fn()
            out[name] = time.process_time() - c
            if name == "steps":
                out.update(spent)
        per_round.append(out)
    ms = {k: round(1000 * statistics.median(r[k] for r in per_round) / len(pages), 2) for k in per_round[0]}
    return {"pages": len(pages), "rounds": rounds, "ms_per_page": ms,
            "extract_parts": [label for label, _, _ in _EXTRACT_PARTS]}  # fmt: skip


# the quality figures where less is better (the rest: more is better)
QUALITY_LOWER_BETTER = ("false merges", "articles lost", "hard negatives merged")


def run_quality(args) -> dict:
    """`make eval`'s three evals, each in a fresh process writing its JSON; their headline figures."""
    raw: dict[str, dict | None] = {}
    absent: list[str] = []
    env = _child_env()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = {
            "extraction": [
                "evals.extraction",
                "--corpus",
                f"aeb={args.aeb}",
                "--corpus",
                f"fundus={args.fundus}",
            ],
            "dedupe": ["evals.dedupe", "--corpus", str(args.aeb)],
            "stories": ["evals.stories", "--corpus", str(args.ecbplus)],
        }
        for name, job in jobs.items():
            log(f"quality: python -m {' '.join(job)}")
            out = Path(tmp) / f"{name}.json"
            done = subprocess.run([sys.executable, "-m", *job, "--json", str(out)], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)  # fmt: skip
            raw[name] = json.loads(out.read_text()) if done.returncode == 0 and out.is_file() else None
            if raw[name] is None:
                said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
                absent.append(f"{name}: {said}")
            elif name == "extraction":
                absent += [f"extraction: {a}" for a in raw[name].get("absent", [])]
    return {"figures": quality_figures(**raw), "absent": absent}


def quality_figures(
    extraction: dict | None = None, dedupe: dict | None = None, stories: dict | None = None
) -> dict:
    """{label: value} from the evals' JSON (as each writes it with --json); a corpus left out gives no labels."""
    from evals.fundus import PIPELINE as pipeline  # the pipeline's row in both extraction evals

    out: dict[str, float] = {}
    scores = (extraction or {}).get("scores", {}).get(pipeline)
    if scores:
        out |= {f"AEB body {k}": scores[k] for k in ("f1", "precision", "recall")}
    fundus = (extraction or {}).get("fundus", {}).get("scores", {}).get(pipeline, {})
    for part in ("all", "tune", "report"):
        if part in fundus:
            overall = fundus[part]["overall"]
            out |= {f"fundus {part}: {k}": overall[k] for k in ("f1", "title", "authors", "date")}
    if dedupe:
        out |= {"dedupe: pairs precision": dedupe["precision"], "dedupe: pairs recall": dedupe["recall"],
                "dedupe: false merges": dedupe["false_merges"], "dedupe: articles lost": dedupe["articles_lost"],
                "dedupe: story_id precision, all records": dedupe["story_records_precision"],
                "dedupe: story_id recall, all records": dedupe["story_records_recall"]}  # fmt: skip
    for part in ("all", "tune", "report"):
        story = (stories or {}).get(part, {}).get("scores", {}).get("pipeline story_id")
        if story:
            out |= {f"ECB+ {part}: story {k}": story[k] for k in ("f1", "precision", "recall")}
            out[f"ECB+ {part}: hard negatives merged"] = story["hard_merged"] / max(1, story["hard_pairs"])
    return {k: v for k, v in out.items() if v is not None}


def quality_compared(now: dict, before: dict) -> list[tuple[str, float | None, float, str]]:
    """(label, before, now, verdict) for each figure now has: equal (to 3 decimals), better or worse."""
    rows = []
    for label, value in now.items():
        was = before.get(label)
        if was is None:
            rows.append((label, None, value, "-"))
            continue
        a, b = round(was, 3), round(value, 3)
        lower = any(word in label for word in QUALITY_LOWER_BETTER)
        verdict = "equal" if a == b else "better" if (b < a if lower else b > a) else "**worse**"
        rows.append((label, was, value, verdict))
    return rows


def run_steps(args) -> dict:
    log(f"steps: a worker's steps and plain trafilatura over the AEB pages, {args.rounds} rounds")
    return child("steps", {"aeb": str(args.aeb), "rounds": args.rounds})


def measure_warc_read(path: str) -> dict:
    """The records of a web archive as the read stage gets them (`pipeline.read.warc`), in this process."""
    from pipeline.read.formats import record_cap
    from pipeline.read.records import Passed, Record
    from pipeline.read.warc import warc_records
    from pipeline.settings import Settings

    counts = {"records": 0, "pages": 0, "passed": 0, "problems": 0}
    t0, c0 = time.perf_counter(), time.process_time()
    for entry in warc_records(Path(path), record_cap(Settings().max_input_bytes)):
        counts["records"] += 1
        kind = "pages" if isinstance(entry, Record) else "passed" if isinstance(entry, Passed) else "problems"
        counts[kind] += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        **counts,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "main_peak_rss_mb": round(vm_hwm_mb(), 1),
    }


_IMPORT_PROBE = """
import importlib.util, json, sys, time
t0 = time.perf_counter()
import airflow.sdk
sdk = time.perf_counter() - t0
t1 = time.perf_counter()
for i, path in enumerate(sys.argv[1:]):
    spec = importlib.util.spec_from_file_location(f"bench_dag_{i}", path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
dags = time.perf_counter() - t1
heavy = sorted(m for m in ("great_expectations", "trafilatura", "pandas", "duckdb") if m in sys.modules)
print(json.dumps({"sdk_s": sdk, "dags_s": dags, "modules": len(sys.modules), "heavy": heavy}))
"""


def measure_airflow_imports(repeats: int) -> dict:
    """Import airflow.sdk, then the DAG files, in `repeats` fresh interpreters; medians."""
    dag_files = sorted(str(p) for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
    with tempfile.TemporaryDirectory(prefix="bench-airflow-") as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
               "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "dags")])}  # fmt: skip
        cmd = [sys.executable, "-c", _IMPORT_PROBE, *dag_files]
        subprocess.run(cmd, env=env, check=True, capture_output=True)  # first run writes airflow.cfg
        runs = [json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
                for _ in range(repeats)]  # fmt: skip
    sdk = statistics.median(r["sdk_s"] for r in runs)
    dags = statistics.median(r["dags_s"] for r in runs)
    return {
        "repeats": repeats,
        "dag_files": [Path(f).name for f in dag_files],
        "sdk_ms": round(1000 * sdk, 1),
        "dags_ms": round(1000 * dags, 1),
        "dags_over_sdk": round(dags / sdk, 3),
        "heavy_modules_after_dags": runs[-1]["heavy"],
    }


# --- the parts -------------------------------------------------------------------------------------------------


def run_html(args) -> dict:
    return {"sizes": [run_html_size(args, docs, first=n == 0) for n, docs in enumerate(args.html_docs)]}


def run_html_size(args, docs: int, first: bool) -> dict:
    """Each configuration over `docs` pages, alternately, `args.rounds` times; 1 worker only at the first size."""
    folder = html_corpus(args.aeb, args.workdir, docs)
    scratch = str(args.workdir / "scratch-html")
    results: dict[str, list[dict]] = {"plain": [], "2 workers": [], "trafilatura CLI": []}
    if first:
        results["1 worker"] = []
    for r in range(args.rounds):
        order = list(results)
        for name in order if r % 2 == 0 else reversed(order):  # alternate, to even out drift
            log(f"html round {r + 1}/{args.rounds}: {name} over {docs} pages")
            if name == "plain":
                results[name].append(child("plain", {"folder": str(folder)}))
            elif name == "trafilatura CLI":
                results[name].append(child("trafilatura_cli", {"folder": str(folder), "scratch": scratch}))
            else:
                workers = 1 if name == "1 worker" else 2
                results[name].append(
                    child("ingest", {"folder": str(folder), "workers": workers, "scratch": scratch})
                )
            log(
                f"  {results[name][-1]['wall_s']} s, CPU of all processes {results[name][-1]['tree_cpu_s']} s"
            )
    med = {name: statistics.median(x["wall_s"] for x in rs) for name, rs in results.items()}
    cpu = {name: statistics.median(x["tree_cpu_s"] for x in rs) for name, rs in results.items()}
    plain_cpu = statistics.median(x["cpu_s"] for x in results["plain"])  # the extraction loop's own
    return {
        "docs": docs,
        "corpus": str(folder),
        "rounds": args.rounds,
        "plain": results["plain"],
        "workers_1": results.get("1 worker", []),
        "workers_2": results["2 workers"],
        "trafilatura_cli": results["trafilatura CLI"],
        "median_s": med,
        "median_tree_cpu_s": cpu,
        "plain_extract_cpu_s": plain_cpu,
        "ratio_1": round(med["1 worker"] / med["plain"], 3) if first else None,
        "ratio_2": round(med["2 workers"] / med["plain"], 3),
        "ratio_cli": round(med["2 workers"] / med["trafilatura CLI"], 3),
        "cpu_ratio_2": round(cpu["2 workers"] / plain_cpu, 3),
    }


def run_text(args) -> dict:
    runs = []
    for size in args.text_sizes:
        folder = text_corpus(args.workdir, size)
        log(f"text: ingesting {size:,} articles with {args.text_workers} workers")
        scratch = str(args.workdir / "scratch-text")
        result = child("ingest", {"folder": str(folder), "workers": args.text_workers, "scratch": scratch})
        result["size"] = size
        log(f"  {result['wall_s']} s, peak memory {result['tree_peak_pss_mb']:.0f} MB (PSS of all processes)")
        runs.append(result)
    return {"workers": args.text_workers, "runs": runs}


def run_memory(args) -> dict:
    runs = []
    for size in args.memory_sizes:
        path = records_corpus(args.workdir, size)
        log(f"memory: ingesting {size:,} JSONL records with {args.text_workers} workers")
        scratch = str(args.workdir / "scratch-memory")
        result = child("cli", {"path": str(path), "workers": args.text_workers, "scratch": scratch})
        result["size"] = size
        log(f"  {result['wall_s']} s, main process peak {result['main_peak_rss_mb']:.0f} MB")
        runs.append(result)
    return {"workers": args.text_workers, "runs": runs, "growth": memory_growth(runs)}


def run_warc(args) -> dict:
    """A quarter of the pages in a quarter of the size, the same pages in the whole size, then all the pages:
    memory flat over a file's size means the first two peaks match; the third shows what pages cost."""
    runs = []
    for page_share, size_share in ((0.25, 0.25), (0.25, 1.0), (1.0, 1.0)):
        pages = int(args.warc_pages * page_share)
        path = warc_corpus(args.aeb, args.workdir, pages, args.warc_gb * size_share)
        size_mb = path.stat().st_size / 2**20
        log(f"warc: reading {path.name} ({size_mb:,.0f} MB)")
        read = child("warc_read", {"path": str(path)})
        log(f"  {read['wall_s']} s, {read['records']:,} records, peak {read['main_peak_rss_mb']:.0f} MB")
        log("warc: ingesting it end to end with 2 workers")
        scratch = str(args.workdir / "scratch-warc")
        # The pages are copies of 181 (as in the html part): over the audit's duplicate share, which would hold
        # the run before its load. The load is part of end to end: the share is lifted for this run.
        os.environ["PIPELINE_MAX_DUPLICATE_SHARE"] = "1"
        try:
            ingest = child("ingest", {"folder": str(path), "workers": 2, "scratch": scratch}, timeout_s=7200)
        finally:
            os.environ.pop("PIPELINE_MAX_DUPLICATE_SHARE")
        log(f"  {ingest['wall_s']} s, peak memory {ingest['tree_peak_pss_mb']:.0f} MB (PSS of all processes)")
        runs.append({"file": path.name, "file_mb": round(size_mb, 1), "pages": pages,
                     "read": read, "ingest": ingest})  # fmt: skip
    return {"runs": runs}


def memory_growth(runs: list[dict]) -> dict | None:
    """Bytes per article the peaks grow by between the smallest and the largest run."""
    if len(runs) < 2:
        return None
    small, large = min(runs, key=lambda r: r["size"]), max(runs, key=lambda r: r["size"])
    articles = large["size"] - small["size"]

    def per_article(key: str) -> float:
        return round((large[key] - small[key]) * 2**20 / articles)

    return {
        "sizes": [small["size"], large["size"]],
        "main_bytes": per_article("main_peak_rss_mb"),
        "stages_bytes": per_article("stages_peak_rss_mb"),
        "tree_pss_bytes": per_article("tree_peak_pss_mb"),
    }


def run_dedupe(args) -> dict:
    from bench import dedupe as bench

    out = args.workdir / "dedupe.json"
    code = bench.main(["--workdir", str(args.workdir), "--json", str(out)])
    if code:
        raise RuntimeError(f"the dedupe bench failed with status {code}")
    return json.loads(out.read_text())


# --- the report --------------------------------------------------------------------------------------------------


def machine() -> dict:
    import duckdb
    import trafilatura

    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "trafilatura": trafilatura.__version__,
        "duckdb": duckdb.__version__,
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "**missed**"


def summary_rows(report: dict) -> list[tuple[str, str, str, str]]:
    """(figure, measured, target, verdict) for every figure the issue names."""
    rows = []
    was = report.get("before", {}).get("quality", {}).get("figures")
    if "quality" in report and was:
        compared = [r for r in quality_compared(report["quality"]["figures"], was) if r[3] != "-"]
        worse = [r[0] for r in compared if r[3] == "**worse**"]
        kept = len(compared) - len(worse)
        rows.append((f"quality: `make eval` figures against {report['before']['machine']['commit']} (issue 21's start)",
                     f"{kept} of {len(compared)} equal or better" + (f"; lower: {', '.join(worse)}" if worse else ""),
                     "equal or better", _verdict(not worse and bool(compared))))  # fmt: skip
    if "steps" in report:
        ms = report["steps"]["ms_per_page"]
        rows.append(("HTML: a worker's CPU per page / plain trafilatura's (one process, AEB pages)",
                     f"{ms['steps'] / ms['plain']:.2f}x ({ms['steps']:.1f} ms / {ms['plain']:.1f} ms)", "-", "-"))  # fmt: skip
    for h in report.get("html", {}).get("sizes", []):
        med, cpu, n = h["median_s"], h["median_tree_cpu_s"], f"{h['docs']:,} pages"
        rows.append((f"HTML end to end, 2 workers / plain trafilatura, {n}", f"{h['ratio_2']:.2f}x "
                     f"({med['2 workers']:.1f} s / {med['plain']:.1f} s)", f"<= {TARGETS['html_ratio']}x",
                     _verdict(h["ratio_2"] <= TARGETS["html_ratio"])))  # fmt: skip
        rows.append((f"HTML end to end, 2 workers: CPU of all processes / plain trafilatura's, {n}",
                     f"{h['cpu_ratio_2']:.2f}x ({cpu['2 workers']:.1f} s / {h['plain_extract_cpu_s']:.1f} s)",
                     f"<= {TARGETS['html_cpu_ratio']}x", _verdict(h["cpu_ratio_2"] <= TARGETS["html_cpu_ratio"])))  # fmt: skip
        rows.append((f"HTML end to end, 2 workers / trafilatura CLI --parallel 2, {n}", f"{h['ratio_cli']:.2f}x "
                     f"({med['2 workers']:.1f} s / {med['trafilatura CLI']:.1f} s)", f"<= {TARGETS['html_cli_ratio']}x",
                     _verdict(h["ratio_cli"] <= TARGETS["html_cli_ratio"])))  # fmt: skip
        if h["ratio_1"] is not None:
            rows.append((f"HTML end to end, 1 worker / plain trafilatura, {n}",
                         f"{h['ratio_1']:.2f}x ({med['1 worker']:.1f} s)", "-", "-"))  # fmt: skip
    if "text" in report:
        for r in report["text"]["runs"]:
            rate = r["read"] / r["wall_s"]
            rows.append(
                (f"text, {r['size']:,} articles", f"{rate:,.0f} articles/s ({r['wall_s']:.0f} s)", "-", "-")
            )
            ok = r["tree_peak_pss_mb"] <= TARGETS["text_rss_mb"] if r["size"] >= 100_000 else None
            rows.append((f"text, {r['size']:,} articles: peak memory, all processes (PSS)",
                         f"{r['tree_peak_pss_mb']:,.0f} MB (main process RSS {r['main_peak_rss_mb']:,.0f} MB; "
                         f"RSS sum {r['tree_peak_rss_mb']:,.0f} MB)",
                         f"<= {TARGETS['text_rss_mb']} MB at 100k" if r["size"] >= 100_000 else "-",
                         _verdict(ok) if ok is not None else "-"))  # fmt: skip
            load = r["phases_s"].get("load")
            if load:
                total = sum(r["rows"].values())
                rows.append((f"load, {r['size']:,}-article run", f"{r['rows']['articles'] / load:,.0f} articles/s; "
                             f"{total / load:,.0f} rows/s all tables ({load:.1f} s)", "-", "-"))  # fmt: skip
    if "memory" in report:
        for r in report["memory"]["runs"]:
            rows.append((f"JSONL, {r['size']:,} short records: peak memory",
                         f"main process {r['main_peak_rss_mb']:,.0f} MB RSS ({r['stages_peak_rss_mb']:,.0f} MB when "
                         f"the stages end); all processes {r['tree_peak_pss_mb']:,.0f} MB PSS", "-", "-"))  # fmt: skip
        g = report["memory"]["growth"]
        if g:
            span = f"{g['sizes'][0]:,} to {g['sizes'][1]:,}"
            rows.append((f"JSONL: main process peak growth per article, {span} records",
                         f"{g['main_bytes']:,.0f} bytes (stages {g['stages_bytes']:,.0f}; all processes' PSS "
                         f"{g['tree_pss_bytes']:,.0f})", f"<= {TARGETS['growth_bytes']:,} bytes",
                         _verdict(g["main_bytes"] <= TARGETS["growth_bytes"])))  # fmt: skip
    if "dedupe" in report:
        for q in report["dedupe"]["ratios"]:
            if q["kind"] == "size":
                where = "empty DB" if q["db"] == "empty" else f"{q['history_rows']:,}-row DB"
                rows.append((f"dedupe time(100k)/time(10k), {where}", f"{q['time_ratio']:.2f}",
                             f"<= {TARGETS['dedupe_ratio']:g}", _verdict(q["time_ratio"] <= TARGETS["dedupe_ratio"])))  # fmt: skip
        for s in report["dedupe"]["scenarios"]:
            rows.append((f"dedupe {s['name']}: peak RSS", f"{s['peak_rss_mb']:,.0f} MB", "-", "-"))
    if "warc" in report:
        for w in report["warc"]["runs"]:
            r, i = w["read"], w["ingest"]
            rows.append((f"WARC, {w['file_mb']:,.0f} MB file: records read alone", f"{r['records'] / r['wall_s']:,.0f} "
                         f"records/s ({r['records']:,} in {r['wall_s']:.0f} s), peak {r['main_peak_rss_mb']:,.0f} MB RSS", "-", "-"))  # fmt: skip
            rows.append((f"WARC, {w['file_mb']:,.0f} MB file: end to end, 2 workers",
                         f"{r['records'] / i['wall_s']:,.1f} records/s, {i['read'] / i['wall_s']:,.1f} HTML pages/s "
                         f"({i['wall_s']:.0f} s); peak {i['tree_peak_pss_mb']:,.0f} MB PSS all processes, main "
                         f"{i['main_peak_rss_mb']:,.0f} MB RSS", "-", "-"))  # fmt: skip
    if "airflow" in report:
        a = report["airflow"]
        rows.append(("Airflow: import of dags/ over airflow.sdk alone",
                     f"+{a['dags_ms']:.0f} ms over {a['sdk_ms']:.0f} ms ({100 * a['dags_over_sdk']:.1f}%)", "-", "-"))  # fmt: skip
    return rows


_REST = "the rest (run setup, forkserver, pool, GC, the stream's own steps)"


def _main_parts(h: dict) -> dict[str, float]:
    """label -> CPU s of the 2-worker runs' main process (medians over the rounds), the rest and the whole
    (`_REST`, "main") included; {} when the runs were not timed by part."""
    runs = [r for r in h["workers_2"] if r.get("main_cpu_parts_s")]
    if not runs:
        return {}
    main = statistics.median(r["main_cpu_s"] for r in runs)
    parts = {
        label: statistics.median(r["main_cpu_parts_s"].get(label, 0.0) for r in runs)
        for label in dict.fromkeys(label for label, *_ in MAIN_PARTS)
    }
    top = sum(v for label, v in parts.items() if not label.startswith("  - "))
    return {**parts, _REST: main - top, "main": main}


def _main_parts_table(h: dict) -> list[str]:
    """Where the main process's CPU went in the 2-worker runs of one HTML size (medians over its rounds)."""
    parts = _main_parts(h)
    if not parts:
        return []
    plain, main = h["plain_extract_cpu_s"], parts.pop("main")
    imports = statistics.median(r.get("imports_cpu_s", 0.0) for r in h["workers_2"])
    rows = [("imports before the run (pipeline, DuckDB, pandas)", imports), *parts.items()]
    out = ["", f"Where the main process's CPU goes in the 2-worker runs ({h['docs']:,} pages; medians): each part "
           "timed by its own thread's CPU clock (`bench/run.py` `MAIN_PARTS`); the rows marked \"-\" are inside "
           "the feeder thread's. The imports before the run are not in the run's CPU above.", "",
           "| part | CPU s | ms per page | of the main process | of plain trafilatura's CPU |",
           "|---|---|---|---|---|"]  # fmt: skip
    for label, v in rows:
        out.append(
            f"| {label} | {v:.2f} | {1000 * v / h['docs']:.2f} | {100 * v / main:.0f}% | {100 * v / plain:.1f}% |"
        )
    out.append(f"| **main process, the run** | **{main:.2f}** | **{1000 * main / h['docs']:.2f}** | 100% "
               f"| **{100 * main / plain:.1f}%** |")  # fmt: skip
    return out


def _html_figures(h: dict) -> dict[str, float]:
    """One HTML size's ratios to plain trafilatura (2 workers; medians)."""
    runs, plain = h["workers_2"], h["plain_extract_cpu_s"]
    main = statistics.median(r["main_cpu_s"] for r in runs)
    tree = h["median_tree_cpu_s"]["2 workers"]
    return {
        "end to end, 2 workers: wall / plain trafilatura's": h["ratio_2"],
        "CPU of all processes / plain trafilatura's": h["cpu_ratio_2"],
        "end to end / trafilatura CLI --parallel 2": h["ratio_cli"],
        "the workers' CPU / plain trafilatura's": (tree - main) / plain,
        "the main process's CPU / plain trafilatura's": main / plain,
    }


def _before_after(report: dict) -> list[str]:
    """The worker's steps, the HTML figures and the main process's parts, against `report["before"]`."""
    before = report.get("before")
    if not before:
        return []
    b = before["machine"]
    out = ["", "## Before and after", "",
           f"Before is commit {b['commit']}, the tree issue 21 was filed against, measured on {before['date']} "
           "on this machine by this bench's code (`bench/before.json`: `python -m bench.run --parts steps,html "
           "--html-docs 1000 --json bench/before.json`, run in a worktree of that commit with this "
           "`bench/run.py`). Shares of plain trafilatura's CPU compare across runs; milliseconds less so (this "
           "machine's speed varies 10-20% from day to day).", ""]  # fmt: skip
    if "steps" in report and "steps" in before:
        was, now = before["steps"]["ms_per_page"], report["steps"]["ms_per_page"]
        out += ["A worker's steps on a page (CPU ms; share of plain `trafilatura.extract` in the same run):", "",
                "| step | before | now |", "|---|---|---|"]  # fmt: skip
        labels = [
            "plain",
            "retain",
            "extract",
            *report["steps"]["extract_parts"],
            "clean",
            "enrich",
            "minhash",
        ]
        for label in [*labels, "steps"]:
            cells = [
                f"{m[label]:.1f} ({100 * m[label] / m['plain']:.0f}%)" if label in m else "-"
                for m in (was, now)
            ]
            name = {"steps": "**all steps**", "plain": "plain `trafilatura.extract`"}.get(label, label)
            out.append(f"| {name} | {cells[0]} | {cells[1]} |")
    sizes = {h["docs"]: h for h in report.get("html", {}).get("sizes", [])}
    was_sizes = {h["docs"]: h for h in before.get("html", {}).get("sizes", [])}
    for docs in sorted(set(sizes) & set(was_sizes)):
        was, now = _html_figures(was_sizes[docs]), _html_figures(sizes[docs])
        out += ["", f"{docs:,} pages end to end (medians of each run's rounds):", "",
                "| figure | before | now |", "|---|---|---|"]  # fmt: skip
        out += [f"| {k} | {was[k]:.2f}x | {now[k]:.2f}x |" for k in now]
        parts_was, parts_now = _main_parts(was_sizes[docs]), _main_parts(sizes[docs])
        if parts_was and parts_now:
            out += ["", f"The main process's parts, {docs:,} pages (CPU s; share of plain trafilatura's CPU):", "",
                    "| part | before | now |", "|---|---|---|"]  # fmt: skip
            pairs = (
                (parts_was, was_sizes[docs]["plain_extract_cpu_s"]),
                (parts_now, sizes[docs]["plain_extract_cpu_s"]),
            )
            for label in dict.fromkeys([*parts_now, *parts_was]):
                cells = [f"{p[label]:.2f} ({100 * p[label] / plain:.1f}%)" if label in p else "-"
                         for p, plain in pairs]  # fmt: skip
                name = "**main process, the run**" if label == "main" else label
                out.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return out


def _quality_section(report: dict) -> list[str]:
    if "quality" not in report:
        return []
    q = report["quality"]
    before = report.get("before", {})
    was = before.get("quality", {}).get("figures", {})
    commit = before.get("machine", {}).get("commit", "before")
    out = ["", "## Quality", "",
           "`make eval`'s headline figures, each eval run in its own process on the corpora (`evals.extraction` "
           "on AEB and fundus: body 4-token-shingle F1, precision and recall, title, authors and date accuracy, "
           "on all fundus pages and on the tune and report halves of its publisher split; `evals.dedupe` on "
           "copies made from AEB; `evals.stories` on ECB+ in file order, all topics and each half). Before is "
           f"the same evals at {commit}, issue 21's starting point (`bench/before.json`). Equal means equal to "
           "3 decimals.", "", f"| figure | before ({commit}) | now | |", "|---|---|---|---|"]  # fmt: skip
    for label, a, b, verdict in quality_compared(q["figures"], was):
        out.append(f"| {label} | {'-' if a is None else f'{a:.3f}'} | {b:.3f} | {verdict} |")
    out += [f"\nLeft out: {a}" for a in q.get("absent", [])]
    return out


def render(report: dict) -> str:
    m = report["machine"]
    out = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m bench.run`) on {report['date']}, commit {m['commit']}"
        f"{' (with local changes)' if m['dirty'] else ''}: {m['cpus']} CPUs ({m['cpu_model']}), "
        f"{m['memory_gib']} GiB, Python {m['python']}, trafilatura {m['trafilatura']}, DuckDB {m['duckdb']}. "
        f"The whole bench took {report['total_s'] / 60:.0f} min. Figures are from this one run.",
        "",
        "| figure | measured | target | verdict |",
        "|---|---|---|---|",
    ]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in summary_rows(report)]
    out += _quality_section(report)
    if "steps" in report:
        st = report["steps"]
        ms, plain = st["ms_per_page"], st["ms_per_page"]["plain"]
        out += ["", "## Where a worker's CPU goes on a page", "",
                f"The {st['pages']} AEB pages through a worker's steps in one process (CPU per page, median of "
                f"{st['rounds']} rounds alternating with plain `trafilatura.extract` over the same pages). The "
                "extraction's parts are inside its row; what is left of it (the page's JSON-LD, headings, "
                "chunks and scripts read, the text rules of its blocks) is \"extract, the rest\".", "",
                "| step | ms per page | of plain trafilatura |", "|---|---|---|",
                f"| plain `trafilatura.extract` | {plain:.1f} | 100% |"]  # fmt: skip
        inner = sum(ms.get(label, 0.0) for label in st["extract_parts"])
        rows = [("retain (sha256, zlib)", ms.get("retain", 0.0)), ("extract", ms.get("extract", 0.0))]
        rows += [(f"  - {label}", ms.get(label, 0.0)) for label in st["extract_parts"]]
        rows += [("  - extract, the rest", ms.get("extract", 0.0) - inner)]
        rows += [(name, ms.get(name, 0.0)) for name in ("clean", "enrich", "minhash")]
        out += [f"| {name} | {v:.1f} | {100 * v / plain:.0f}% |" for name, v in rows]
        out.append(f"| **all steps** | **{ms['steps']:.1f}** | **{100 * ms['steps'] / plain:.0f}%** |")
    for h in report.get("html", {}).get("sizes", []):
        out += ["", f"## HTML path, {h['docs']:,} pages: end to end against plain trafilatura and its CLI", "",
                f"The AEB benchmark's pages, copies varied a little (`{Path(h['corpus']).name}`). "
                f"Each configuration ran {h['rounds']} times, alternately, each in a fresh process. Plain is "
                "`trafilatura.extract(bytes)` in a loop (its import not counted; its CPU is the loop's); the CLI is "
                "`trafilatura --input-dir ... -o ... --parallel 2 --no-comments`; end to end is `run_ingest`: read, "
                "raw retention, extract, clean and enrich in the workers; validate (GX), dedupe, stories, staging, "
                "audit and load in the main process, into a fresh database; every import it makes is counted. "
                "CPU all: user + system of every process of the run's tree.",
                "", "| run | wall s | CPU s: main / all | process / audit / load s | landed / dup / quarantined "
                "| peak MB: PSS all / RSS main |", "|---|---|---|---|---|---|"]  # fmt: skip
        for name, runs in (
            ("plain", h["plain"]),
            ("trafilatura CLI", h["trafilatura_cli"]),
            ("1 worker", h["workers_1"]),
            ("2 workers", h["workers_2"]),
        ):
            for r in runs:
                if name == "plain":
                    out.append(f"| plain trafilatura | {r['wall_s']:.1f} | {r['cpu_s']:.1f} / {r['tree_cpu_s']:.1f} "
                               f"| - | - | {r['tree_peak_pss_mb']:,.0f} / {r['main_peak_rss_mb']:,.0f} |")  # fmt: skip
                elif name == "trafilatura CLI":
                    out.append(f"| trafilatura CLI, --parallel 2 | {r['wall_s']:.1f} | - / {r['tree_cpu_s']:.1f} | - "
                               f"| {r['files_written']} text files | {r['tree_peak_pss_mb']:,.0f} / - |")  # fmt: skip
                else:
                    p = r["phases_s"]
                    out.append(f"| pipeline, {name} | {r['wall_s']:.1f} | {r['main_cpu_s']:.1f} / {r['tree_cpu_s']:.1f} "
                               f"| {p.get('process', 0):.1f} / {p.get('audit', 0):.1f} / {p.get('load', 0):.1f} "
                               f"| {r['landed']} / {r['duplicates']} / {r['quarantined']} "
                               f"| {r['tree_peak_pss_mb']:,.0f} / {r['main_peak_rss_mb']:,.0f} |")  # fmt: skip
        out += _main_parts_table(h)
    if "text" in report:
        t = report["text"]
        out += ["", "## Plain-text path and load", "",
                f"Generated articles (`pipeline/bench.py`'s generator) as .txt files, ingested end to end with "
                f"{t['workers']} workers into a fresh database.", "",
                "| articles | wall s | articles/s | process / audit / load s | landed / dup / quarantined "
                "| load rows/s (all tables) | peak MB: PSS all / RSS main | DB MB |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in t["runs"]:
            p = r["phases_s"]
            load = p.get("load") or float("nan")
            out.append(f"| {r['size']:,} | {r['wall_s']:.1f} | {r['read'] / r['wall_s']:,.0f} | {p.get('process', 0):.1f} / "
                       f"{p.get('audit', 0):.1f} / {p.get('load', 0):.1f} | {r['landed']:,} / {r['duplicates']:,} / "
                       f"{r['quarantined']:,} | {sum(r['rows'].values()) / load:,.0f} | {r['tree_peak_pss_mb']:,.0f} / "
                       f"{r['main_peak_rss_mb']:,.0f} | {r['db_mb']:,.0f} |")  # fmt: skip
    if "memory" in report:
        m = report["memory"]
        out += ["", "## Memory against the run's size", "",
                f"JSONL records of distinct short texts ({MEMORY_WORDS[0]}-{MEMORY_WORDS[1]} words), ingested into a "
                f"fresh database by `python -m pipeline ingest FILE --db DB --json --workers {m['workers']}` (the "
                "text goes through the worker processes; the main process holds the run's state). Main process: "
                "its own peak resident set (VmHWM) when the stages end and at the end (the load included).", "",
                "| records | wall s | landed / dup / quarantined | main peak RSS MB: stages / whole run "
                "| peak MB: PSS all / RSS sum |", "|---|---|---|---|---|"]  # fmt: skip
        for r in m["runs"]:
            out.append(f"| {r['size']:,} | {r['wall_s']:.1f} | {r['landed']:,} / {r['duplicates']:,} / {r['quarantined']:,} "
                       f"| {r['stages_peak_rss_mb']:,.0f} / {r['main_peak_rss_mb']:,.0f} | {r['tree_peak_pss_mb']:,.0f} / "
                       f"{r['tree_peak_rss_mb']:,.0f} |")  # fmt: skip
    if "dedupe" in report:
        from bench import dedupe as bench

        out += ["", "## Dedupe", "", "```", bench.render(report["dedupe"]).strip(), "```"]
    if "airflow" in report:
        a = report["airflow"]
        out += ["", "## Airflow import cost", "",
                f"Median of {a['repeats']} fresh interpreters: `import airflow.sdk` takes {a['sdk_ms']:.0f} ms; then "
                f"importing {', '.join(a['dag_files'])} takes {a['dags_ms']:.0f} ms more "
                f"({100 * a['dags_over_sdk']:.1f}% of the SDK's own). Heavy modules loaded by the DAG files: "
                f"{', '.join(a['heavy_modules_after_dags']) or 'none'}."]  # fmt: skip
    if "warc" in report:
        out += ["", "## Web archives", "",
                "Gzip per record, as crawlers write them: HTML responses made from the AEB pages (varied as in the "
                "HTML part), then 256 KB image responses of random bytes (skipped: not HTML) to the size. Read alone "
                "is `pipeline.read.warc` over the file in one process; end to end is `run_ingest` with 2 workers into "
                "a fresh database. A quarter of the pages in a quarter of the size, the same pages in the whole size, "
                "then all the pages: the first two peaks show what the file's size costs, the third what pages "
                "cost.", "",
                "| file | MB | records | read alone: s / peak MB | end to end: s / pages per s | landed / dup / "
                "quarantined | peak MB: PSS all / RSS main |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        for w in report["warc"]["runs"]:
            r, i = w["read"], w["ingest"]
            out.append(f"| `{w['file']}` | {w['file_mb']:,.0f} | {r['records']:,} ({r['pages']:,} pages) | "
                       f"{r['wall_s']:.1f} / {r['main_peak_rss_mb']:,.0f} | {i['wall_s']:.1f} / "
                       f"{i['read'] / i['wall_s']:,.1f} | {i['landed']:,} / {i['duplicates']:,} / {i['quarantined']:,} | "
                       f"{i['tree_peak_pss_mb']:,.0f} / {i['main_peak_rss_mb']:,.0f} |")  # fmt: skip
    out += _before_after(report)
    out += [
        "",
        "Reproduce: `make bench` (or `python -m bench.run --help` for one part at a time).",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__.split("\n\n")[0] + " Writes a Markdown report (figures against targets).",
        epilog="Takes about 60 minutes with the cached inputs (the memory part 15, the html part's 5,000 pages 15); building the dedupe history "
        "DB adds ~4 min.",
    )
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    parser.add_argument("--aeb", type=Path, default=ROOT.parent / "shared" / "corpora" / "aeb",
                        help="the AEB corpus folder (ground-truth.json and html/)")  # fmt: skip
    parser.add_argument("--fundus", type=Path, default=ROOT.parent / "shared" / "corpora" / "fundus",
                        help="the fundus corpus folder, for the quality part")  # fmt: skip
    parser.add_argument("--ecbplus", type=Path, default=ROOT.parent / "shared" / "corpora" / "ecbplus",
                        help="the ECB+ corpus folder, for the quality part")  # fmt: skip
    parser.add_argument("--html-docs", default="1000,5000",
                        help="HTML pages for the html part, comma-separated sizes")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of the html part")
    parser.add_argument("--text-sizes", default="10000,100000", help="articles per text run, comma-separated")
    parser.add_argument("--text-workers", type=int, default=2, help="worker processes for the text runs")
    parser.add_argument(
        "--memory-sizes", default="10000,200000", help="JSONL records per memory run, comma-separated"
    )
    parser.add_argument("--airflow-repeats", type=int, default=5, help="fresh interpreters per import timing")
    parser.add_argument(
        "--workdir", type=Path, default=ROOT / "data" / "bench", help="cached inputs live here"
    )
    parser.add_argument("--warc-pages", type=int, default=6000, help="HTML pages in the warc part's archive")
    parser.add_argument("--warc-gb", type=float, default=1.0, help="size on disk of the warc part's archive")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="Markdown report")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures as JSON here")
    parser.add_argument("--before", type=Path, default=BEFORE,
                        help="an earlier run's --json (its quality, steps and html parts) to compare with, if the file "
                        "exists; by default issue 21's starting point, measured by this bench")  # fmt: skip
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)  # internal: one measurement, JSON out
    args = parser.parse_args(argv)

    if args.child:
        part, params = args.child[0], json.loads(args.child[1])
        fn = {
            "plain": measure_plain,
            "ingest": measure_ingest,
            "cli": measure_cli,
            "trafilatura_cli": measure_trafilatura_cli,
            "steps": measure_steps,
            "warc_read": measure_warc_read,
        }[part]
        print(json.dumps(fn(**params)))
        return 0

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--parts takes some of {', '.join(PARTS)}, not {args.parts!r}")
    try:
        args.text_sizes = sorted({int(s) for s in args.text_sizes.split(",") if s.strip()})
        args.memory_sizes = sorted({int(s) for s in args.memory_sizes.split(",") if s.strip()})
        args.html_docs = sorted({int(s) for s in args.html_docs.split(",") if s.strip()})
    except ValueError:
        parser.error("--text-sizes, --memory-sizes and --html-docs take comma-separated numbers")
    if (
        min(args.text_sizes, default=0) <= 0
        or min(args.memory_sizes, default=0) <= 0
        or min(args.html_docs, default=0) <= 0
        or args.rounds <= 0
        or args.text_workers < 0
    ):
        parser.error("sizes, --html-docs and --rounds must be positive")
    if {"steps", "html", "warc"} & set(parts) and not (args.aeb / "ground-truth.json").is_file():
        print(f"error: AEB corpus not found at {args.aeb} (pass --aeb, or AEB=... to make)", file=sys.stderr)
        return 3

    started = time.perf_counter()
    args.workdir.mkdir(parents=True, exist_ok=True)
    report: dict = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
                    "parts": parts, "targets": TARGETS}  # fmt: skip
    runners = {"quality": run_quality, "steps": run_steps, "html": run_html, "text": run_text, "memory": run_memory, "dedupe": run_dedupe,
               "airflow": lambda a: measure_airflow_imports(a.airflow_repeats), "warc": run_warc}  # fmt: skip
    for part in PARTS:
        if part in parts:
            log(f"part {part}")
            report[part] = runners[part](args)
    if args.before and args.before.is_file():
        report["before"] = json.loads(args.before.read_text())
    report["total_s"] = round(time.perf_counter() - started, 1)
    text = render(report)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    log(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
