"""Partitioned runs (the Airflow DAG): one mapped task per source stages the front of the run (read, extract,
clean, enrich) into a partition of its own; one task then takes every partition's articles, in source order,
through the back (validate, dedupe, stories) into the run's staging folder, which audit and load handle as a
one-process run's. Both halves are the stages of `pipeline.run.assemble`, so a partitioned run lands exactly
what the CLI's one-process run lands (`tests/run/test_partitions.py`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

from pipeline.clock import utcnow
from pipeline.models import Article, article_from_row
from pipeline.run.assemble import StagedPart, back, front, plan_run, web_reader
from pipeline.run.runner import PARTS_SUFFIX
from pipeline.settings import Settings
from pipeline.stage import Ledger
from pipeline.store.history import History
from pipeline.store.staging import FEED_STATE_FILE, ROBOTS_FILE, Tally, read_ledger, verify_manifest

PART_BATCH_ROWS = 500  # staged articles read back at a time


def partitions_root(settings: Settings, run_id: str) -> Path:
    return settings.run_folder(run_id, PARTS_SUFFIX)


def process_partition(
    source: str,
    index: int,
    settings: Settings,
    run_id: str,
    history: History | None,
    names: dict | None = None,
    since: datetime | None = None,
    max_items: int | None = None,
) -> dict:
    """Read, keep raw, extract, clean and enrich one source; stage its articles before dedupe. Small counts out.

    `max_items` stops reading the source after that many documents (the rest are not read, so not counted);
    `since` skips articles published before it. Rerunning it (a retried task) rewrites the partition.
    """
    plan = plan_run([source], settings, writable=settings.staging_url is None)
    plan.names = dict(names or {})
    ledger = Ledger()
    part = StagedPart(partitions_root(settings, run_id) / f"{index:04d}", run_id)
    with ExitStack() as resources:
        web = web_reader(plan, settings, history, ledger, resources, since=since)
        documents = front(
            plan.inputs,
            settings,
            run_id,
            ledger,
            part.writer,
            part.started_at,
            web=web,
            since=since,
            max_items=max_items,
            landed=resources.enter_context(history.for_thread()) if history is not None else None,
        )
        tally = part.write(documents, ledger, plan.meta(), web=web)
    return {
        "index": index,
        "source": source,
        "folder": str(part.folder),
        "read": tally.read,
        "articles": tally.landed,
        "quarantined": tally.quarantined,
        "skipped": tally.skipped,
    }


def merge_partitions(
    folders: list[Path], settings: Settings, run_id: str, history: History | None, sources: list[str]
) -> Path:
    """The partitions' articles, in order, through validate, dedupe and stories, into the run's staging folder.

    Their quarantine rows, raw documents and fetch state are carried over as they are; the tally adds up.
    """
    folders = sorted(Path(f) for f in folders)
    for folder in folders:  # each partition whole, as its task staged it, before any of it is read
        verify_manifest(folder)
    ledgers = [read_ledger(f) for f in folders]
    ledger = Ledger()
    for meta in ledgers:
        ledger.merge(meta["counts"])
    part = StagedPart(settings.run_folder(run_id), run_id)
    stream, finish = back(staged_articles(folders), settings, history, ledger)

    def carry(tally: Tally) -> None:
        """Add what the partitions decided before the back stages: their outcomes, raw rows, fetch state."""
        reasons = dict(tally.quarantine_reasons)
        feeds, robots = [], {}
        for i, (folder, meta) in enumerate(zip(folders, ledgers, strict=True)):
            t = meta["tally"]
            tally.read += t["read"] - t["landed"]  # its articles were read again from the partition just now
            tally.quarantined += t["quarantined"]
            tally.skipped += t["skipped"]
            for reason, n in t["quarantine_reasons"].items():
                reasons[reason] = reasons.get(reason, 0) + n
            for kind in ("quarantine", "raw", "rehashed"):
                for f in sorted(folder.glob(f"{kind}-*.parquet")):
                    shutil.copyfile(f, part.folder / f"{kind}-p{i:04d}-{f.name.split('-', 1)[1]}")
            if (folder / FEED_STATE_FILE).is_file():
                feeds += json.loads((folder / FEED_STATE_FILE).read_text())
            if (folder / ROBOTS_FILE).is_file():
                robots.update(json.loads((folder / ROBOTS_FILE).read_text()))
        tally.quarantine_reasons = dict(sorted(reasons.items()))
        if feeds:
            (part.folder / FEED_STATE_FILE).write_text(json.dumps(feeds))
        if robots:
            (part.folder / ROBOTS_FILE).write_text(json.dumps(robots))

    meta = {
        "sources": sources,
        "ignored_files": sum(m.get("ignored_files", 0) for m in ledgers),
        "ignored_examples": [e for m in ledgers for e in m.get("ignored_examples", [])][:3],
    }
    part.write(
        stream,
        ledger,
        meta,
        finish=finish,
        carry=carry,
        started_at=min((m["started_at"] for m in ledgers), default=utcnow().isoformat()),
    )
    return part.folder


def staged_articles(folders: list[Path]) -> Iterator[Article]:
    """Enriched articles back from partitions' Parquet files, in partition and part order, with every staged
    field (the body's MinHash included, so dedupe does not compute it again)."""
    import duckdb

    con = duckdb.connect()
    try:
        for folder in folders:
            for f in sorted(folder.glob("articles-*.parquet")):
                rel = con.execute("SELECT * FROM read_parquet(?)", [str(f)])
                names = [d[0] for d in rel.description]
                while rows := rel.fetchmany(PART_BATCH_ROWS):
                    for values in rows:
                        yield article_from_row(dict(zip(names, values, strict=True)))
    finally:
        con.close()
