"""What a caller reads of a task after submitting it: its summary and counts, its jobs, one
job with its values, and the results."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from jobs.collaborators import Documents
from jobs.core.errors import Conflict, NotFound
from jobs.core.models import Job, JobStatus, JsonValue, TaskSummary
from jobs.storage.jobs_table import JobsTable
from jobs.storage.payloads import Payloads

RESULTS_INLINE_BYTES = 1024 * 1024  # a larger results file is a link, not an answer body
RESULTS_LINK_LIFETIME = timedelta(minutes=10)


class Reading(Protocol):
    """The table and the service's blobs: what a caller's reads use."""

    table: JobsTable
    payloads: Payloads


class Downloading(Reading, Protocol):
    """A read of the results also writes their lines in the API's shape."""

    documents: Documents


def status(service: Reading, task_id: str) -> TaskSummary:
    """The task, its counts and its progress, in one query whatever its size (the running
    jobs' reports come added up, one row per writer: jobs.lifecycle.progress)."""
    found = service.table.read_status(task_id, datetime.now(UTC))
    if found is None or found[0].purging:  # being purged reads as gone
        raise NotFound(task_id)
    task, counts, reported = found
    return replace(TaskSummary.of(task, counts), reported=reported)


def progress_of(job: Job) -> tuple[float, dict[str, Any] | None]:
    """A job's reported fraction (0 when it has said nothing) and its report as stored."""
    if not job.progress:
        return 0.0, None
    report: dict[str, Any] = json.loads(job.progress)
    return float(report.get("fraction") or 0.0), report


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    more: bool  # another page may follow the last job


def jobs_page(
    service: Reading, task_id: str, status: JobStatus | None, limit: int, after: int | None
) -> JobPage:
    """Up to ``limit`` jobs in index order after the job ``after`` (optionally of one status)."""
    task = service.table.get_task(task_id)
    if task is None or task.purging:
        raise NotFound(task_id)
    return JobPage(*service.table.job_page(task_id, status, limit, after))


@dataclass(frozen=True)
class JobDetail:
    job: Job
    item: JsonValue
    result: JsonValue


def job_detail(service: Reading, task_id: str, index: int) -> JobDetail:
    task = service.table.get_task(task_id)
    if task is None or task.purging:
        raise NotFound(task_id)
    job = service.table.get_job(task_id, index)
    if job is None:
        if index >= task.total:
            raise NotFound(task_id)
        job = Job(task_id, index, task.kind)  # accepted; the fan-out has not written its row yet
    decode = service.payloads.decode
    return JobDetail(job, decode(job.item), decode(job.result))


@dataclass(frozen=True)
class Results:
    """A finished task's results: the lines themselves, or a short-lived link to its file."""

    lines: Iterator[bytes] | None = None
    link: str | None = None


def results(service: Downloading, task_id: str) -> Results:
    """The task's results as NDJSON lines in item order: in full up to RESULTS_INLINE_BYTES,
    else a short-lived read-only link to its results file. Conflict while it runs.

    The answer depends only on the results' size, never on how far the task's end follow-up
    has got: a caller who sees the task finished and asks at once gets what a caller asking an
    hour later gets. The follow-up writes the file moments after the end; until it has:

    - the lines are read from the job rows, and answered inline if they fit (they are the
      bytes the file will hold);
    - if they do not fit, this read writes the file itself, the same bytes from the same rows
      under the same name (whichever write lands last changes nothing), and links to it;
    - while the end itself is not recorded yet (its file has no name), results too large to
      answer inline are a Conflict like a running task's, for the moment that takes."""
    summary = status(service, task_id)
    if not summary.status.finished:
        raise Conflict("the task is still running; poll its status until it is not")
    end = summary.task.completion
    size = None
    if end.finished_at is not None:
        size = service.payloads.results_size(task_id, end.number)
    if size is None:  # not written yet: decide by the rows
        inline = _inline_lines(service, task_id)
        if inline is not None:
            return Results(lines=iter(inline))
        if end.finished_at is None:
            raise Conflict("the task's end is being recorded; ask again in a moment")
        service.payloads.write_results(task_id, end.number, result_lines(service, task_id))
        size = RESULTS_INLINE_BYTES + 1
    if size > RESULTS_INLINE_BYTES:
        link = service.payloads.results_link(task_id, end.number, RESULTS_LINK_LIFETIME)
        return Results(link=link)
    return Results(lines=service.payloads.read_results(task_id, end.number))


def _inline_lines(service: Downloading, task_id: str) -> list[bytes] | None:
    """The result lines read from the rows, or None as soon as they pass RESULTS_INLINE_BYTES."""
    found: list[bytes] = []
    size = 0
    for line in result_lines(service, task_id):
        size += len(line)
        if size > RESULTS_INLINE_BYTES:
            return None
        found.append(line)
    return found


def result_lines(service: Downloading, task_id: str) -> Iterator[bytes]:
    """The task's results, one NDJSON line a job in item order, read from its rows."""
    for job in service.table.jobs(task_id, with_values=True):
        result = service.payloads.decode(job.result) if job.status is JobStatus.COMPLETED else None
        yield service.documents.result_line(job, result)
