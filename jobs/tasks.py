"""What a caller reads of a task after submitting it: its summary and counts, its jobs, one
job with its values, and the results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jobs.errors import Conflict, NotFound
from jobs.models import Job, JobStatus, JsonValue, TaskSummary
from jobs.service import Service


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    more: bool  # another page may follow the last job


@dataclass(frozen=True)
class JobDetail:
    job: Job
    item: JsonValue
    result: JsonValue


def status(service: Service, task_id: str) -> TaskSummary:
    found = service.table.read_counts(task_id)
    if found is None:
        raise NotFound(task_id)
    return TaskSummary.of(*found)


def jobs_page(
    service: Service, task_id: str, status: JobStatus | None, limit: int, after: int | None
) -> JobPage:
    """Up to ``limit`` jobs in index order after the job ``after`` (optionally of one status)."""
    if service.table.get_task(task_id) is None:
        raise NotFound(task_id)
    return JobPage(*service.table.job_page(task_id, status, limit, after))


def job_detail(service: Service, task_id: str, index: int) -> JobDetail:
    job = service.table.get_job(task_id, index)
    if job is None:
        task = service.table.get_task(task_id)
        if task is None or index >= task.total:
            raise NotFound(task_id)
        job = Job(task_id, index, task.kind)  # accepted; the fan-out has not written its row yet
    decode = service.payloads.decode
    return JobDetail(job, decode(job.item), decode(job.result))


def results(service: Service, task_id: str) -> Iterator[bytes]:
    """The task's results as NDJSON lines in item order; Conflict while any job can still run."""
    if not status(service, task_id).status.finished:
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
            line["result"] = service.payloads.decode(job.result)
        else:
            line["error"] = job.error
        yield json.dumps(line, separators=(",", ":")).encode() + b"\n"
