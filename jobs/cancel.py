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
from jobs.store import ConcurrentUpdate, shard_of

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
    table = service.table
    task_id, shard_number = jobs[0].task_id, shard_of(jobs[0].index)
    while jobs:
        shard = table.get_shard(task_id, shard_number)
        now = utcnow()
        done = [
            replace(job, status=JobStatus.CANCELLED, next_sent=True, updated_at=now) for job in jobs
        ]
        counts = shard.counts
        for job in jobs:
            counts = counts.moved(job.status, JobStatus.CANCELLED)
        try:
            table.write(task_id, done, replace(shard, counts=counts), now)
        except ConcurrentUpdate:
            # A worker started one of them, or moved the shard: keep those still Pending.
            fresh = (table.get_job(task_id, job.index) for job in jobs)
            jobs = [job for job in fresh if job is not None and job.status is JobStatus.PENDING]
            continue
        return len(jobs)
    return 0
