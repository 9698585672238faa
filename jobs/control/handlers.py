"""What each kind of message does: one table from message type to its two handlers, what to do
when a queue function takes the message (``delivered``) and what to do once the host has given
up on it and the sweep finds it in a poison queue (``poisoned``). The job queues' function
(``handle``) and the poison sweep (jobs.control.sweep) both route through it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from jobs.collaborators import Everything
from jobs.control.cancel import cancel_pending
from jobs.control.purge import purge_step
from jobs.control.retry import run_retry
from jobs.core import logs
from jobs.core.clock import utcnow
from jobs.core.messages import (
    CancelMessage,
    DeliverMessage,
    FanOutMessage,
    FinishedMessage,
    Message,
    PurgeMessage,
    RetryMessage,
    RunMessage,
    parse_message,
)
from jobs.core.models import Setup
from jobs.dispatch.fanout import fan_out
from jobs.lifecycle.running import run_job
from jobs.task_end.completion import deliver, follow_up


@dataclass(frozen=True)
class Delivery:
    """How a message reached a queue function."""

    queue: str
    attempt: int  # the host's dequeue count: 1 on the first delivery
    message_id: str | None  # the queue's id for it, the same on every delivery
    inserted: datetime | None = None  # when it was queued


class Swept(Enum):
    """What the sweep made of a poison message."""

    HANDLED = "handled"
    JOB_FAILED = "job_failed"  # a job's last attempt: the job is Failed now
    STALE = "stale"  # a job's message whose job had finished, or been retried, meanwhile


@dataclass(frozen=True)
class Route:
    delivered: Callable[[Everything, Any, Delivery], object]
    poisoned: Callable[[Everything, Any, str], Swept]  # with the job queue it came from


def handle(
    service: Everything,
    queue: str,
    body: str,
    attempt: int,
    message_id: str | None = None,
    inserted: datetime | None = None,
) -> None:
    """Handle one message from ``queue``, delivered for the ``attempt``-th time. Raising asks
    the host to retry; after its last attempt the message goes to the poison queue."""
    try:
        message = parse_message(body)
    except ValueError:
        # Not ours: retrying cannot help. Logged and dropped rather than poisoned.
        logs.event("message_unreadable", logging.WARNING, queue=queue, body=body[:200])
        return
    route_of(message).delivered(service, message, Delivery(queue, attempt, message_id, inserted))


def route_of(message: Message) -> Route:
    return ROUTES[type(message)]


def _job_poisoned(service: Everything, message: RunMessage, queue: str) -> Swept:
    job = service.lifecycle.poison(message, queue)
    if job is None:
        return Swept.STALE  # finished meanwhile, or superseded by a retry
    logs.event(
        "job_poisoned",
        logging.ERROR,
        task_id=job.task_id,
        job_id=job.job_id,
        attempt=job.attempts,
        kind=job.kind,
        queue=queue,
        error=job.error,
    )
    return Swept.JOB_FAILED


def fail_setup(service: Everything, task_id: str) -> None:
    """The fan-out itself kept failing: the task can never start, so every job that has not
    finished counts as failed (see models.TaskSummary)."""
    task = service.table.get_task(task_id)
    if task is None:
        return
    if task.setup is Setup.ACCEPTED:
        error = (
            "the batch could not be split into jobs; see the app's logs for the fan-out's errors"
        )
        service.table.update_task(task_id, setup=Setup.FAILED, error=error, updated_at=utcnow())
        logs.event("task_failed", logging.ERROR, task_id=task_id, kind=task.kind, error=error)
    service.lifecycle.settle(task_id)  # again after a crash: the end is recorded once


def _setup_poisoned(service: Everything, message: FanOutMessage, queue: str) -> Swept:
    fail_setup(service, message.task_id)
    return Swept.HANDLED


def _again(step: Callable[[Everything, Any], object]) -> Callable[[Everything, Any, str], Swept]:
    """A control step whose message kept failing: run it once more from the sweep, which
    carries on from wherever the step's own saved state says (every step is resumable)."""

    def poisoned(service: Everything, message: Any, queue: str) -> Swept:
        step(service, message)
        return Swept.HANDLED

    return poisoned


ROUTES: dict[type, Route] = {
    RunMessage: Route(
        lambda service, message, delivery: run_job(
            service, delivery.queue, message, delivery.attempt, delivery.inserted
        ),
        _job_poisoned,
    ),
    FanOutMessage: Route(
        lambda service, message, delivery: fan_out(
            service, message.task_id, message.claim or delivery.message_id
        ),
        _setup_poisoned,
    ),
    CancelMessage: Route(
        lambda service, message, _: cancel_pending(service, message.task_id),
        _again(lambda service, message: cancel_pending(service, message.task_id)),
    ),
    # A retry round that kept failing: the jobs it reset must still go out.
    RetryMessage: Route(
        lambda service, message, _: run_retry(service, message),
        _again(run_retry),
    ),
    # Its last try: an end that never landed (the move that meant it lost its race) is dropped.
    FinishedMessage: Route(
        lambda service, message, _: follow_up(service, message),
        _again(lambda service, message: follow_up(service, message, last_try=True)),
    ),
    DeliverMessage: Route(
        lambda service, message, _: deliver(service, message),
        _again(deliver),
    ),
    PurgeMessage: Route(
        lambda service, message, _: purge_step(service, message.task_id),
        _again(lambda service, message: purge_step(service, message.task_id)),
    ),
}
