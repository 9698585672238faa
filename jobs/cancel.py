"""Cancelling a task: jobs not yet started become Cancelled and never run; running ones finish.

The request records the intent durably (a cancel message) before flagging the task, so a
crash in between still cancels. Flags on the task and its counter shards stop workers from
starting jobs at once; the cancel pass then marks every Pending row, shard by shard, in
transactions of up to 99 rows, and can run any number of times."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from jobs import logs
from jobs.errors import NotFound
from jobs.models import CancelMessage, Job, JobStatus, Task, utcnow
from jobs.resources import CONTROL_QUEUE
from jobs.service import Service
from jobs.store import shard_of
from jobs.transitions import move

GROUP = 99  # rows per transaction, leaving room for the shard row
PAGE = 1000


def request_cancel(service: Service, task_id: str) -> Task:
    task = service.table.get_task(task_id)
    if task is None:
        raise NotFound(task_id)
    if not task.cancelled:
        service.queues.send(CONTROL_QUEUE, CancelMessage(task_id))
        service.table.cancel_task(task_id, utcnow())
        logs.event("task_cancelled", task_id=task_id, kind=task.kind)
    return replace(task, cancelled=True)


def cancel_pending(service: Service, task_id: str) -> int:
    """Cancel every job of the task still Pending; returns how many this pass cancelled."""
    table = service.table
    if table.get_task(task_id) is None:
        return 0
    table.cancel_task(task_id, utcnow())
    cancelled = 0
    continuation: str | None = None
    while True:
        page, continuation = table.job_page(task_id, JobStatus.PENDING, PAGE, continuation)
        by_shard: dict[int, list[Job]] = defaultdict(list)
        for job in page:
            by_shard[shard_of(job.index)].append(job)
        for shard_jobs in by_shard.values():
            for start in range(0, len(shard_jobs), GROUP):
                cancelled += _cancel_group(service, shard_jobs[start : start + GROUP])
        if continuation is None:
            return cancelled


def _cancel_group(service: Service, jobs: list[Job]) -> int:
    def no_successor(job: Job) -> Job:
        return replace(job, next_sent=True)  # the cancel pass reaches its successor itself

    def still_pending(job: Job) -> bool:
        return job.status is JobStatus.PENDING  # not started by a worker meanwhile

    cancelled = move(service.table, jobs, JobStatus.CANCELLED, no_successor, still=still_pending)
    return len(cancelled)
