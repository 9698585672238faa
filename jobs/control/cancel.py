"""Cancelling a task: jobs not yet started become Cancelled and never run; running ones finish.

The request records the intent durably (a cancel message) before flagging the task, so a
crash in between still cancels. Flags on the task and its counter shards stop workers from
starting jobs at once; the cancel pass then takes the pending jobs page by page to the
lifecycle, and can run any number of times."""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from jobs.core import logs
from jobs.core.clock import utcnow
from jobs.core.errors import NotFound
from jobs.core.messages import CancelMessage, FanOutMessage
from jobs.core.models import JobStatus, Setup, Task
from jobs.core.resources import CONTROL_QUEUE
from jobs.lifecycle.writer import Lifecycle
from jobs.storage.jobs_table import JobsTable
from jobs.storage.queues import JobQueues

PAGE = 1000


class Cancelling(Protocol):
    """The table, the queues and the lifecycle: what a cancel uses."""

    table: JobsTable
    queues: JobQueues
    lifecycle: Lifecycle


def request_cancel(service: Cancelling, task_id: str) -> Task:
    task = service.table.get_task(task_id)
    if task is None:
        raise NotFound(task_id)
    if not task.cancelled:
        service.queues.send(CONTROL_QUEUE, CancelMessage(task_id))
        service.table.cancel_task(task_id, utcnow())
        if task.not_before and task.setup is Setup.ACCEPTED:
            # Its fan-out waits for not_before: bring it forward to cancel the jobs now.
            service.queues.send(CONTROL_QUEUE, FanOutMessage(task_id))
        logs.event("task_cancelled", task_id=task_id, kind=task.kind)
    return replace(task, cancelled=True)


def cancel_pending(service: Cancelling, task_id: str) -> int:
    """Cancel every job of the task still Pending; returns how many this pass cancelled."""
    table = service.table
    if table.get_task(task_id) is None:
        return 0
    table.cancel_task(task_id, utcnow())
    cancelled = 0
    after: int | None = None
    while True:
        page, more = table.job_page(task_id, JobStatus.PENDING, PAGE, after)
        cancelled += service.lifecycle.cancel(page)
        if not more:
            return cancelled
        after = page[-1].index
