"""The documents the API answers with, as pydantic models: documents.py builds every answer
through them and api/openapi.py describes the API from them, so what the service sends and
what its OpenAPI document says cannot drift apart.

A field made with ``optional()`` is left out of the answer when it has nothing to say
(documents are dumped without unset fields); a field typed ``X | None`` without a default is
always there, ``null`` when empty."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from jobs.core.models import TaskStatus
from jobs.dispatch.stages import Stage

JobState = Literal["pending", "in_progress", "completed", "failed", "cancelled"]
Timestamp = Annotated[
    str, Field(description="UTC, ISO 8601", json_schema_extra={"format": "date-time"})
]
TaskId = Annotated[str, Field(json_schema_extra={"format": "uuid"})]
JobId = Annotated[str, Field(pattern=r"^\d{8}$", description="the item's index, 8 digits")]
Count = Annotated[int, Field(ge=0)]


def _absent_when_empty(schema: dict[str, Any]) -> None:
    """An optional field is left out rather than sent as null: no default to describe."""
    schema.pop("default", None)


def optional(description: str) -> Any:
    return Field(default=None, description=description, json_schema_extra=_absent_when_empty)


class Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def document(self) -> dict[str, Any]:
        """The JSON document, leaving out optional fields that were not given."""
        return self.model_dump(mode="json", exclude_unset=True)


class ErrorDetail(Document):
    """One thing wrong with a request."""

    index: Count | SkipJsonSchema[None] = optional(
        "the item's position in `items`, when it is inside one"
    )
    field: str = Field(description="dotted path of the field (inside the item, with `index`)")
    message: str


class Error(Document):
    """Every error answer: nothing was written."""

    error: str
    details: list[ErrorDetail]


class Accepted(Document):
    """A submit was accepted (or an earlier one with the same Idempotency-Key found)."""

    task_id: TaskId
    status_url: str
    total: Count


class Counts(Document):
    """The task's jobs in each status; they add up to its total."""

    pending: Count
    in_progress: Count
    completed: Count
    failed: Count
    cancelled: Count


class Notification(Document):
    state: Literal["pending", "delivered", "failed"]
    attempts: Count
    last_error: str | None


Priority = Literal["high", "normal", "low"]


class Task(Document):
    task_id: TaskId
    kind: str
    queue: str
    priority: Priority = Field(description="high work is taken before normal, normal before low")
    status: TaskStatus
    total: Count
    counts: Counts
    progress: float = Field(ge=0, le=1, description="finished jobs and running ones' reports")
    created_at: Timestamp
    not_before: Timestamp | None = Field(description="no job starts before this (delayed tasks)")
    started_at: Timestamp | None = Field(description="the first job's start")
    updated_at: Timestamp
    finished_at: Timestamp | None = Field(description="when the task ended; null while open")
    error: str | None = Field(description="why the task's setup failed, if it did")
    metadata: dict[str, Any] | None = Field(description="the caller's object, as submitted")
    notification: Notification | None = Field(description="its webhook, when it has one")
    source: str | None = Field(
        description="what submitted it when not a caller: `schedule:<name>@<fire time>` for a "
        "schedule's task; null for a caller's submit"
    )
    results_url: str
    # Its chain: see jobs.dispatch.stages.
    previous: TaskId | None = Field(description="the task whose end submitted this one")
    next: TaskId | None = Field(description="the next stage, submitted by this task's end")
    then: Stage | None = Field(description="the stages still to come after this task")
    stage_error: str | None = Field(
        description="why this task's last end could not submit its next stage"
    )


class TaskPage(Document):
    tasks: list[Task] = Field(description="newest first")
    continuation: str | None = Field(description="pass back for the next page; null at the end")


class QueueDepth(Document):
    queue: str
    depth: Count = Field(description="messages waiting or being worked on (approximate)")
    poison: Count = Field(description="messages in its poison queue")


class Minute(Document):
    minute: Timestamp
    completed: Count
    failed: Count


class Stats(Document):
    queues: list[QueueDepth]
    running_tasks: Count
    per_minute: list[Minute] = Field(description="jobs ended per minute, the last 60 minutes")


class CancelAccepted(Document):
    task_id: TaskId
    status_url: str


class PurgeAccepted(Document):
    """A purge was asked for: the task reads as gone from now on."""

    task_id: TaskId
    purging: Literal[True]


class RetryAccepted(Document):
    requeued: Count = Field(description="failed jobs sent round again")


class Progress(Document):
    fraction: float = Field(ge=0, le=1)
    message: str | None
    at: Timestamp


class Job(Document):
    job_id: JobId
    index: Count
    status: JobState
    attempts: Count
    error: str | None = Field(description="the last attempt's error")
    started_at: Timestamp | None
    updated_at: Timestamp | None
    progress: Progress | None = Field(description="the handler's last report")
    checkpoint_at: Timestamp | None = Field(
        description="when its handler last saved a checkpoint (context.checkpoint); null when "
        "it saved none, and once the job has ended"
    )


class JobPage(Document):
    jobs: list[Job]
    continuation: JobId | None = Field(
        description="pass as `continuation` for the next page; null on the last page"
    )


class JobDetail(Job):
    kind: str
    item: Any
    result: Any = Field(description="the handler's answer; null until the job completes")


class ResultLine(Document):
    """One line of the results (NDJSON): `result` for a completed job, `error` otherwise."""

    index: Count
    job_id: JobId
    status: JobState
    result: Any = optional("what the handler returned (completed jobs)")
    error: str | None = optional("the last error (other jobs)")


class Schedule(Document):
    """A recurring schedule: its batch, as a submit of it would send, and its fire times."""

    name: str = Field(pattern="^[a-z0-9-]{1,63}$")
    cron: str = Field(description="NCRONTAB, UTC")
    kind: str
    items: list[Any]
    queue: str | None
    metadata: dict[str, Any] | None
    callback_url: str | None
    then: Stage | None = Field(description="the stages each of its tasks runs after it")
    next_run: Timestamp
    last_run: Timestamp | None = Field(description="the last fire time it fired at")
    last_task_id: TaskId | None = Field(description="the task it submitted last")
    last_task_url: str | None
    last_error: str | None = Field(description="why its last fire submitted nothing, if so")
    created_at: Timestamp
    updated_at: Timestamp
    url: str


class ScheduleList(Document):
    schedules: list[Schedule]


class KindLimits(Document):
    """A kind this deployment runs, and the limits its jobs run under."""

    name: str
    queue: str = Field(description="where its tasks run unless a submit names another queue")
    max_attempts: Count = Field(description="attempts before a job fails for good")
    timeout: float | None = Field(description="seconds one attempt may run; null: no limit")
    concurrency: Count | None = Field(
        description="at most this many of its jobs run at once, across every instance; null: "
        "no limit"
    )
    rate: Count | None = Field(
        description="at most this many of its jobs start in any one second, across every "
        "instance; null: no limit"
    )


class KindList(Document):
    kinds: list[KindLimits] = Field(description="by name")


class Health(Document):
    status: Literal["ok", "unavailable"]
    error: str | SkipJsonSchema[None] = optional("the storage error's type, when unavailable")


RESPONSE_MODELS: tuple[type[Document], ...] = (
    Error,
    Accepted,
    Task,
    TaskPage,
    Stats,
    CancelAccepted,
    PurgeAccepted,
    RetryAccepted,
    JobPage,
    JobDetail,
    ResultLine,
    Schedule,
    ScheduleList,
    Health,
    KindList,
)
