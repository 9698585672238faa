"""What the service stores and answers: statuses, task and job rows, counts, messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
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

    @property
    def api_name(self) -> str:
        """The snake_case name the HTTP API uses (``in_progress``)."""
        return _API_NAMES[self]

    @classmethod
    def from_api(cls, name: str) -> JobStatus:
        for status, api in _API_NAMES.items():
            if api == name:
                return status
        raise ValueError(name)


_API_NAMES = {
    JobStatus.PENDING: "pending",
    JobStatus.IN_PROGRESS: "in_progress",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


class TaskState(StrEnum):
    """How far a task's own setup has got (the jobs' progress lives in the counters)."""

    ACCEPTED = "accepted"  # items stored, fan-out message sent
    DISPATCHED = "dispatched"  # every job row written, the first window of messages sent
    FAILED = "failed"  # the fan-out itself could not be done: every unfinished job counts failed


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def job_id(index: int) -> str:
    return f"{index:08d}"


def job_index(job_id: str) -> int:
    """The index a job id names; ValueError for anything that is not one of ours."""
    if len(job_id) != 8 or not job_id.isdigit():
        raise ValueError(job_id)
    return int(job_id)


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
    state: TaskState = TaskState.ACCEPTED
    cancelled: bool = False
    error: str | None = None


@dataclass
class Job:
    task_id: str
    index: int
    kind: str
    status: JobStatus = JobStatus.PENDING
    attempts: int = 0
    generation: int = 0  # raised by each retry, so stale messages can be told apart
    next_index: int | None = None  # the job this one dispatches when it finishes
    next_sent: bool = False
    error: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    item: JsonValue = None
    result: JsonValue = None
    etag: str | None = field(default=None, compare=False)

    @property
    def job_id(self) -> str:
        return job_id(self.index)


@dataclass(frozen=True)
class Counts:
    """Per-task totals. Pending is never stored: it is whatever the others do not account for."""

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

    def moved(self, old: JobStatus, new: JobStatus) -> Counts:
        """These counts after one job goes from ``old`` to ``new``."""
        values = {name: getattr(self, name) for name in _COUNTED}
        if old.api_name in values:
            values[old.api_name] -= 1
        if new.api_name in values:
            values[new.api_name] += 1
        return Counts(**values)

    def as_dict(self, total: int) -> dict[str, int]:
        counted = self.in_progress + self.completed + self.failed + self.cancelled
        return {"pending": total - counted, **{name: getattr(self, name) for name in _COUNTED}}


_COUNTED = ("in_progress", "completed", "failed", "cancelled")


@dataclass(frozen=True)
class RunMessage:
    """The queue message for one job: which job, and which retry generation it belongs to."""

    task_id: str
    index: int
    generation: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {"op": "run", "task_id": self.task_id, "job_id": job_id(self.index),
             "gen": self.generation},
            separators=(",", ":"),
        )  # fmt: skip


@dataclass(frozen=True)
class FanOutMessage:
    """The queue message that turns a stored batch into job rows and the first messages."""

    task_id: str

    def to_json(self) -> str:
        return json.dumps({"op": "fanout", "task_id": self.task_id}, separators=(",", ":"))


@dataclass(frozen=True)
class CancelMessage:
    """The queue message that cancels every job of a task that has not started."""

    task_id: str

    def to_json(self) -> str:
        return json.dumps({"op": "cancel", "task_id": self.task_id}, separators=(",", ":"))


Message = RunMessage | FanOutMessage | CancelMessage


def parse_message(text: str) -> Message:
    """A message body as the app wrote it; ValueError for anything else."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    task_id = data.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise ValueError("no task_id")
    if data.get("op") == "fanout":
        return FanOutMessage(task_id)
    if data.get("op") == "cancel":
        return CancelMessage(task_id)
    if data.get("op") == "run":
        generation = data.get("gen", 0)
        if not isinstance(generation, int):
            raise ValueError("bad gen")
        return RunMessage(task_id, job_index(str(data.get("job_id"))), generation)
    raise ValueError(f"unknown op {data.get('op')!r}")
