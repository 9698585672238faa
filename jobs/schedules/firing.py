"""Firing recurring schedules: the timer's work (JOBS_SCHEDULER_SCHEDULE).

Each due schedule submits its batch **once per fire time**: the task's Idempotency-Key is
derived from the schedule's name, its version and the fire time, and jobs.dispatch.submit is
idempotent per key, so a second host, a crash between the submit and its record, or a timer
run twice all end at the same task. The fire time on record (``NextRun``) is the one fired,
and the next is computed from now: after downtime a schedule fires once for all the times it
missed. The record is ETag-guarded; a schedule replaced or deleted meanwhile keeps what its
new save wrote."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from jobs.core import logs
from jobs.core.errors import Conflict, InvalidRequest
from jobs.dispatch import submit
from jobs.dispatch.submit import Accepting
from jobs.schedules import definitions
from jobs.schedules.definitions import Schedule
from jobs.storage import ConcurrentUpdate, EntityMissing


@dataclass(frozen=True)
class Fired:
    name: str
    fire_time: str
    task_id: str | None
    error: str | None = None


def idempotency_key(schedule: Schedule) -> str:
    return f"schedule:{schedule.name}:{schedule.version}:{schedule.next_run}"


def source(schedule: Schedule) -> str:
    return f"schedule:{schedule.name}@{schedule.next_run}"


def is_due(schedule: Schedule, now: datetime) -> bool:
    return schedule.next_run <= definitions.fire_stamp(now)


def run_due(service: Accepting, now: datetime | None = None) -> list[Fired]:
    """Fire every schedule whose fire time has come; what each did."""
    now = now or datetime.now(UTC)
    return [fire(service, s, now) for s in definitions.all_schedules(service) if is_due(s, now)]


def fire(service: Accepting, schedule: Schedule, now: datetime) -> Fired:
    task_id, error = None, None
    try:
        done = submit.submit(
            service, schedule.request.encode(), idempotency_key(schedule), source=source(schedule)
        )
        task_id = done.task.task_id
    except (InvalidRequest, Conflict) as refused:  # e.g. its kind is no longer offered
        error = str(refused)
        logs.event(
            "schedule_refused", logging.WARNING, schedule=schedule.name,
            fire_time=schedule.next_run, error=error,
        )  # fmt: skip
    upcoming = definitions.next_run(schedule.cron, now)
    with contextlib.suppress(ConcurrentUpdate, EntityMissing):
        definitions.record_fire(service, schedule, task_id, error, upcoming)
    logs.event(
        "schedule_fired", schedule=schedule.name, fire_time=schedule.next_run, task_id=task_id
    )
    return Fired(schedule.name, schedule.next_run, task_id, error)
