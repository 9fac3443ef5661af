"""Streaming: micro-batches from an inbox folder (and feeds that are due), for the `article_stream` DAG.

`micro_batch` waits a little for work, ingests the inbox's files as one run, and only then moves each file
aside (the due feeds follow as a run of their own, so a slow feed never delays the files): into `done/<day>/`
once the run is published (every input landed, recorded as a duplicate, or quarantined), or `held/<run_id>/` when the run failed its audit and waits in staging for `release`. What cannot
be read (a type we have no reader for, a folder, a FIFO) is quarantined with its reason like any bad input and
moved to `rejected/<day>/`: nothing sits in the inbox unrecorded. A file
still being written (changed in the last `settle_s` seconds) waits for the next batch.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from pipeline.read.sources import readable
from pipeline.settings import Settings

log = logging.getLogger(__name__)

DONE, HELD, REJECTED = "done", "held", "rejected"


def inbox_files(inbox: Path, settle_s: float, limit: int) -> list[Path]:
    """Entries ready in the inbox, oldest first: not hidden, unchanged for `settle_s`; of any type (what cannot
    be read is quarantined with its reason, never left to sit there), but the inbox's own folders."""
    if not inbox.is_dir():
        return []
    now = time.time()
    ready = []
    for path in inbox.iterdir():
        if path.name.startswith(".") or (path.name in (DONE, HELD, REJECTED) and path.is_dir()):
            continue
        try:
            mtime = path.lstat().st_mtime
        except OSError:  # moved away meanwhile
            continue
        if now - mtime >= settle_s:
            ready.append((mtime, path.name, path))
    return [p for _, _, p in sorted(ready)[:limit]]


def unreadable(path: Path) -> tuple[str, str] | None:
    """Why an inbox entry is not read, as a quarantine reason and detail; None for a file of a type we read."""
    if path.is_dir():
        return "unsupported_type", "a folder in the inbox: drop its files into the inbox itself; not read"
    if not readable(path):
        return None  # named explicitly, the read stage quarantines it: unsupported_type, with its extension
    return None


def due_feeds(feeds: list[str], settings: Settings, every: timedelta) -> list[str]:
    """The configured feed URLs whose last fetch is older than `every` (or never happened)."""
    if not feeds:
        return []
    from pipeline.clock import utcnow
    from pipeline.store import Store

    store = Store.for_reading(settings.db_path, settings.lock_timeout_s)
    if store is None:
        return list(feeds)
    with store:
        due = []
        for url in feeds:
            state = store.history.feed_state(url)
            last = state.get("last_fetch_at") if state else None
            if last is None or utcnow() - last >= every:
                due.append(url)
        return due


def micro_batch(
    inbox: Path,
    settings: Settings,
    feeds: list[str] | None = None,
    feed_every: timedelta = timedelta(minutes=15),
    wait_s: float = 30.0,
    poll_s: float = 1.0,
    settle_s: float = 1.0,
    max_files: int = 500,
    trigger: str = "stream",
) -> dict:
    """One micro-batch: wait up to `wait_s` for inbox files or due feeds; ingest the files as one run and move
    them aside, then the feeds as another (so a slow feed never delays the files). `run_id` is the first run's,
    `run_ids` both, the counts their sums; `published` the articles the published runs landed.

    Small batches are audited on what they kept only from `audit_min_read` inputs on: one broken file
    dropped alone is quarantined and published, not held.
    """

    inbox.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    while True:
        files = inbox_files(inbox, settle_s, max_files)
        urls = due_feeds(list(feeds or []), settings, feed_every)
        if files or urls or time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    if not files and not urls:
        return {"status": "idle", "files": 0, "feeds": 0}
    # The inbox's files first, as a run of their own: a slow feed (up to its fetch budget) never holds them back.
    results = [_files_run(inbox, files, settings, trigger)] if files else []
    if urls:
        results.append(_feeds_run(urls, settings, trigger))
    out = {
        "status": next((r["status"] for r in results if r["status"] != "success"), "success"),
        "run_id": results[0]["run_id"],
        "run_ids": [r["run_id"] for r in results],
        "files": len(files),
        "feeds": len(urls),
        **{k: sum(r[k] for r in results) for k in COUNTS},
        # articles landed by the runs that were published (a run held by its audit landed nothing yet)
        "published": sum(r["landed"] for r in results if r["status"] == "success"),
    }
    if files:
        out["moved_to"] = results[0]["moved_to"]
    return out


COUNTS = ("read", "landed", "duplicates", "quarantined", "skipped")


def _counts(summary) -> dict:
    return {k: getattr(summary, k) for k in COUNTS}


def _feeds_run(urls: list[str], settings: Settings, trigger: str) -> dict:
    """The due feeds as one run."""
    from pipeline.run.runner import run_ingest

    summary = run_ingest(urls, replace(settings, audit_require_kept=False), trigger)
    log.info("micro-batch %s: %d feed(s): %s", summary.run_id, len(urls), summary.status)
    return {"status": summary.status, "run_id": summary.run_id, **_counts(summary)}


def _files_run(inbox: Path, files: list[Path], settings: Settings, trigger: str) -> dict:
    """The inbox's ready files as one run, then each moved aside (done, held or rejected)."""
    from pipeline.run.runner import run_ingest

    refused = {str(f): why for f in files if (why := unreadable(f)) is not None}
    summary = run_ingest(
        [str(f) for f in files], replace(settings, audit_require_kept=False), trigger, refused=refused
    )
    day = summary.started_at[:10]
    held = summary.status == "audit_failed"
    target = inbox / HELD / summary.run_id if held else inbox / DONE / day
    for f in files:
        never_read = str(f) in refused or not (f.is_file() and readable(f))
        place = target if held or not never_read else inbox / REJECTED / day
        place.mkdir(parents=True, exist_ok=True)
        name = f.name if not (place / f.name).exists() else f"{f.stem}-{summary.run_id}{f.suffix}"
        shutil.move(str(f), place / name)
        if never_read:
            log.info("inbox: %s was not read (see its quarantine row); moved to %s", f.name, place)
    log.info("micro-batch %s: %d file(s): %s", summary.run_id, len(files), summary.status)
    return {"status": summary.status, "run_id": summary.run_id, "moved_to": str(target), **_counts(summary)}
