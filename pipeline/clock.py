"""The pipeline's one notion of now: naive UTC, as every timestamp column stores it."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
