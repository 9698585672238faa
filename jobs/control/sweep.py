"""The poison sweep: every message the host gave up on becomes a Failed job.

A job's message reaches ``<queue>-poison`` after its last allowed attempt (or, after crashes,
without one). The sweep marks the job Failed with the last error the runner recorded and its
attempt count, and deletes the poison message only after that is stored. Messages it cannot
read are logged and deleted, never looped on. Every step tolerates a second sweep doing the
same at the same time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from jobs.collaborators import Everything
from jobs.control.cancel import cancel_pending
from jobs.control.purge import purge_step
from jobs.control.retry import run_retry
from jobs.core import logs
from jobs.core.models import (
    CancelMessage,
    DeliverMessage,
    FanOutMessage,
    FinishedMessage,
    PurgeMessage,
    RetryMessage,
    RunMessage,
    Setup,
    utcnow,
)
from jobs.core.resources import LISTENED_QUEUES
from jobs.storage import QueueMissing
from jobs.storage.queues import PoisonMessage
from jobs.task_end.completion import deliver, follow_up

MAX_PER_QUEUE = 1000  # per sweep; the rest wait for the next one
MAX_TRIES = 5  # sweeps that may fail on one message before it is set aside


@dataclass
class SweepReport:
    failed: int = 0  # jobs this sweep marked Failed
    discarded: int = 0  # messages that were stale: their jobs had finished or been retried
    set_aside: int = 0  # messages moved to <queue>-unreadable
    by_queue: dict[str, int] = field(default_factory=dict)


def sweep(service: Everything) -> SweepReport:
    report = SweepReport()
    for queue in LISTENED_QUEUES:
        seen = 0
        try:
            for message in service.queues.poison(queue, MAX_PER_QUEUE):
                seen += 1
                _sweep_one(service, message, report)
        except QueueMissing:
            pass  # no poison queue yet: the host creates it on first use
        report.by_queue[queue] = seen
    return report


def _sweep_one(service: Everything, poison: PoisonMessage, report: SweepReport) -> None:
    """Deal with one poison message, whatever it holds: one the sweep cannot read, or keeps
    failing on, is set aside where people can see it, never left in the way of the others."""
    if poison.message is None:
        logs.event("poison_unreadable", logging.WARNING, queue=poison.queue, body=poison.raw[:200])
        service.queues.set_aside(poison)
        report.set_aside += 1
        return
    try:
        _handle(service, poison, report)
    except Exception as error:
        gave_up = poison.dequeue_count >= MAX_TRIES
        logs.event(
            "poison_set_aside" if gave_up else "poison_sweep_failed",
            logging.ERROR if gave_up else logging.WARNING,
            queue=poison.queue,
            attempt=poison.dequeue_count,
            error=f"{type(error).__name__}: {error}",
        )
        if gave_up:
            service.queues.set_aside(poison)
            report.set_aside += 1
        return  # otherwise it comes back for the next sweep
    service.queues.delete_poison(poison)


def _handle(service: Everything, poison: PoisonMessage, report: SweepReport) -> None:
    message = poison.message
    if isinstance(message, RunMessage):
        if _fail_job(service, poison.queue, message):
            report.failed += 1
        else:
            report.discarded += 1
    elif isinstance(message, FanOutMessage):
        _fail_setup(service, message.task_id)
    elif isinstance(message, CancelMessage):
        cancel_pending(service, message.task_id)
    elif isinstance(message, RetryMessage):
        run_retry(service, message)  # it kept failing: the jobs it reset must still go out
    elif isinstance(message, FinishedMessage):
        follow_up(service, message, last_try=True)
    elif isinstance(message, DeliverMessage):
        deliver(service, message)
    elif isinstance(message, PurgeMessage):
        purge_step(service, message.task_id)  # it kept failing: carry on from where it is


def _fail_job(service: Everything, queue: str, message: RunMessage) -> bool:
    job = service.lifecycle.poison(message, queue)
    if job is None:
        return False  # finished meanwhile, or superseded by a retry
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
    return True


def _fail_setup(service: Everything, task_id: str) -> None:
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
