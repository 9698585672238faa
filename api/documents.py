"""The documents the API answers with, built from the domain's data in one place, and the
URLs they carry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.listing import TaskPage
from jobs.models import Job, JobStatus, TaskSummary
from jobs.stats import Stats
from jobs.tasks import JobDetail, JobPage

PREFIX = "/api"  # host.json extensions.http.routePrefix


def task_url(task_id: str) -> str:
    return f"{PREFIX}/tasks/{task_id}"


def task(summary: TaskSummary) -> dict[str, Any]:
    task = summary.task
    return {
        "task_id": task.task_id,
        "kind": task.kind,
        "queue": task.queue,
        "status": summary.status.value,
        "total": task.total,
        "counts": {status.api_name: summary.counts[status] for status in JobStatus},
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "error": task.error,
        "results_url": f"{task_url(task.task_id)}/results",
    }


def task_page(page: TaskPage) -> dict[str, Any]:
    return {"tasks": [task(summary) for summary in page.tasks], "continuation": page.continuation}


def stats(stats: Stats) -> dict[str, Any]:
    return {
        "queues": [{"queue": q.queue, "depth": q.depth, "poison": q.poison} for q in stats.queues],
        "running_tasks": stats.running_tasks,
        "per_minute": [
            {"minute": _stamp(m.start), "completed": m.completed, "failed": m.failed}
            for m in stats.minutes
        ],
    }


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def job(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "index": job.index,
        "status": job.status.api_name,
        "attempts": job.attempts,
        "error": job.error,
        "started_at": job.started_at,
        "updated_at": job.updated_at,
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
