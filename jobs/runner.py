"""Running one job from its queue message, safe under redelivery and duplicates.

A job row moves Pending -> InProgress -> Completed | Failed | Cancelled, each move written
with its counter shard in one ETag-guarded transaction; whoever loses a race reads again and
decides again. When a job finishes it dispatches its successor (``next_index``), which keeps a
bounded window of each task's messages in the queue: the successor's message is sent *before*
the finishing write, so a crash in between means a duplicate, never a lost job."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from jobs import logs
from jobs.errors import PermanentJobError
from jobs.kinds import JobContext, Kind
from jobs.models import Job, JobStatus, RunMessage, utcnow
from jobs.service import Service
from jobs.store import ConcurrentUpdate, Shard, shard_of
from jobs.transitions import MAX_RACES, Contention, move

MAX_ERROR_LENGTH = 4000


def run_job(service: Service, queue: str, message: RunMessage, attempt: int) -> None:
    """Run the job ``message`` names. Returns when the job is finished (or was already);
    raises when the host should retry it."""
    started = _start(service, queue, message, attempt)
    if started is None:
        return
    job, shard, kind = started
    dims: dict[str, Any] = {
        "task_id": job.task_id,
        "job_id": job.job_id,
        "attempt": attempt,
        "kind": kind.name,
    }
    logs.event("job_started", queue=queue, **dims)
    try:
        item = kind.item.validate_python(job.item)
        result = kind.handler(item, JobContext(job.task_id, job.job_id, attempt, service.blobs))
    except (PermanentJobError, ValidationError) as error:
        finish(service, queue, job, shard, JobStatus.FAILED, error=describe(error))
        logs.event("job_failed", logging.WARNING, error=describe(error), **dims)
        return
    except Exception as error:
        _record_error(service, job, describe(error))
        logs.event("job_retrying", logging.WARNING, error=describe(error), **dims)
        raise
    finish(service, queue, job, shard, JobStatus.COMPLETED, result=result)
    logs.event("job_completed", **dims)


def finish(
    service: Service,
    queue: str,
    job: Job,
    shard: Shard | None,
    status: JobStatus,
    *,
    result: Any = None,
    error: str | None = None,
) -> bool:
    """Move ``job`` to the finished ``status`` unless someone else finished it first; True
    when this call did. Dispatches the job's successor first if it has one not yet sent."""
    sent = False
    if job.next_index is not None and not job.next_sent:
        service.queues.send(queue, RunMessage(job.task_id, job.next_index))
        sent = True

    def finished(current: Job) -> Job:
        return replace(
            current,
            result=result,
            error=None if status is JobStatus.COMPLETED else error,
            next_sent=current.next_sent or sent,
        )

    def still_open(current: Job) -> bool:
        return not current.status.finished and current.generation == job.generation

    return bool(move(service.table, [job], status, finished, still=still_open, shard=shard))


def describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        text = "item is not valid: " + "; ".join(
            f"{'.'.join(str(p) for p in issue['loc']) or 'item'}: {issue['msg']}"
            for issue in error.errors()
        )
    elif isinstance(error, PermanentJobError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:MAX_ERROR_LENGTH]


def _start(
    service: Service, queue: str, message: RunMessage, attempt: int
) -> tuple[Job, Shard, Kind] | None:
    """Mark the job InProgress (or finish it at once when its task was cancelled or its kind is
    gone); None when there is nothing to run."""
    table = service.table
    for _ in range(MAX_RACES):
        job = table.get_job(message.task_id, message.index)
        if job is None:
            logs.event(
                "job_missing", logging.WARNING, task_id=message.task_id, job_id=message.index
            )
            return None
        if not _runnable(job, message):
            return None
        if job.generation < message.generation:  # a retry's message beat the retry's reset
            job = replace(job, generation=message.generation, error=None)
        shard = table.get_shard(job.task_id, shard_of(job.index))
        kind = service.kinds.get(job.kind)
        if shard.cancelled:
            finish(service, queue, job, shard, JobStatus.CANCELLED)
            return None
        if kind is None:
            finish(service, queue, job, shard, JobStatus.FAILED, error=f"unknown kind {job.kind!r}")
            return None
        now = utcnow()
        running = replace(
            job,
            status=JobStatus.IN_PROGRESS,
            attempts=attempt,
            started_at=job.started_at or now,
            updated_at=now,
        )
        counts = shard.counts.moved(job.status, JobStatus.IN_PROGRESS)
        try:
            job_etag, shard_etag = table.write(
                job.task_id, [running], replace(shard, counts=counts), now
            )
        except ConcurrentUpdate:
            continue
        return (
            replace(running, etag=job_etag),
            replace(shard, counts=counts, etag=shard_etag),
            kind,
        )
    raise Contention(f"job {message.task_id}/{message.index}: could not start")


def _runnable(job: Job, message: RunMessage) -> bool:
    if message.generation < job.generation:
        return False  # superseded by a retry
    if job.status.finished:
        # Only a retry's message may reopen a finished job, and only a failed one.
        return job.status is JobStatus.FAILED and message.generation > job.generation
    return True


def _record_error(service: Service, job: Job, error: str) -> None:
    """Keep the error on the row for the caller and for the sweep, which marks the job Failed
    with it if this was the last attempt. Losing a race here loses only this note."""
    with contextlib.suppress(ConcurrentUpdate):
        service.table.update_job(replace(job, error=error, updated_at=utcnow()))
