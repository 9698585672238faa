"""The one clock and the one timestamp format the service stores: UTC to the millisecond with
a ``Z`` (``2026-01-31T12:00:00.000Z``), so stored times sort and compare as text."""

from __future__ import annotations

from datetime import UTC, datetime


def stamp(moment: datetime) -> str:
    """``moment`` (aware) in the stored form."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utcnow() -> str:
    """Now, in the stored form."""
    return stamp(datetime.now(UTC))
