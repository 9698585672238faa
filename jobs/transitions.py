"""Moving jobs between statuses: the one place that keeps the counters true.

Jobs of one shard move together with their counter shard in one ETag-guarded transaction.
When the race is lost (another worker, a duplicate message, a cancel), every job is read
again, ``still`` decides whether it should still move, and the move is tried again on the
fresh rows; the counts therefore move exactly once per job, whoever wins."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from jobs.errors import JobsError
from jobs.models import Job, JobStatus, utcnow
from jobs.store import ConcurrentUpdate, JobsTable, Shard, shard_of

MAX_RACES = 50


class Contention(JobsError):
    """Lost too many races in a row; the caller's retry (the host's, for a job) tries later."""


def move(
    table: JobsTable,
    jobs: Sequence[Job],
    status: JobStatus,
    change: Callable[[Job], Job],
    *,
    still: Callable[[Job], bool],
    shard: Shard | None = None,
) -> list[Job]:
    """Move ``jobs`` (one task's, one shard's) to ``status``, each passed through ``change``
    first. Returns the rows written: all of them, or after lost races those ``still`` kept.
    ``shard`` saves a read when the caller holds its current version."""
    if not jobs:
        return []
    task_id, number = jobs[0].task_id, shard_of(jobs[0].index)
    current = list(jobs)
    for _ in range(MAX_RACES):
        if shard is None:
            shard = table.get_shard(task_id, number)
        now = utcnow()
        moved = [replace(change(job), status=status, updated_at=now) for job in current]
        counts = shard.counts
        for job in current:
            counts = counts.moved(job.status, status)
        try:
            table.write(task_id, moved, replace(shard, counts=counts), now)
        except ConcurrentUpdate:
            fresh = (table.get_job(task_id, job.index) for job in current)
            current = [job for job in fresh if job is not None and still(job)]
            if not current:
                return []
            shard = None
            continue
        return moved
    raise Contention(f"task {task_id}: could not move {len(current)} job(s) to {status.value}")
