"""The service's documents as the client reads them. They mirror api/schemas.py field for
field (tests/client/test_models.py compares them) but ignore fields they do not know, so a
newer service does not break an older client."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

FINISHED = ("completed", "completed_with_failures", "cancelled")


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ErrorDetail(Model):
    index: int | None = None  # the item's position, when the problem is inside one
    field: str
    message: str


class ErrorDocument(Model):
    error: str
    details: list[ErrorDetail] = []


class Accepted(Model):
    task_id: str
    status_url: str
    total: int


class Counts(Model):
    pending: int
    in_progress: int
    completed: int
    failed: int
    cancelled: int


class Notification(Model):
    state: str  # pending, delivered, failed
    attempts: int
    last_error: str | None = None


class Stage(Model):
    """A stage still to come: the task its predecessor's end submits, over its results."""

    kind: str
    over: str  # each, all
    when: str = "completed"  # completed, finished
    queue: str | None = None
    then: Stage | None = None

    def chain(self) -> str:
        """``echo over each → collect over all, when finished``."""
        words = f"{self.kind} over {self.over}" + (
            f", when {self.when}" if self.when != "completed" else ""
        )
        return words if self.then is None else f"{words} → {self.then.chain()}"


class Task(Model):
    task_id: str
    kind: str
    queue: str
    priority: str = "normal"  # high, normal, low (a service without priorities: normal)
    status: str  # running, completed, completed_with_failures, cancelled
    total: int
    counts: Counts
    progress: float = 0.0
    created_at: str
    not_before: str | None = None
    started_at: str | None = None
    updated_at: str
    finished_at: str | None = None
    error: str | None = None
    metadata: dict[str, Any] | None = None
    notification: Notification | None = None
    source: str | None = None  # "schedule:<name>@<fire time>" for a schedule's task
    results_url: str
    previous: str | None = None  # the task whose end submitted this one
    next: str | None = None  # the next stage, submitted by this task's end
    then: Stage | None = None  # the stages still to come
    stage_error: str | None = None  # why its last end could not submit the next stage

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def done(self) -> int:
        """Jobs that have ended, one way or another."""
        return self.counts.completed + self.counts.failed + self.counts.cancelled


class TaskPage(Model):
    tasks: list[Task]
    continuation: str | None = None


class QueueDepth(Model):
    queue: str
    depth: int
    poison: int


class Minute(Model):
    minute: str
    completed: int
    failed: int


class Stats(Model):
    queues: list[QueueDepth]
    running_tasks: int
    per_minute: list[Minute]


class CancelAccepted(Model):
    task_id: str
    status_url: str


class PurgeAccepted(Model):
    task_id: str
    purging: bool


class RetryAccepted(Model):
    requeued: int


class Progress(Model):
    fraction: float
    message: str | None = None
    at: str


class Job(Model):
    job_id: str
    index: int
    status: str  # pending, in_progress, completed, failed, cancelled
    attempts: int
    error: str | None
    started_at: str | None
    updated_at: str | None
    progress: Progress | None = None
    checkpoint_at: str | None = None  # when its handler last saved a checkpoint


class JobPage(Model):
    jobs: list[Job]
    continuation: str | None


class JobDetail(Job):
    kind: str
    item: Any
    result: Any


class ResultLine(Model):
    index: int
    job_id: str
    status: str
    result: Any = None
    error: str | None = None


class Schedule(Model):
    name: str
    cron: str
    kind: str
    items: list[Any]
    queue: str | None = None
    metadata: dict[str, Any] | None = None
    callback_url: str | None = None
    then: Stage | None = None
    next_run: str
    last_run: str | None = None
    last_task_id: str | None = None
    last_task_url: str | None = None
    last_error: str | None = None
    created_at: str
    updated_at: str
    url: str


class ScheduleList(Model):
    schedules: list[Schedule]


class KindLimits(Model):
    name: str
    queue: str
    max_attempts: int
    timeout: float | None = None
    concurrency: int | None = None  # at most this many running at once, across instances
    rate: int | None = None  # at most this many started a second, across instances


class KindList(Model):
    kinds: list[KindLimits]


class Health(Model):
    status: str
    error: str | None = None
