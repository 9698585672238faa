"""The one stored timestamp format: UTC to the millisecond with Z, so stored times sort as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from jobs.core.clock import stamp, utcnow


def test_a_stamp_is_utc_to_the_millisecond_with_z() -> None:
    berlin = timezone(timedelta(hours=1))
    moment = datetime(2026, 1, 31, 13, 0, 0, 123456, tzinfo=berlin)
    assert stamp(moment) == "2026-01-31T12:00:00.123Z"


def test_stamps_sort_as_their_times_do() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [base + timedelta(milliseconds=step * 997) for step in range(50)]
    assert sorted(stamp(m) for m in reversed(moments)) == [stamp(m) for m in moments]


def test_now_is_a_stamp_of_now() -> None:
    before = stamp(datetime.now(UTC))
    now = utcnow()
    assert before <= now <= stamp(datetime.now(UTC))
    assert now.endswith("Z")
    assert len(now) == len("2026-01-31T12:00:00.000Z")
