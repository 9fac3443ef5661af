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


class AuditFailed(Exception):
    """A run failed its batch-level expectations: nothing was published, it waits in staging for release.

    Not an error to retry: the same inputs fail the same audit.
    """

    def __init__(self, run_id: str, failed: list[dict], staging: Path | str | None, db: Path | str):
        self.run_id, self.failed, self.staging, self.db = run_id, failed, staging, db
        super().__init__(self.message())

    def message(self) -> str:
        checks = "; ".join(f"{f['name']} ({f['value']}, expected {f['expected']})" for f in self.failed)
        where = f"Inspect {self.staging}, then publish" if self.staging else "Publish"
        return (
            f"run {self.run_id} failed its audit, nothing was published: {checks}. "
            f"{where} it with: python -m pipeline release {self.run_id} --db {self.db}"
        )


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
