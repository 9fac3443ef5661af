"""The run's hand-off files: the stream's end writes Parquet parts under `<staging>/<run_id>/`; load reads them.

Parallel or retried tasks hand each other these files (small references travel through XCom), so only the
load step ever opens the database for writing. This module names every file of a staged run and the columns
of each kind of part; the articles' columns derive from `pipeline.models.Article`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from pipeline.clock import utcnow
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

PART_ROWS = 2000
PROGRESS_EVERY = 50
LEDGER_FILE = "ledger.json"  # the run's tally, stage counts and what it read
FEED_STATE_FILE = "feeds.json"  # the feed states it leaves
ROBOTS_FILE = "robots.json"  # the robots.txt answers it got
STORIES_FILE = "stories.jsonl"  # the stories it started or extended
PARAGRAPHS_FILE = "host_paragraphs.parquet"  # the paragraphs each site's articles carried
PART_KINDS = ("articles", "duplicates", "quarantine", "raw")  # Parquet parts: <kind>-<n>.parquet

COLUMNS: dict[str, dict[str, str]] = {
    "articles": STAGED_COLUMNS,
    "duplicates": DUPLICATE_COLUMNS,
    "quarantine": QUARANTINE_COLUMNS,
    "raw": RAW_COLUMNS,
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
        self._con = duckdb.connect()

    def consume(self, items: Iterable[Item], progress: Callable[[int], None] | None = None) -> Tally:
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
                self.tally.duplicates += 1
                self._add("duplicates", duplicate_row(item, self.run_id))
            elif isinstance(item, Quarantined):
                self.tally.quarantined += 1
                for reason in item.reasons:
                    reasons[reason] = reasons.get(reason, 0) + 1
                self._add("quarantine", quarantine_row(item, self.run_id))
            elif isinstance(item, Skipped):
                self.tally.skipped += 1
        for kind in self._buffers:
            self._flush(kind)
        self.tally.quarantine_reasons = dict(sorted(reasons.items()))
        self._con.close()
        return self.tally

    def add_raw(self, row: dict) -> None:
        """A document's raw bytes, from `RetainStage` (they land in raw_documents)."""
        self._add("raw", row)

    def _add(self, kind: str, row: dict) -> None:
        self._buffers[kind].append(row)
        if len(self._buffers[kind]) >= self.part_rows:
            self._flush(kind)

    def _flush(self, kind: str) -> None:
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


def write_ledger(folder: Path, data: dict) -> None:
    (folder / LEDGER_FILE).write_text(json.dumps(data, indent=2, default=str))


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
