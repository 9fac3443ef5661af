"""Streaming: micro-batches from an inbox folder (and feeds that are due), for the `article_stream` DAG.

`micro_batch` waits a little for work, ingests what it found as one run, and only then moves each inbox file
aside: into `done/<day>/` once the run is published (every input landed, recorded as a duplicate, or
quarantined), or `held/<run_id>/` when the run failed its audit and waits in staging for `release`. A file
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

DONE, HELD = "done", "held"


def inbox_files(inbox: Path, settle_s: float, limit: int) -> list[Path]:
    """Files ready in the inbox, oldest first: supported types, not hidden, unchanged for `settle_s`."""
    if not inbox.is_dir():
        return []
    now = time.time()
    ready = []
    for path in inbox.iterdir():
        if path.name.startswith(".") or not path.is_file() or not readable(path):
            continue
        try:
            mtime = path.stat().st_mtime
        except OSError:  # moved away meanwhile
            continue
        if now - mtime >= settle_s:
            ready.append((mtime, path.name, path))
    return [p for _, _, p in sorted(ready)[:limit]]


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
    """One micro-batch: wait up to `wait_s` for inbox files or due feeds, ingest them as one run, move files aside.

    Small batches are audited on what they kept only from `audit_min_read` inputs on: one broken file
    dropped alone is quarantined and published, not held.
    """
    from pipeline.run.runner import run_ingest

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
    summary = run_ingest([str(f) for f in files] + urls, replace(settings, audit_require_kept=False), trigger)
    if summary.status == "audit_failed":
        target = inbox / HELD / summary.run_id
    else:
        target = inbox / DONE / summary.started_at[:10]
    target.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.move(
            str(f),
            target / f.name
            if not (target / f.name).exists()
            else target / f"{f.stem}-{summary.run_id}{f.suffix}",
        )
    log.info(
        "micro-batch %s: %d file(s), %d feed(s): %s", summary.run_id, len(files), len(urls), summary.status
    )
    return {
        "status": summary.status,
        "run_id": summary.run_id,
        "files": len(files),
        "feeds": len(urls),
        "moved_to": str(target),
        **{k: getattr(summary, k) for k in ("read", "landed", "duplicates", "quarantined", "skipped")},
    }
