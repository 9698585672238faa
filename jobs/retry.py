"""Retrying a task's failed jobs: each goes back to Pending on its task's queue, attempts
starting over; older messages for it become stale (see jobs.lifecycle)."""

from __future__ import annotations

from jobs import logs
from jobs.errors import Conflict, NotFound
from jobs.models import JobStatus
from jobs.service import Service


def retry(service: Service, task_id: str) -> int:
    """Send every failed job of the task round again; how many."""
    task = service.table.get_task(task_id)
    if task is None:
        raise NotFound(task_id)
    if task.cancelled:
        raise Conflict("the task is cancelled")
    requeued = 0
    for job in service.table.jobs(task.task_id, JobStatus.FAILED):
        service.lifecycle.retry(job, task.queue)
        requeued += 1
    if requeued:
        logs.event("task_retried", task_id=task.task_id, kind=task.kind, requeued=requeued)
    return requeued
