"""Reading what a request names: ids from the route, filters and paging from the query."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import TypeVar

from api.wire import state_name
from jobs.core.errors import MalformedRequest, NotFound, Problem
from jobs.core.models import JobStatus, TaskStatus, canonical_task_id, job_index
from jobs.reads import task_index
from jobs.schedules import definitions

T = TypeVar("T")

MAX_KEY_LENGTH = 200  # characters of an Idempotency-Key
# Visible ASCII and inner spaces: what an HTTP header carries the same way everywhere (a
# header's outer spaces are not part of its value).
KEY_PATTERN = rf"^[!-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)
MAX_PAGE = 1000
DEFAULT_PAGE = 100
MAX_TASK_PAGE = 100  # each task on a page costs a query of its counters
DEFAULT_TASK_PAGE = 20


def task_id(text: str) -> str:
    """The task id in its one spelling; NotFound for anything that cannot name a task."""
    found = canonical_task_id(text)
    if found is None:
        raise NotFound(text)
    return found


def schedule_name(text: str) -> str:
    """A schedule's name; NotFound for anything that cannot name one."""
    if not definitions.is_name(text):
        raise NotFound(text)
    return text


def purge(text: str | None) -> bool:
    """``purge=true`` on a task's DELETE: delete the finished task instead of cancelling.

    Here and below, ``None`` is a parameter not given; an empty value is a bad one."""
    if text is None or text == "false":
        return False
    if text == "true":
        return True
    raise MalformedRequest("purge must be true or false", [Problem("purge", "true or false")])


def idempotency_key(text: str | None) -> str | None:
    """The request's Idempotency-Key header, when given: 1 to 200 visible ASCII characters,
    spaces allowed inside."""
    if text is None:
        return None
    if not 0 < len(text) <= MAX_KEY_LENGTH:
        raise MalformedRequest(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
            [Problem("Idempotency-Key", "bad length")],
        )
    if not _KEY.fullmatch(text):
        raise MalformedRequest(
            "Idempotency-Key must be visible ASCII characters (spaces only inside)",
            [Problem("Idempotency-Key", "a character other than visible ASCII")],
        )
    return text


def job_number(text: str) -> int:
    try:
        return job_index(text)
    except ValueError:
        raise NotFound(text) from None


def status(text: str | None) -> JobStatus | None:
    return _one_of(text, "status", {state_name(s): s for s in JobStatus})


def limit(text: str | None, default: int = DEFAULT_PAGE, most: int = MAX_PAGE) -> int:
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= most):
        raise MalformedRequest(f"limit must be 1 to {most}", [Problem("limit", "out of range")])
    return int(text)


def task_limit(text: str | None) -> int:
    return limit(text, DEFAULT_TASK_PAGE, MAX_TASK_PAGE)


def task_state(text: str | None) -> TaskStatus | None:
    return _one_of(text, "state", {s.value: s for s in TaskStatus})


def kind(text: str | None, known: Collection[str]) -> str | None:
    return _one_of(text, "kind", {name: name for name in sorted(known)})


def _one_of(text: str | None, field: str, choices: Mapping[str, T]) -> T | None:
    """The choice ``text`` names (None when not given); a 400 listing them all otherwise."""
    if text is None:
        return None
    if text not in choices:
        names = ", ".join(choices)
        raise MalformedRequest(f"unknown {field} {text!r}", [Problem(field, names)])
    return choices[text]


def task_continuation(text: str | None) -> str | None:
    """Where the previous page of tasks ended, as its answer said."""
    if text is None:
        return None
    if not task_index.is_position(text):
        raise MalformedRequest(
            "bad continuation", [Problem("continuation", "not from a task listing")]
        )
    return text


def continuation(text: str | None) -> int | None:
    """The index of the last job of the previous page."""
    if text is None:
        return None
    try:
        return job_index(text)
    except ValueError:
        raise MalformedRequest(
            "bad continuation", [Problem("continuation", "not a job id")]
        ) from None
