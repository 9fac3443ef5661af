"""The two error policies: bad setup raises `SetupError`; bad input becomes a `Reject` that is quarantined.

An exception that the CLI and Airflow both report builds its own message from its fields, so both print the
same words (what failed, where it is, the command that fixes it).
"""

from __future__ import annotations

from pathlib import Path


class SetupError(Exception):
    """Bad setup (missing path, unwritable or locked DB, bad settings): the run cannot start.

    The message is one line that says what is wrong and how to fix it.
    """


class StorageError(SetupError):
    """The storage under the run failed it: a disk full, a folder gone, a database file damaged.

    Like bad setup it ends the run (exit 3) with one line: what happened, and what to do. The published data is
    as it was before the run: a load that fails is rolled back.
    """

    def __init__(self, what: str, fix: str):
        self.what, self.fix = what, fix
        super().__init__(f"{what}; {fix}")


def storage_cause(exc: BaseException) -> str | None:
    """What a storage failure was, in a few words ("the disk is full", ...), or None when `exc` is not one."""
    text = str(exc)
    errno = getattr(exc, "errno", None)
    if errno == 28 or "No space left on device" in text:
        return "the disk is full (No space left on device)"
    if errno == 27 or "File too large" in text:
        return "a file grew past the size the system allows (File too large)"
    if errno == 2 or "No such file or directory" in text:
        return "a file or folder it was writing was removed (No such file or directory)"
    if errno == 30 or "Read-only file system" in text:
        return "the file system is read-only"
    if isinstance(exc, OSError) or type(exc).__name__ in ("IOException", "FatalException"):
        return f"an I/O error ({text.splitlines()[0] if text else type(exc).__name__})"
    return None


class AuditFailed(Exception):
    """A run failed its batch-level expectations: nothing was published, it waits in staging for release.

    Not an error to retry: the same inputs fail the same audit.
    """

    def __init__(self, run_id: str, failed: list[dict], staging: Path | str | None, db: Path | str):
        self.run_id, self.failed, self.staging, self.db = run_id, failed, staging, db
        super().__init__(self.message())

    def message(self) -> str:
        checks = "; ".join(f"{f['name']} ({f['value']}, expected {f['expected']})" for f in self.failed)
        if any(
            f["name"] == "some_input_kept" for f in self.failed
        ):  # release would publish quarantine rows only
            return (
                f"run {self.run_id} failed its audit, nothing was published: {checks}: every input was "
                "quarantined; see the reasons above, fix the inputs and ingest them again (releasing this run "
                f"would publish only its quarantine rows: python -m pipeline release {self.run_id} --db {self.db})"
            )
        where = f"Inspect {self.staging}, then publish" if self.staging else "Publish"
        return (
            f"run {self.run_id} failed its audit, nothing was published: {checks}. "
            f"{where} it with: python -m pipeline release {self.run_id} --db {self.db}"
        )


class Interrupted(KeyboardInterrupt):
    """A signal (SIGTERM, or SIGINT as Ctrl-C) stopped the run: like Ctrl-C it is not caught by the stages'
    bad-input policy, and it unwinds the run; `message()` is the one line the CLI prints."""

    def __init__(self, signal_name: str, run_id: str | None = None, kept: Path | str | None = None):
        self.signal_name, self.run_id, self.kept = signal_name, run_id, kept
        super().__init__(self.message())

    def message(self) -> str:
        if self.run_id is None:
            return f"stopped by {self.signal_name}"
        where = (
            f"; it was staged whole, publish it with: python -m pipeline release {self.run_id}"
            if self.kept
            else "; nothing was published"
        )
        return f"stopped by {self.signal_name}: run {self.run_id} is recorded as interrupted{where}"


class Reject(Exception):
    """Bad input: raised by a stage hook for one document; the stage base quarantines it with its reasons.

    `reason` is a short machine-friendly code (`empty`, `binary_content`, `bad_encoding`, ...), or several
    (a row that failed several expectations); `detail` is a human sentence.
    """

    def __init__(self, reason: str | tuple[str, ...], detail: str = ""):
        self.reasons = (reason,) if isinstance(reason, str) else tuple(reason)
        self.reason = self.reasons[0]
        self.detail = detail
        super().__init__(f"{'; '.join(self.reasons)}: {detail}" if detail else "; ".join(self.reasons))

    def __reduce__(self):  # pickled from a worker process with its arguments
        return type(self), (self.reasons if len(self.reasons) > 1 else self.reason, self.detail)
