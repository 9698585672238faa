"""The poison sweep: every message the host gave up on becomes a Failed job.

A job's message reaches ``<queue>-poison`` after its last allowed attempt (or, after crashes,
without one). The sweep marks the job Failed with the last error the runner recorded and its
attempt count, and deletes the poison message only after that is stored. Messages it cannot
read are logged and deleted, never looped on. Every step tolerates a second sweep doing the
same at the same time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from jobs import logs
from jobs.cancel import cancel_pending
from jobs.models import CancelMessage, FanOutMessage, RunMessage, Setup, utcnow
from jobs.queues import PoisonMessage
from jobs.resources import LISTENED_QUEUES
from jobs.service import Service
from jobs.storage import QueueMissing

MAX_PER_QUEUE = 1000  # per sweep; the rest wait for the next one


@dataclass
class SweepReport:
    failed: int = 0  # jobs this sweep marked Failed
    discarded: int = 0  # messages that were not ours, or stale
    by_queue: dict[str, int] = field(default_factory=dict)


def sweep(service: Service) -> SweepReport:
    report = SweepReport()
    for queue in LISTENED_QUEUES:
        seen = 0
        try:
            for message in service.queues.poison(queue, MAX_PER_QUEUE):
                seen += 1
                _handle(service, message, report)
                service.queues.delete_poison(message)
        except QueueMissing:
            pass  # no poison queue yet: the host creates it on first use
        report.by_queue[queue] = seen
    return report


def _handle(service: Service, poison: PoisonMessage, report: SweepReport) -> None:
    message = poison.message
    if message is None:
        logs.event("poison_unreadable", logging.WARNING, queue=poison.queue, body=poison.raw[:200])
        report.discarded += 1
    elif isinstance(message, RunMessage):
        if _fail_job(service, poison.queue, message):
            report.failed += 1
        else:
            report.discarded += 1
    elif isinstance(message, FanOutMessage):
        _fail_setup(service, message.task_id)
    elif isinstance(message, CancelMessage):
        cancel_pending(service, message.task_id)


def _fail_job(service: Service, queue: str, message: RunMessage) -> bool:
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


def _fail_setup(service: Service, task_id: str) -> None:
    """The fan-out itself kept failing: the task can never start, so every job that has not
    finished counts as failed (see models.TaskSummary)."""
    task = service.table.get_task(task_id)
    if task is None or task.setup is not Setup.ACCEPTED:
        return
    error = "the batch could not be split into jobs; see the app's logs for the fan-out's errors"
    service.table.update_task(task_id, setup=Setup.FAILED, error=error, updated_at=utcnow())
    logs.event("task_failed", logging.ERROR, task_id=task_id, kind=task.kind, error=error)
