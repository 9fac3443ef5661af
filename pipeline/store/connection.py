"""Opening the database: lock and permission failures become `SetupError`s that say what to do."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from pipeline.errors import SetupError, StorageError, storage_cause

log = logging.getLogger(__name__)

LOCK_RETRY_INTERVAL_S = 0.5  # how often a locked database is tried again, within `lock_timeout_s`


def _memory_limit_mb() -> int:
    from pipeline.settings import Settings

    return Settings.from_env().db_memory_mb


# The analysts' entry (`python -m pipeline sql`): besides read-only, no file outside the database is reachable
# (no ATTACH, COPY, EXPORT, read_csv/read_text/glob, ...), no extension is installed or loaded, and the
# configuration is locked so that no statement can lift any of it.
SANDBOX = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,
}
HEADER_BYTES = 3 * 4096  # DuckDB's file header and its two database headers, before the first block


def connect(
    path: Path, read_only: bool = False, lock_timeout_s: float = 0.0, sandboxed: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open the database, turning lock and permission failures into `SetupError`s that say what to do.

    DuckDB lets one process open a file read-write, or any number read-only, never both. While another
    process holds the file, the open is tried again every `LOCK_RETRY_INTERVAL_S` for up to `lock_timeout_s`
    (each retry logged); then it fails saying who holds the lock. A file cut short (a copy or a disk that ran
    out) is refused at once (`check_file`). `sandboxed` opens it read-only for ad-hoc SQL: see `SANDBOX`.
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
            config: dict = {}
            if limit_mb := _memory_limit_mb():  # PIPELINE_DB_MEMORY_MB; DuckDB's default is 80% of RAM
                config["memory_limit"] = f"{limit_mb}MB"
            if sandboxed:
                read_only = True
                config.update({k: v for k, v in SANDBOX.items() if k != "lock_configuration"})
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            try:
                # DuckDB draws a progress bar on stdout for statements over 2 s (a big load's COMMIT): not into
                # `ingest --json` output or task logs
                con.execute("SET enable_progress_bar = false")
                if sandboxed:
                    con.execute(
                        "SET lock_configuration = true"
                    )  # last: nothing after it can change a setting
                check_file(con, path)
            except BaseException:
                con.close()
                raise
            return con
        except duckdb.IOException as exc:
            message = str(exc)
            if "lock" not in message.lower():
                if re.search(
                    "not a valid DuckDB database|Could not read enough bytes|checksum|Corrupt", message
                ):
                    raise StorageError(f"database {path} is damaged ({_first_line(exc)})", _RESTORE) from exc
                if (cause := storage_cause(exc)) is not None and "No such file" not in cause:
                    raise StorageError(
                        f"cannot open database {path}: {cause}", "fix that, then run again"
                    ) from exc
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


@contextlib.contextmanager
def run_lock(path: Path, lock_timeout_s: float = 0.0) -> Iterator[None]:
    """One ingest at a time per database, for the whole run: an advisory lock (flock) on `<db>.run-lock`.

    The run reads the database shared while it works and locks it only to load, so DuckDB's own lock no
    longer keeps two runs apart; this does, and a second run waits up to `lock_timeout_s` for the first. Held
    by the process, released when it ends however it ends (the file stays, empty but for the holder's pid)."""
    lock_path = path.with_name(path.name + ".run-lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = lock_path.open("a+")
    except OSError as exc:
        raise SetupError(f"cannot create the run lock {lock_path}: {exc.strerror or exc}") from exc
    deadline = time.monotonic() + lock_timeout_s
    try:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    raise SetupError(
                        f"another ingest into {path} is running (pid {holder}); wait for it to finish, pass "
                        "another --db, or wait longer with --lock-timeout SECONDS (PIPELINE_LOCK_TIMEOUT_S)"
                    ) from None
                time.sleep(min(LOCK_RETRY_INTERVAL_S, max(deadline - time.monotonic(), 0.01)))
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock


def check_file(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Refuse a database file shorter than its own header says it is (truncated: its last blocks are gone).

    DuckDB opens such a file and fails only when a query reaches a missing block, which for a run is the load,
    after all its work; here it fails before any. Costs one PRAGMA and one stat.
    """
    if str(path) == ":memory:" or not Path(path).exists():
        return
    try:
        _, _, block_size, total_blocks, *_ = con.execute("PRAGMA database_size").fetchone()
    except duckdb.Error as exc:
        raise StorageError(f"database {path} is damaged ({_first_line(exc)})", _RESTORE) from exc
    expected = HEADER_BYTES + int(block_size) * int(total_blocks)
    size = Path(path).stat().st_size
    if size < expected:
        raise StorageError(
            f"database {path} is truncated: {size} bytes, but its header says {expected}", _RESTORE
        )


_RESTORE = "restore it from a backup, or move it aside and run again to start a new one"


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _locked_message(path: Path, duckdb_message: str, attempts: int, lock_timeout_s: float) -> str:
    # DuckDB says: ... Conflicting lock is held in /usr/bin/python3 (PID 123). See also https://...
    holder = duckdb_message.split("Conflicting lock is held in", 1)[-1].split("\n")[0]
    holder = holder.split(". See also", 1)[0].split(". However", 1)[0].strip().rstrip(".")
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
