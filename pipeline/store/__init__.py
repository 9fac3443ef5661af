"""The DuckDB store: one open database file, and where each of its jobs lives.

- `connect`: opening the file (locks, permissions, memory limit);
- `schema`: migrations and views, applied when a writer opens the file;
- `history`: the read side the stages ask (dedupe, stories, fetching, reprocess);
- `load`: the writer's load of a staged run, in one transaction;
- `staging`: the staged run's files, which the run's steps write and the load reads.

DuckDB allows one read-write process per file, so only `Store(..., read_only=False)` writes, and only the load
step needs it; the stages that run before it read history through a read-only store (or through the writer's
own connection when the whole run is one process, as in the CLI).
"""

from __future__ import annotations

from pathlib import Path

from pipeline.store.connection import connect
from pipeline.store.history import History
from pipeline.store.load import Loader
from pipeline.store.schema import current_version, migrate


class Store:
    """An open article database: `history` for the read side, `load` and `record_run` for the writer."""

    def __init__(self, path: Path, read_only: bool = False, lock_timeout_s: float = 0.0):
        self.path = Path(path)
        self.read_only = read_only
        self.con = connect(self.path, read_only, lock_timeout_s)
        if not read_only:
            migrate(self.con, self.path)
        self.history = History(self.con)

    @classmethod
    def for_reading(cls, path: Path, lock_timeout_s: float = 0.0) -> Store | None:
        """A read-only store, or None when the database does not exist yet (no history)."""
        return cls(path, read_only=True, lock_timeout_s=lock_timeout_s) if Path(path).exists() else None

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def schema_version(self) -> int:
        return current_version(self.con)

    def load(self, staged: Path, run: dict) -> dict[str, int]:
        """Publish a staged run in one transaction (see `pipeline.store.load.Loader.load`)."""
        return Loader(self.con, self.path).load(staged, run)

    def record_run(self, run: dict) -> None:
        """Insert or update the run's ledger row."""
        Loader(self.con, self.path).record_run(run)

    def checkpoint(self, run_id: str) -> None:
        Loader(self.con, self.path).checkpoint(run_id)

    def run_summary(self, run_id: str) -> dict | None:
        """The ledger row of a run, as a dict, or None if it was never recorded."""
        rel = self.con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id])
        row = rel.fetchone()
        if row is None:
            return None
        out = dict(zip([d[0] for d in rel.description], row, strict=True))
        out["db"] = str(self.path)
        return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in out.items()}

    def count(self, table: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
