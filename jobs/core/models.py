"""What the service stores and answers: statuses, tasks and jobs, their counts and a task's
summary. The queue messages that move them are in jobs.core.messages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JsonValue = Any  # what json.loads returns; pydantic validates the shapes that matter


class JobStatus(StrEnum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class Setup(StrEnum):
    """How far a task's own setup has got (the jobs' progress lives in the counters)."""

    ACCEPTED = "accepted"  # items stored, fan-out message sent
    DISPATCHED = "dispatched"  # every job row written, the first window of messages sent
    FAILED = "failed"  # the fan-out itself could not be done: every unfinished job counts failed


class TaskStatus(StrEnum):
    """Where a task stands as a whole: what a caller polls for."""

    SCHEDULED = "scheduled"  # not_before has not come: no job has been dispatched yet
    RUNNING = "running"  # some job may still run (a retry on its way counts)
    COMPLETED = "completed"  # every job completed
    COMPLETED_WITH_FAILURES = "completed_with_failures"  # every job ended, some failed
    CANCELLED = "cancelled"  # cancelled, and every job ended

    @property
    def finished(self) -> bool:
        return self not in (TaskStatus.RUNNING, TaskStatus.SCHEDULED)


def canonical_task_id(text: str) -> str | None:
    """A task id in its one spelling (a lower-case, hyphenated UUID), or None when ``text``
    cannot name a task. Every way in normalises through here, so ``{ID}`` and ``id`` agree.
    Only ASCII hex digits count: ``uuid.UUID`` would also read other scripts' digits, a sign
    or spaces, which are no spelling of an id."""
    if not _TASK_ID_SPELLING.fullmatch(text):
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


_TASK_ID_SPELLING = re.compile(r"(?:urn:uuid:)?\{?[0-9A-Fa-f-]{32,36}\}?", re.ASCII)


def job_id(index: int) -> str:
    return f"{index:08d}"


def job_index(job_id: str) -> int:
    """The index a job id names; ValueError for anything that is not one of ours (8 ASCII
    digits: ``isdigit`` alone also takes other scripts' digits)."""
    if len(job_id) != 8 or not (job_id.isascii() and job_id.isdigit()):
        raise ValueError(job_id)
    return int(job_id)


@dataclass(frozen=True)
class Payload:
    """A JSON value as a job row keeps it: its text inline, or the path of the blob holding it
    when it is too large for a table property (jobs.storage.payloads decides and reads it back)."""

    text: str | None = None
    blob: str | None = None


@dataclass(frozen=True)
class RetryRound:
    """A retry of a task's failed jobs, done in the background page by page (jobs.control.retry)."""

    number: int = 0  # rounds asked for so far
    done: int = 0  # rounds finished: every failed job reset and the first window sent
    after: int = -1  # the round's cursor: every failed job up to this index is reset
    head: str = ""  # the round's first window, "index:generation" pairs, sent at its end
    page: str = ""  # the page being reset, saved before any reset: "index:next:generation"

    @property
    def running(self) -> bool:
        return self.done < self.number


@dataclass(frozen=True)
class Completion:
    """A task's end, recorded once by the move that finished its last open job. A retry
    reopens the task; its next end is completion ``number + 1``."""

    number: int = 0  # ends recorded so far
    finished_at: str | None = None  # None while the task is open
    status: str | None = None  # its TaskStatus then


@dataclass(frozen=True)
class Notification:
    """Delivery of a completion's webhook."""

    completion: int = 0  # which completion it announces
    state: str | None = None  # pending, delivered, failed
    attempts: int = 0
    last_error: str | None = None


@dataclass
class Task:
    task_id: str
    kind: str
    queue: str
    total: int
    window: int
    created_at: str
    updated_at: str
    request_hash: str
    setup: Setup = Setup.ACCEPTED
    cancelled: bool = False
    error: str | None = None
    dispatcher: str | None = None  # the fan-out message that won the right to dispatch
    retry: RetryRound = field(default_factory=lambda: RetryRound())
    metadata: str | None = None  # the caller's JSON object, as text
    callback_url: str | None = None
    completion: Completion = field(default_factory=lambda: Completion())
    notification: Notification = field(default_factory=lambda: Notification())
    started_at: str | None = None  # the first job's start (kept by the counter shards)
    not_before: str | None = None  # no job is dispatched before this time (UTC, ISO 8601)
    key_hash: str | None = None  # the sha256 of its Idempotency-Key, so a purge finds the key
    source: str | None = None  # what submitted it, when not a caller: "schedule:<name>@<time>"
    purging: bool = False  # being deleted with everything it owns (jobs.control.purge)
    # Where its moves are counted (jobs.lifecycle.counters): "writers", or "shards" for a task
    # created before writers' rows (or with JOBS_COUNTER_LAYOUT=shards).
    counters: str = "shards"
    # The next job its window may grow by, counting down from the last (jobs.dispatch.growth);
    # None: it has not grown.
    grow_next: int | None = None
    # Its chain (jobs.dispatch.stages): the stages to submit after it ends (the submit's
    # ``then``, JSON text), the task whose end submitted it, and what its own ends did: the
    # last end that decided its next stage (``stage_for``), the task that end submitted
    # (``next_task``, kept from an earlier end if the last one could not), or why not.
    then: str | None = None
    previous: str | None = None
    next_task: str | None = None
    stage_for: int = 0
    stage_error: str | None = None
    priority: str = "normal"  # high, normal or low (jobs.core.resources.PRIORITIES)
    etag: str | None = field(default=None, compare=False)


@dataclass
class Job:
    task_id: str
    index: int
    kind: str
    status: JobStatus = JobStatus.PENDING
    attempts: int = 0
    generation: int = 0  # raised by each retry, so stale messages can be told apart
    next_index: int | None = None  # the job this one dispatches when it finishes
    next_generation: int = 0  # that job's generation (above 0 when a retry chained them)
    next_sent: bool = False
    error: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    item: Payload | None = None
    result: Payload | None = None
    progress: str | None = None  # the handler's last report, JSON text
    grown: bool = False  # started by its task's growing window, not by its predecessor
    checkpoint: Payload | None = None  # the state its handler last saved; cleared at its end
    checkpoint_at: str | None = None  # when that was
    etag: str | None = field(default=None, compare=False)

    @property
    def job_id(self) -> str:
        return job_id(self.index)


@dataclass(frozen=True)
class Counts:
    """Jobs counted by stored status. Pending is never stored: it is whatever the others do
    not account for (see TaskSummary)."""

    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.in_progress + other.in_progress,
            self.completed + other.completed,
            self.failed + other.failed,
            self.cancelled + other.cancelled,
        )

    def of(self, status: JobStatus) -> int:
        """How many are counted in ``status`` (0 for Pending, which is not counted)."""
        field = _COUNTED.get(status)
        return 0 if field is None else int(getattr(self, field))

    def moved(self, old: JobStatus, new: JobStatus) -> Counts:
        """These counts after one job goes from ``old`` to ``new``."""
        values = {field: self.of(status) for status, field in _COUNTED.items()}
        if old in _COUNTED:
            values[_COUNTED[old]] -= 1
        if new in _COUNTED:
            values[_COUNTED[new]] += 1
        return Counts(**values)


# The statuses counted, and the field each is counted in.
_COUNTED = {
    JobStatus.IN_PROGRESS: "in_progress",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class TaskSummary:
    """A task with its jobs counted in every status (Pending included, adding up to its total)
    and its overall status: the one place that decides whether a task has finished."""

    task: Task
    counts: Mapping[JobStatus, int]
    status: TaskStatus
    reported: float = 0.0  # the fractions its running jobs have reported, added up

    @property
    def progress(self) -> float:
        """From 0 to 1: finished jobs, and the running ones' reported fractions, over all."""
        if not self.task.total:
            return 1.0
        done = sum(self.counts[s] for s in JobStatus if s.finished) + self.reported
        return min(1.0, done / self.task.total)

    @classmethod
    def of(cls, task: Task, counted: Counts) -> TaskSummary:
        counts = {status: counted.of(status) for status in JobStatus}
        counts[JobStatus.PENDING] = task.total - sum(counts.values())
        if task.setup is Setup.FAILED:  # the batch never became jobs: nothing left will run
            counts[JobStatus.FAILED] += counts[JobStatus.PENDING]
            counts[JobStatus.PENDING] = 0
        return cls(task, counts, _status(task, counts))


def _status(task: Task, counts: Mapping[JobStatus, int]) -> TaskStatus:
    waiting = counts[JobStatus.PENDING] == task.total and task.setup is Setup.ACCEPTED
    if task.not_before and waiting and not task.cancelled:
        return TaskStatus.SCHEDULED  # its fan-out waits for not_before
    if counts[JobStatus.PENDING] or counts[JobStatus.IN_PROGRESS] or task.retry.running:
        return TaskStatus.RUNNING
    if task.cancelled and counts[JobStatus.CANCELLED]:
        return TaskStatus.CANCELLED
    if counts[JobStatus.FAILED]:
        return TaskStatus.COMPLETED_WITH_FAILURES
    return TaskStatus.COMPLETED
