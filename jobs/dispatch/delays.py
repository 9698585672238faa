"""Delayed tasks: when a task's ``not_before`` lets its jobs start, and how its fan-out waits.

The wait lives in storage, never in memory: the task row records ``not_before`` and the fan-out
message is sent hidden until then. A queue hides a message for at most 7 days (and a message
lives 7 days by default), so one hop waits at most MAX_HOP; a fan-out delivered early (a hop
shorter than the wait, a clock a little ahead, a repeated submit's undelayed message) sends
itself again for the rest of the wait instead of running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NoReturn

from jobs.core.errors import InvalidBody, Problem
from jobs.core.models import Task

MAX_AHEAD = timedelta(days=7)  # the furthest a submit may put not_before
PAST_GRACE = timedelta(minutes=1)  # how far in the past not_before may be (clock skew)
MAX_HOP = timedelta(days=6)  # one hidden message's wait: under a message's 7-day life


def not_before(text: str | None, now: datetime) -> datetime | None:
    """``text`` (ISO 8601 with a zone) as an aware time; InvalidBody naming the field when it
    is unreadable, has no zone, is over 7 days ahead or more than a minute past."""
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        _refuse("is not an ISO 8601 time (e.g. 2030-01-31T12:00:00Z)")
    if when.tzinfo is None or when.utcoffset() is None:
        _refuse("has no time zone (add Z or an offset such as +02:00)")
    if when > now + MAX_AHEAD:
        _refuse(f"is more than {MAX_AHEAD.days} days ahead")
    if when < now - PAST_GRACE:
        _refuse("is in the past")
    return when.astimezone(UTC)


def remaining(task: Task, now: datetime | None = None) -> timedelta | None:
    """How much longer the task's fan-out must wait (one hop's worth at most); None when it
    may run now."""
    if task.not_before is None:
        return None
    wait = datetime.fromisoformat(task.not_before) - (now or datetime.now(UTC))
    if wait <= timedelta(0):
        return None
    return min(wait, MAX_HOP)


def _refuse(problem: str) -> NoReturn:
    raise InvalidBody(f"not_before {problem}", [Problem("not_before", problem)])
