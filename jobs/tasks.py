"""What a caller reads and asks of a task after submitting it: status and counts, its jobs,
the results, and a retry of the failed ones."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from jobs import logs
from jobs.errors import Conflict, InvalidRequest, NotFound
from jobs.models import Counts, Job, JobStatus, RunMessage, Task, TaskState, job_index
from jobs.service import Service
from jobs.store import job_key
from jobs.transitions import Contention, move

MAX_PAGE = 1000
DEFAULT_PAGE = 100


def status(service: Service, task_id: str) -> dict[str, Any]:
    found = service.table.read_counts(_checked(task_id))
    if found is None:
        raise NotFound(task_id)
    task, counts = found
    return describe_task(task, counts)


def describe_task(task: Task, counts: Counts) -> dict[str, Any]:
    numbers = counts.as_dict(task.total)
    if task.state is TaskState.FAILED:  # the batch never became jobs: nothing left will run
        numbers["failed"] += numbers["pending"]
        numbers["pending"] = 0
    if numbers["pending"] or numbers["in_progress"]:
        state = "running"
    elif task.cancelled and numbers["cancelled"]:
        state = "cancelled"
    elif numbers["failed"]:
        state = "completed_with_failures"
    else:
        state = "completed"
    return {
        "task_id": task.task_id,
        "kind": task.kind,
        "queue": task.queue,
        "status": state,
        "total": task.total,
        "counts": numbers,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "error": task.error,
        "results_url": f"/api/tasks/{task.task_id}/results",
    }


def jobs_page(
    service: Service,
    task_id: str,
    status_name: str | None,
    limit: str | None,
    continuation: str | None,
) -> dict[str, Any]:
    task_id = _checked(task_id)
    status = None
    if status_name:
        try:
            status = JobStatus.from_api(status_name)
        except ValueError:
            names = ", ".join(s.api_name for s in JobStatus)
            raise InvalidRequest(
                400, f"unknown status {status_name!r}", [{"field": "status", "message": names}]
            ) from None
    size = _page_size(limit)
    after = None
    if continuation:
        try:
            after = job_key(job_index(continuation))
        except ValueError:
            raise InvalidRequest(
                400, "bad continuation", [{"field": "continuation", "message": "not a job id"}]
            ) from None
    if service.table.get_task(task_id) is None:
        raise NotFound(task_id)
    jobs, next_key = service.table.job_page(task_id, status, size, after)
    return {
        "jobs": [_job_summary(job) for job in jobs],
        "continuation": jobs[-1].job_id if next_key else None,
    }


def job_detail(service: Service, task_id: str, job_id: str) -> dict[str, Any]:
    try:
        index = job_index(job_id)
    except ValueError:
        raise NotFound(job_id) from None
    task_id = _checked(task_id)
    job = service.table.get_job(task_id, index)
    if job is None:
        task = service.table.get_task(task_id)
        if task is None or index >= task.total:
            raise NotFound(job_id)
        job = Job(task_id, index, task.kind)  # accepted; the fan-out has not written its row yet
    return {**_job_summary(job), "kind": job.kind, "item": job.item, "result": job.result}


def results(service: Service, task_id: str) -> Iterator[bytes]:
    """The task's results as NDJSON lines in item order; Conflict while any job can still run."""
    task_id = _checked(task_id)
    summary = status(service, task_id)
    if summary["status"] == "running":
        raise Conflict("the task is still running; poll its status until it is not")
    return _result_lines(service, task_id)


def _result_lines(service: Service, task_id: str) -> Iterator[bytes]:
    for job in service.table.jobs(task_id, with_values=True):
        line: dict[str, Any] = {
            "index": job.index,
            "job_id": job.job_id,
            "status": job.status.api_name,
        }
        if job.status is JobStatus.COMPLETED:
            line["result"] = job.result
        else:
            line["error"] = job.error
        yield json.dumps(line, separators=(",", ":")).encode() + b"\n"


def retry(service: Service, task_id: str) -> int:
    """Send every failed job back to Pending on its task's queue with its attempts reset.

    The message goes first, carrying the job's next generation, so that if this request dies
    before the reset the runner performs it; older messages of the job become stale."""
    task = service.table.get_task(_checked(task_id))
    if task is None:
        raise NotFound(task_id)
    if task.cancelled:
        raise Conflict("the task is cancelled")
    requeued = 0
    for job in service.table.jobs(task.task_id, JobStatus.FAILED):
        generation = job.generation + 1
        service.queues.send(task.queue, RunMessage(task.task_id, job.index, generation))
        _reset(service, job, generation)
        requeued += 1
    if requeued:
        logs.event("task_retried", task_id=task.task_id, kind=task.kind, requeued=requeued)
    return requeued


def _reset(service: Service, job: Job, generation: int) -> None:
    def reset(current: Job) -> Job:
        return replace(current, attempts=0, error=None, generation=generation)

    def still_failed(current: Job) -> bool:
        # Otherwise the runner took the message first and did the reset itself.
        return current.status is JobStatus.FAILED and current.generation < generation

    with contextlib.suppress(Contention):  # the message is out: the runner will reset it
        move(service.table, [job], JobStatus.PENDING, reset, still=still_failed)


def _job_summary(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "index": job.index,
        "status": job.status.api_name,
        "attempts": job.attempts,
        "error": job.error,
        "started_at": job.started_at,
        "updated_at": job.updated_at,
    }


def _page_size(limit: str | None) -> int:
    if not limit:
        return DEFAULT_PAGE
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE:
        raise InvalidRequest(
            400, f"limit must be 1 to {MAX_PAGE}", [{"field": "limit", "message": "out of range"}]
        )
    return int(limit)


def _checked(task_id: str) -> str:
    """Task ids are UUIDs; anything else cannot name a task (and must not reach a query)."""
    try:
        return str(uuid.UUID(task_id))
    except ValueError:
        raise NotFound(task_id) from None
