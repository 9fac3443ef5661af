"""The two error policies: bad setup raises `SetupError`; bad input becomes a `Reject` that is quarantined."""


class SetupError(Exception):
    """Bad setup (missing path, unwritable or locked DB, bad settings): the run cannot start.

    The message is one line that says what is wrong and how to fix it.
    """


class AuditFailed(Exception):
    """A run failed its batch-level expectations: nothing was published, it waits in staging for release.

    Not an error to retry: the same inputs fail the same audit.
    """


class Reject(Exception):
    """Bad input: raised by a stage hook for one document; the stage base quarantines it with `reason`.

    `reason` is a short machine-friendly code (`empty`, `binary_content`, `bad_encoding`, ...);
    `detail` is a human sentence.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
