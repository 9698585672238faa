"""Reading what a request names: ids from the route, filters and paging from the query."""

from __future__ import annotations

from jobs import schedules
from jobs.errors import MalformedRequest, NotFound, Problem
from jobs.models import JobStatus, canonical_task_id, job_index

MAX_PAGE = 1000
DEFAULT_PAGE = 100


def task_id(text: str) -> str:
    """The task id in its one spelling; NotFound for anything that cannot name a task."""
    found = canonical_task_id(text)
    if found is None:
        raise NotFound(text)
    return found


def schedule_name(text: str) -> str:
    """A schedule's name; NotFound for anything that cannot name one."""
    if not schedules.is_name(text):
        raise NotFound(text)
    return text


def purge(text: str | None) -> bool:
    """``purge=true`` on a task's DELETE: delete the finished task instead of cancelling."""
    if not text or text == "false":
        return False
    if text == "true":
        return True
    raise MalformedRequest("purge must be true or false", [Problem("purge", "true or false")])


def job_number(text: str) -> int:
    try:
        return job_index(text)
    except ValueError:
        raise NotFound(text) from None


def status(text: str | None) -> JobStatus | None:
    if not text:
        return None
    try:
        return JobStatus.from_api(text)
    except ValueError:
        names = ", ".join(s.api_name for s in JobStatus)
        raise MalformedRequest(f"unknown status {text!r}", [Problem("status", names)]) from None


def limit(text: str | None) -> int:
    if not text:
        return DEFAULT_PAGE
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_PAGE):
        raise MalformedRequest(f"limit must be 1 to {MAX_PAGE}", [Problem("limit", "out of range")])
    return int(text)


def continuation(text: str | None) -> int | None:
    """The index of the last job of the previous page."""
    if not text:
        return None
    try:
        return job_index(text)
    except ValueError:
        raise MalformedRequest(
            "bad continuation", [Problem("continuation", "not a job id")]
        ) from None
