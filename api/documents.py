"""The documents the API answers with, built from the domain's data in one place, and the
URLs they carry."""

from __future__ import annotations

from typing import Any

from jobs.models import Job, TaskSummary
from jobs.schedules import Schedule
from jobs.tasks import JobDetail, JobPage, progress_of, task_document

PREFIX = "/api"  # host.json extensions.http.routePrefix


def task_url(task_id: str) -> str:
    return f"{PREFIX}/tasks/{task_id}"


def schedule_url(name: str) -> str:
    return f"{PREFIX}/schedules/{name}"


def schedule(found: Schedule) -> dict[str, Any]:
    batch = found.batch
    return {
        "name": found.name,
        "cron": found.cron,
        "kind": batch["kind"],
        "items": batch["items"],
        "queue": batch.get("queue"),
        "metadata": batch.get("metadata"),
        "callback_url": batch.get("callback_url"),
        "next_run": found.next_run,
        "last_run": found.last_run,
        "last_task_id": found.last_task_id,
        "last_task_url": None if found.last_task_id is None else task_url(found.last_task_id),
        "last_error": found.last_error,
        "created_at": found.created_at,
        "updated_at": found.updated_at,
        "url": schedule_url(found.name),
    }


def task(summary: TaskSummary) -> dict[str, Any]:
    results = f"{task_url(summary.task.task_id)}/results"
    return {**task_document(summary), "results_url": results}


def job(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "index": job.index,
        "status": job.status.api_name,
        "attempts": job.attempts,
        "error": job.error,
        "started_at": job.started_at,
        "updated_at": job.updated_at,
        "progress": progress_of(job)[1],
    }


def job_page(page: JobPage) -> dict[str, Any]:
    return {
        "jobs": [job(j) for j in page.jobs],
        "continuation": page.jobs[-1].job_id if page.more and page.jobs else None,
    }


def job_detail(detail: JobDetail) -> dict[str, Any]:
    return {
        **job(detail.job),
        "kind": detail.job.kind,
        "item": detail.item,
        "result": detail.result,
    }
