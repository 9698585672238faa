"""The documents the API answers with, built from the domain's data in one place, and the
URLs they carry. Each is validated by its model in api/schemas.py on the way out, so an
answer that strays from the OpenAPI document fails loudly instead of reaching a caller."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api import schemas
from api.wire import state_name, task_document
from jobs.core.errors import Problem
from jobs.core.models import Job, Task, TaskSummary
from jobs.kinds import Kinds
from jobs.reads.stats import Stats
from jobs.reads.task_index import TaskPage
from jobs.reads.tasks import JobDetail, JobPage, progress_of
from jobs.schedules.definitions import Schedule

PREFIX = "/api"  # host.json extensions.http.routePrefix


def task_url(task_id: str) -> str:
    return f"{PREFIX}/tasks/{task_id}"


def accepted(task: Task) -> dict[str, Any]:
    url = task_url(task.task_id)
    return schemas.Accepted(task_id=task.task_id, status_url=url, total=task.total).document()


def cancel_accepted(task: Task) -> dict[str, Any]:
    url = task_url(task.task_id)
    return schemas.CancelAccepted(task_id=task.task_id, status_url=url).document()


def purge_accepted(task_id: str) -> dict[str, Any]:
    return schemas.PurgeAccepted(task_id=task_id, purging=True).document()


def retry_accepted(requeued: int) -> dict[str, Any]:
    return schemas.RetryAccepted(requeued=requeued).document()


def schedule_url(name: str) -> str:
    return f"{PREFIX}/schedules/{name}"


def schedule(found: Schedule) -> dict[str, Any]:
    return schemas.Schedule.model_validate(_schedule(found)).document()


def schedules(found: list[Schedule]) -> dict[str, Any]:
    listed = [_schedule(one) for one in found]
    return schemas.ScheduleList.model_validate({"schedules": listed}).document()


def _schedule(found: Schedule) -> dict[str, Any]:
    batch = found.batch
    return {
        "name": found.name,
        "cron": found.cron,
        "kind": batch["kind"],
        "items": batch["items"],
        "queue": batch.get("queue"),
        "metadata": batch.get("metadata"),
        "callback_url": batch.get("callback_url"),
        "then": batch.get("then"),
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
    return schemas.Task.model_validate(
        {**task_document(summary), "results_url": results}
    ).document()


def task_page(page: TaskPage) -> dict[str, Any]:
    tasks = [task(summary) for summary in page.tasks]
    document = {"tasks": tasks, "continuation": page.continuation}
    return schemas.TaskPage.model_validate(document).document()


def stats(stats: Stats) -> dict[str, Any]:
    return schemas.Stats.model_validate(_stats(stats)).document()


def _stats(stats: Stats) -> dict[str, Any]:
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


def _job(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "index": job.index,
        "status": state_name(job.status),
        "attempts": job.attempts,
        "error": job.error,
        "started_at": job.started_at,
        "updated_at": job.updated_at,
        "progress": progress_of(job)[1],
        "checkpoint_at": job.checkpoint_at,
    }


def job_page(page: JobPage) -> dict[str, Any]:
    return schemas.JobPage.model_validate(
        {
            "jobs": [_job(j) for j in page.jobs],
            "continuation": page.jobs[-1].job_id if page.more and page.jobs else None,
        }
    ).document()


def job_detail(detail: JobDetail) -> dict[str, Any]:
    return schemas.JobDetail.model_validate(
        {**_job(detail.job), "kind": detail.job.kind, "item": detail.item, "result": detail.result}
    ).document()


def kinds(found: Kinds) -> dict[str, Any]:
    return schemas.KindList(
        kinds=[
            schemas.KindLimits(
                name=kind.name,
                queue=kind.queue,
                max_attempts=kind.max_attempts,
                timeout=kind.timeout,
                concurrency=kind.concurrency,
                rate=kind.rate,
            )
            for kind in sorted(found.values(), key=lambda kind: kind.name)
        ]
    ).document()


def error(message: str, problems: list[Problem]) -> dict[str, Any]:
    return schemas.Error(
        error=message,
        details=[
            schemas.ErrorDetail(field=p.field, message=p.message)
            if p.index is None
            else schemas.ErrorDetail(index=p.index, field=p.field, message=p.message)
            for p in problems
        ],
    ).document()


def health(error: Exception | None) -> dict[str, Any]:
    if error is None:
        return schemas.Health(status="ok").document()
    return schemas.Health(status="unavailable", error=type(error).__name__).document()
