"""Opening the database: lock and permission failures become `SetupError`s that say what to do."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipeline.errors import SetupError

log = logging.getLogger(__name__)

LOCK_RETRY_INTERVAL_S = 0.5  # how often a locked database is tried again, within `lock_timeout_s`


def _memory_limit_mb() -> int:
    from pipeline.settings import Settings

    return Settings.from_env().db_memory_mb


def connect(path: Path, read_only: bool = False, lock_timeout_s: float = 0.0) -> duckdb.DuckDBPyConnection:
    """Open the database, turning lock and permission failures into `SetupError`s that say what to do.

    DuckDB lets one process open a file read-write, or any number read-only, never both. While another
    process holds the file, the open is tried again every `LOCK_RETRY_INTERVAL_S` for up to `lock_timeout_s`
    (each retry logged); then it fails saying who holds the lock.
    """
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SetupError(f"cannot create the database folder {path.parent}: {exc.strerror}") from exc
    deadline = time.monotonic() + lock_timeout_s
    attempts = 0
    while True:
        attempts += 1
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            # DuckDB draws a progress bar on stdout for statements over 2 s (a big load's COMMIT): not into
            # `ingest --json` output or task logs
            con.execute("SET enable_progress_bar = false")
            if limit_mb := _memory_limit_mb():  # PIPELINE_DB_MEMORY_MB; DuckDB's default is 80% of RAM
                con.execute(f"SET memory_limit = '{limit_mb}MB'")
            return con
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" not in message.lower():
                raise SetupError(f"cannot open database {path}: {message.splitlines()[0]}") from exc
            remaining = deadline - time.monotonic()
            if remaining > 0:
                log.info(
                    "database %s is locked by another process; attempt %d failed, retrying for %.1f s more",
                    path,
                    attempts,
                    remaining,
                )
                time.sleep(min(LOCK_RETRY_INTERVAL_S, remaining))
                continue
            raise SetupError(_locked_message(path, message, attempts, lock_timeout_s)) from exc
        except (duckdb.Error, OSError) as exc:
            raise SetupError(f"cannot open database {path}: {str(exc).splitlines()[0]}") from exc


def _locked_message(path: Path, duckdb_message: str, attempts: int, lock_timeout_s: float) -> str:
    # DuckDB says: ... Conflicting lock is held in /usr/bin/python3 (PID 123). See also https://...
    holder = duckdb_message.split("Conflicting lock is held in", 1)[-1].split("\n")[0]
    holder = holder.split(". See also", 1)[0].strip().rstrip(".")
    if attempts > 1:
        return (
            f"database {path} is locked by another process ({holder}), and still was after retrying for "
            f"{lock_timeout_s:g} s ({attempts} attempts); wait for it to finish, pass another --db, or wait "
            "longer with --lock-timeout (PIPELINE_LOCK_TIMEOUT_S)"
        )
    return (
        f"database {path} is locked by another process ({holder}); wait for it to finish, pass another --db, "
        "or let the open retry with --lock-timeout SECONDS (PIPELINE_LOCK_TIMEOUT_S)"
    )


def in_transaction(con: duckdb.DuckDBPyConnection, work: Callable[[], object]) -> None:
    """Run `work` in one transaction: committed whole, or rolled back and the error raised."""
    con.execute("BEGIN TRANSACTION")
    try:
        work()
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):  # the error that got us here is the one to report
            con.execute("ROLLBACK")
        raise
