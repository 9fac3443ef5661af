"""Assembling a run: what it reads (`plan_run`), and the two halves of its stages, written once for every path.

- `front`: read, then in worker processes keep the raw bytes, extract, clean and enrich (and the body's
  MinHash): everything that needs one document only;
- `back`: validate, dedupe and stories: what needs the whole run and the history.

The CLI's one-process run streams `front` into `back` into one staged folder; the Airflow run stages `front` once
per source (a partition) and then the partitions' articles through `back`. Both end in `StagedPart.write`,
which consumes the stream into Parquet parts and writes the part's ledger: one place that builds it.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.clock import utcnow
from pipeline.dedupe.stage import DedupeStage
from pipeline.document.stage import DocumentStage, DocumentSteps
from pipeline.errors import SetupError
from pipeline.models import Article
from pipeline.quality.validate import ValidateStage
from pipeline.read.since import SinceStage
from pipeline.read.sources import ReadStage, documents, expand_sources, source_uri_of
from pipeline.read.sources_file import is_url, read_sources_file
from pipeline.read.unchanged import UnchangedStage
from pipeline.settings import Settings
from pipeline.stage import Item, Ledger
from pipeline.store.history import History
from pipeline.store.staging import (
    FEED_STATE_FILE,
    PARAGRAPHS_FILE,
    ROBOTS_FILE,
    STORIES_FILE,
    StagingWriter,
    Tally,
    staging_storage,
    write_ledger,
    write_manifest,
    write_paragraphs,
)
from pipeline.stories import StoryStage
from pipeline.stories import warm_up as stories_warm_up

log = logging.getLogger(__name__)
VALIDATION_FILE = "validation.json"  # the chunks' GX results, kept when a Data Docs report is asked for


def new_run_id() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


@dataclass
class Plan:
    """What a run will read: file paths and URLs in order, files skipped for their type, names of sources."""

    sources: list[str]
    inputs: list[str]
    ignored: list[Path]
    names: dict[str, str] = field(default_factory=dict)  # URL -> name, from a sources file
    groups: list[list[str]] | None = None  # the inputs of each source in turn (for a per-source item cap)
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)  # input -> why it is not read

    def meta(self) -> dict:
        """What a run's ledger says of its inputs besides the stage counts."""
        return {
            "sources": self.sources,
            "ignored_files": len(self.ignored),
            "ignored_examples": [str(p) for p in self.ignored[:3]],
        }


def plan_run(
    sources: list[str],
    settings: Settings,
    sources_file: Path | None = None,
    refused: dict[str, tuple[str, str]] | None = None,
    writable: bool = True,
) -> Plan:
    """Check the setup a run needs and list its inputs; raise `SetupError` with a fix otherwise.

    `sources_file` adds the sources it lists (see `pipeline.read.sources_file.read_sources_file`) after `sources`.
    `refused` names sources that are inputs but not read: each is quarantined with its (reason, detail).
    """
    refused = {source_uri_of(k): why for k, why in (refused or {}).items()}
    sources = [str(s) for s in sources]
    names: dict[str, str] = {}
    if sources_file is not None:
        for spec in read_sources_file(sources_file):
            sources.append(spec.location)
            if spec.name:
                names[spec.location] = spec.name
    if not sources:
        raise SetupError("no sources given; pass files, folders or URLs to ingest, or a sources file")
    if not settings.suite_path.is_file():
        raise SetupError(
            f"expectation suite {settings.suite_path} not found; restore expectations/ or set PIPELINE_SUITE_PATH"
        )
    if writable:  # (not for an extract task on a worker that stages in a scratch folder and uploads)
        check_writable(settings)
    groups, ignored, seen = [], [], set()
    for source in sources:
        uri = None if is_url(source) else source_uri_of(source)
        found, skipped = ([uri], []) if uri in refused else expand_sources([source])
        groups.append([i for i in found if i not in seen])  # an input two sources name is read once
        seen.update(found)
        ignored += skipped
    return Plan(sources, [i for group in groups for i in group], ignored, names, groups, refused)


def check_writable(settings: Settings) -> None:
    """The run needs the database's folder and its staging folder (beside the database unless
    PIPELINE_STAGING_DIR says otherwise): refuse to start when either cannot be created or written, rather
    than fail in the middle of the run."""
    fix = (
        "pass a database in a folder this user can write (--db, or the trigger form's Database), or set "
        "PIPELINE_STAGING_DIR"
    )
    for folder, what in (
        (settings.db_path.parent, "database folder"),
        (settings.staging_root, "staging folder"),
    ):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SetupError(f"cannot create the {what} {folder}: {exc.strerror or exc}; {fix}") from exc
        probe = folder / f".write-check-{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise SetupError(f"cannot write the {what} {folder}: {exc.strerror or exc}; {fix}") from exc


def web_reader(
    plan: Plan,
    settings: Settings,
    history: History | None,
    ledger: Ledger,
    resources: ExitStack,
    since: datetime | None = None,
):
    """A fetcher for the plan's URLs (None when it has none), closed with `resources`; sitemap URLs dated
    before `since` are not fetched."""
    if not any(is_url(location) for location in plan.inputs):
        return None
    from pipeline.read.fetch import Fetcher
    from pipeline.read.web import WebReader, fetch_policy

    robots = history.fresh_robots() if history is not None else {}
    if history is not None:  # the reader runs in the document feeder's thread: its own connection
        history = resources.enter_context(history.for_thread())
    return WebReader(
        resources.enter_context(Fetcher(fetch_policy(settings), robots=robots)),
        history,
        ledger_add=lambda counter, n=1: ledger.add("read", counter, n),
        names=plan.names,
        in_flight=settings.fetch_in_flight,
        max_feed_bytes=settings.max_feed_bytes,
        max_sitemap_urls=settings.max_sitemap_urls,
        max_sitemap_depth=settings.max_sitemap_depth,
        max_sitemaps=settings.max_sitemaps,
        since=since,
    )


def front(
    inputs: list[str] | list[list[str]],
    settings: Settings,
    run_id: str,
    ledger: Ledger,
    writer: StagingWriter,
    started_at: datetime,
    *,
    web=None,
    stored: Iterable[Article] | None = None,
    since: datetime | None = None,
    max_items: int | None = None,
    refused: dict[str, tuple[str, str]] | None = None,
    landed: History | None = None,
) -> Iterator[Item]:
    """The stages up to enrich: read, then in worker processes keep raw bytes, extract, clean and enrich.

    The workers start at once. `inputs` are the plan's inputs, or its inputs per source (`Plan.groups`).
    With `stored` (reprocess), documents as reading made them come from raw_documents instead, and are not
    retained again. `max_items` stops reading each source after that many documents (the rest are not read,
    so not counted); `since` skips articles published before it. With `landed` (the history, on a connection
    the document feeder's thread may use), an input read again with the bytes it landed from is skipped before
    extraction (`pipeline.read.unchanged`).
    """
    steps: tuple[str, ...] = ("extract", "clean", "enrich")
    if stored is None:
        read = ReadStage(ledger, settings.max_input_bytes, settings.max_file_bytes, web, refused)
        groups = inputs if inputs and isinstance(inputs[0], list) else [inputs]
        per_source = (read.run(documents(group)) for group in groups)
        if max_items is not None:
            per_source = (itertools.islice(items, max_items) for items in per_source)
        stream: Iterable[Item] = itertools.chain.from_iterable(per_source)
        stream = UnchangedStage(ledger, landed).run(stream)
        steps = ("retain", *steps)
    else:
        stream = stored
    minhash = (settings.shingle_size, settings.minhash_perms, settings.lsh_bands)
    spec = DocumentSteps(steps, run_id, ingested_at=utcnow(), fetched_at=started_at, minhash=minhash)
    out = DocumentStage(
        ledger,
        spec,
        worker_count(settings.extract_workers),
        settings.extract_timeout_s,
        settings.extract_memory_mb,
        writer=writer,
        ahead=2 * settings.validate_chunk,  # the workers go on while validation waits for a whole chunk
    ).run(stream)
    return SinceStage(ledger, since).run(out) if since is not None else out


def worker_count(asked: int) -> int:
    """Extraction processes to start: as asked, but no more than the machine has CPUs (more only contend for
    them and take memory); 0 stays 0 (in this process)."""
    cpus = os.cpu_count() or 1
    if asked > cpus:
        log.warning("%d extraction workers asked, %d started: the machine has %d CPUs", asked, cpus, cpus)
        return cpus
    return asked


def back(
    stream: Iterable[Item], settings: Settings, history: History | None, ledger: Ledger
) -> tuple[Iterator[Item], Callable[[Path], None]]:
    """Validate, dedupe, stories; and a function that stages what they learnt once the stream is consumed."""
    for stage in (
        validate := ValidateStage(
            ledger, settings
        ),  # before dedupe: a copy of a rejected input is judged alone
        dedupe := DedupeStage(ledger, settings, history),
        stories := StoryStage(ledger, history, utcnow()),
    ):
        stream = stage.run(stream)
    # after the stages' own imports (numpy, duckdb): GX's import then runs alone, and the stories' after it
    validate.warm_up(then=stories_warm_up)

    def finish(folder: Path) -> None:
        with (folder / STORIES_FILE).open("w") as f:
            f.writelines(json.dumps(row) + "\n" for row in stories.rows())
        write_paragraphs(folder / PARAGRAPHS_FILE, dedupe.templates.counts)
        if validate.results is not None:
            (folder / VALIDATION_FILE).write_text(json.dumps(validate.results, default=str))

    return stream, finish


def close(stream: Iterable) -> None:
    """Stop what an unfinished stream still runs (the document workers); nothing for a finished one."""
    closer = getattr(stream, "close", None)
    if closer is not None:
        closer()


class StagedPart:
    """One staged folder of a run (the whole run, or one partition): its writer, then its ledger.

    Create it before the stages (the document stage hands its raw rows to `writer`), then `write` the stream.
    """

    def __init__(self, folder: Path, run_id: str):
        self.folder, self.run_id = folder, run_id
        self.started_at = utcnow()
        self.writer = StagingWriter(folder, run_id)

    def write(
        self,
        stream: Iterable[Item],
        ledger: Ledger,
        meta: dict,
        *,
        web=None,
        finish: Callable[[Path], None] | None = None,
        carry: Callable[[Tally], None] | None = None,
        started_at: str | None = None,
        progress: Callable[[int], None] | None = None,
        closing: Iterable | None = None,
    ) -> Tally:
        """Consume `stream` into Parquet parts, stage what the run learnt, and write the part's ledger.

        `finish(folder)` stages what the back stages learnt; `carry(tally)` adds what other parts staged (a
        merge of partitions); `closing` is the stream to stop if consuming fails (the document workers).
        """
        try:
            tally = self.writer.consume(stream, progress)  # its own writes raise StorageError
        finally:
            close(closing if closing is not None else stream)
        with staging_storage(self.folder):
            if web is not None:
                stage_fetch_state(self.folder, web)
            if finish is not None:
                finish(self.folder)
            if carry is not None:
                carry(tally)
        if not tally.balanced():  # a bug in a stage, never bad input: fail loudly rather than lose an input
            raise RuntimeError(f"run {self.run_id} lost inputs: {tally}")
        with staging_storage(self.folder):
            write_ledger(
                self.folder,
                {
                    **meta,
                    "run_id": self.run_id,
                    "started_at": started_at or self.started_at.isoformat(),
                    "tally": asdict(tally),
                    "counts": ledger.by_stage(),
                },
            )
            write_manifest(self.folder)  # last: a folder with a manifest is whole
        return tally


def stage_fetch_state(folder: Path, web) -> None:
    """What fetching learnt, for the load step to keep: feed states and robots.txt answers."""
    if web.feed_states:
        (folder / FEED_STATE_FILE).write_text(json.dumps(web.feed_states, default=str))
    if web.fetcher.robots_fetched:
        now = utcnow().isoformat()
        robots = {o: {"robots_txt": t, "fetched_at": now} for o, t in web.fetcher.robots_fetched.items()}
        (folder / ROBOTS_FILE).write_text(json.dumps(robots))
