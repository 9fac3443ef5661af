"""The run's hand-off files: the stream's end writes Parquet parts under `<staging>/<run_id>/`; load reads them.

Parallel or retried tasks hand each other these files (small references travel through XCom), so only the
load step ever opens the database for writing. This module names every file of a staged run and the columns
of each kind of part; the articles' columns derive from `pipeline.models.Article`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from pipeline.clock import utcnow
from pipeline.errors import SetupError, StorageError, storage_cause
from pipeline.models import (
    DUPLICATE_COLUMNS,
    QUARANTINE_COLUMNS,
    RAW_COLUMNS,
    STAGED_COLUMNS,
    Article,
    Duplicate,
    Quarantined,
    Skipped,
    staged_row,
)
from pipeline.stage import Item

log = logging.getLogger(__name__)
PART_ROWS = 2000
# A raw part is also cut at this much compressed content: 2,000 pages of a web archive were 230 MB in one Parquet
# row group, and the load, reading it whole, ran out of DuckDB's memory limit.
RAW_PART_BYTES = 16 << 20
PROGRESS_EVERY = 50
LEDGER_FILE = "ledger.json"  # the run's tally, stage counts and what it read
MANIFEST_FILE = "manifest.json"  # every file above with its size, checksum and rows: written last
AFTER_MANIFEST = ("audit.json",)  # what the audit adds to a staged run: read by nobody that publishes
FEED_STATE_FILE = "feeds.json"  # the feed states it leaves
ROBOTS_FILE = "robots.json"  # the robots.txt answers it got
STORIES_FILE = "stories.jsonl"  # the stories it started or extended
PARAGRAPHS_FILE = "host_paragraphs.parquet"  # the paragraphs each site's articles carried
# Parquet parts: <kind>-<n>.parquet. "rehashed": landed rows read again from other bytes with the same text.
PART_KINDS = ("articles", "duplicates", "quarantine", "raw", "rehashed")
REHASHED_COLUMNS = {"article_id": "VARCHAR", "source_uri": "VARCHAR", "input_sha256": "VARCHAR"}

COLUMNS: dict[str, dict[str, str]] = {
    "articles": STAGED_COLUMNS,
    "duplicates": DUPLICATE_COLUMNS,
    "quarantine": QUARANTINE_COLUMNS,
    "raw": RAW_COLUMNS,
    "rehashed": REHASHED_COLUMNS,
}


@dataclass
class Tally:
    """Where every input of a run ended: read = landed + duplicates + quarantined + skipped."""

    read: int = 0
    landed: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def balanced(self) -> bool:
        return self.read == self.landed + self.duplicates + self.quarantined + self.skipped


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def duplicate_row(d: Duplicate, run_id: str) -> dict:
    row = asdict(d)
    row.update(duplicate_id=_key(d.source_uri), run_id=run_id, detected_at=utcnow())
    return row


def quarantine_row(q: Quarantined, run_id: str) -> dict:
    return {
        "quarantine_id": _key(run_id, q.source_uri, q.stage),
        "run_id": run_id,
        "stage": q.stage,
        "reason": "; ".join(q.reasons),
        "reasons": list(q.reasons),
        "detail": q.detail,
        "source_uri": q.source_uri,
        "payload": json.dumps(q.payload, ensure_ascii=False, default=str),
        "quarantined_at": utcnow(),
    }


class StagingWriter:
    """The stream's sink: routes each item to its table's Parquet parts and tallies where inputs ended."""

    def __init__(self, folder: Path, run_id: str, part_rows: int = PART_ROWS):
        self.folder = folder
        self.run_id = run_id
        self.part_rows = part_rows
        self.tally = Tally()
        self._buffers: dict[str, list[dict]] = {kind: [] for kind in PART_KINDS}
        self._parts: dict[str, int] = dict.fromkeys(self._buffers, 0)
        self._raw_bytes = 0  # compressed content in the raw buffer
        self._con = duckdb.connect()

    def consume(self, items: Iterable[Item], progress: Callable[[int], None] | None = None) -> Tally:
        with self._storage():
            if self.folder.exists():  # a retried task starts its partition afresh
                shutil.rmtree(self.folder)
            self.folder.mkdir(parents=True)
        reasons: dict[str, int] = {}
        for item in items:
            self.tally.read += 1
            if progress is not None and self.tally.read % PROGRESS_EVERY == 0:
                progress(self.tally.read)
            if isinstance(item, Article):
                self.tally.landed += 1
                self._add("articles", staged_row(item))
            elif isinstance(item, Duplicate):
                log.info(
                    "%s: a %s duplicate of %s (%.3f)",
                    item.source_uri,
                    item.method,
                    item.duplicate_of,
                    item.similarity,
                )
                self.tally.duplicates += 1
                self._add("duplicates", duplicate_row(item, self.run_id))
            elif isinstance(item, Quarantined):
                log.info(
                    "%s: quarantined at %s: %s (%s)",
                    item.source_uri,
                    item.stage,
                    "; ".join(item.reasons),
                    item.detail,
                )
                self.tally.quarantined += 1
                for reason in item.reasons:
                    reasons[reason] = reasons.get(reason, 0) + 1
                self._add("quarantine", quarantine_row(item, self.run_id))
            elif isinstance(item, Skipped):
                log.debug("%s: skipped, unchanged since it landed", item.source_uri)
                self.tally.skipped += 1
                if item.input_sha256:
                    row = {
                        "article_id": item.article_id,
                        "source_uri": item.source_uri,
                        "input_sha256": item.input_sha256,
                    }
                    self._add("rehashed", row)
        for kind in self._buffers:
            self._flush(kind)
        self.tally.quarantine_reasons = dict(sorted(reasons.items()))
        self._con.close()
        return self.tally

    def add_raw(self, row: dict) -> None:
        """A document's raw bytes, from `RetainStage` (they land in raw_documents)."""
        self._raw_bytes += len(row["content"])
        self._add("raw", row)
        if self._raw_bytes >= RAW_PART_BYTES:
            self._flush("raw")

    def _add(self, kind: str, row: dict) -> None:
        self._buffers[kind].append(row)
        if len(self._buffers[kind]) >= self.part_rows:
            self._flush(kind)

    def _storage(self):
        return staging_storage(self.folder)

    def _flush(self, kind: str) -> None:
        with self._storage():
            self._write_part(kind)

    def _write_part(self, kind: str) -> None:
        rows = self._buffers[kind]
        if not rows:
            return
        import pandas as pd

        columns = COLUMNS[kind]
        self._con.register("frame", pd.DataFrame(rows, columns=list(columns)))
        select = ", ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in columns.items())
        path = self.folder / f"{kind}-{self._parts[kind]:05d}.parquet"
        self._con.execute(f"COPY (SELECT {select} FROM frame) TO '{path}' (FORMAT parquet)")
        self._con.unregister("frame")
        self._parts[kind] += 1
        rows.clear()
        if kind == "raw":
            self._raw_bytes = 0


@contextlib.contextmanager
def staging_storage(folder: Path) -> Iterator[None]:
    """A write to a run's staging that the storage stops (disk full, the folder removed) ends the run with one
    line, not a trace."""
    try:
        yield
    except (OSError, duckdb.IOException) as exc:
        cause = storage_cause(exc)
        if cause is None:
            raise
        raise StorageError(
            f"writing the run's staging in {folder} failed: {cause}; nothing was published",
            "fix that, then run again",
        ) from exc


def write_ledger(folder: Path, data: dict) -> None:
    (folder / LEDGER_FILE).write_text(json.dumps(data, indent=2, default=str))


# Which kind of row each part holds, and the ledger's count it must add up to.
_TALLIED = {"articles": "landed", "duplicates": "duplicates", "quarantine": "quarantined"}


def write_manifest(folder: Path) -> dict:
    """List every file of a staged folder (its ledger included) with its bytes, sha256 and, for a Parquet part,
    its rows; written last, so a folder with a manifest is complete. Publish and release check it
    (`verify_manifest`) before they write anything: a part lost or changed on the way (shared or object
    storage, a hand edit) refuses the publish instead of landing part of the run as whole."""
    files = {}
    with duckdb.connect() as con:
        for path in sorted(folder.iterdir()):
            if path.name == MANIFEST_FILE or not path.is_file():
                continue
            entry = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
            if path.suffix == ".parquet":
                entry["rows"] = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()[0]
            files[path.name] = entry
    manifest = {"version": 1, "files": files}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    return manifest


class StagedRunBroken(SetupError):
    """A staged folder does not hold what its manifest lists (`problems`, one sentence each): nothing of it may
    be published."""

    def __init__(self, folder: Path, problems: list[str]):
        self.folder, self.problems = folder, problems
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        super().__init__(
            f"staged run {folder} is not as it was staged, so nothing was published: {shown}. "
            "Ingest its sources again to stage it anew"
        )


@dataclass
class Manifest:
    folder: Path
    files: dict[str, dict]

    def parts(self, kind: str) -> list[Path]:
        """The Parquet parts of one kind (articles, duplicates, quarantine, raw), in order."""
        return [
            self.folder / name
            for name in sorted(self.files)
            if name.startswith(f"{kind}-") and name.endswith(".parquet")
        ]

    def has(self, name: str) -> bool:
        return name in self.files


def verify_manifest(folder: Path) -> Manifest:
    """The folder's manifest once every file it lists is there, whole and unchanged, no part is there that it
    does not list, and its Parquet rows add up to the ledger's tally; else `StagedRunBroken` saying what is not."""
    path = folder / MANIFEST_FILE
    if not path.is_file():
        raise StagedRunBroken(folder, [f"no {MANIFEST_FILE}: the run was not completely staged"])
    files = json.loads(path.read_text())["files"]
    problems = []
    for name, entry in files.items():
        file = folder / name
        if not file.is_file():
            problems.append(f"{name} is missing")
        elif file.stat().st_size != entry["bytes"] or _sha256(file) != entry["sha256"]:
            problems.append(f"{name} was changed ({file.stat().st_size} bytes, staged {entry['bytes']})")
    listed = {*files, MANIFEST_FILE, *AFTER_MANIFEST}
    for file in sorted(folder.iterdir()):
        if file.name not in listed:
            problems.append(f"{file.name} is not part of the staged run")
    if LEDGER_FILE in files and not problems:
        tally = read_ledger(folder)["tally"]
        for kind, counter in _TALLIED.items():
            rows = sum(
                e.get("rows", 0)
                for n, e in files.items()
                if n.startswith(f"{kind}-") and n.endswith(".parquet")
            )
            if rows != tally[counter]:
                problems.append(f"{rows} {kind} rows staged, the ledger says {tally[counter]} {counter}")
    if problems:
        raise StagedRunBroken(folder, problems)
    return Manifest(folder, files)


STALE_AFTER_S = 6 * 3600  # an unfinished staging folder untouched this long is debris (a run killed outright)


def sweep_debris(root: Path, stale_after_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove what killed runs left in the staging root: folders without a manifest (never staged whole) that
    nothing has written to for `stale_after_s`, and empty ones. A run still going writes to its folder, and a
    whole run held for `release` has its manifest, so neither is touched. Returns what was removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    now = time.time()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if (folder / MANIFEST_FILE).is_file():
            continue
        try:
            newest = max((p.stat().st_mtime for p in (folder, *folder.rglob("*"))), default=0.0)
        except OSError:
            continue  # changing under us: someone is at work in it
        if now - newest >= stale_after_s:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    for folder in removed:
        log.info("removed staging debris %s (unfinished, untouched for %.0f h)", folder, stale_after_s / 3600)
    return removed


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_ledger(folder: Path) -> dict:
    return json.loads((folder / LEDGER_FILE).read_text())


def write_paragraphs(path: Path, counts: Mapping[str, Mapping[int, int]]) -> None:
    """The paragraph counts of a run (host -> paragraph key -> articles), as Parquet for the load step."""
    if not any(counts.values()):
        return
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {
            "host": [host for host, keys in counts.items() for _ in range(len(keys))],
            "paragraph_key": np.fromiter((k for keys in counts.values() for k in keys), dtype=np.int64),
            "articles": np.fromiter((n for keys in counts.values() for n in keys.values()), dtype=np.int32),
        }
    )
    with duckdb.connect() as con:
        con.register("paragraphs", frame)
        con.execute(f"COPY paragraphs TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")
