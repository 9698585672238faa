"""The JSON the service shows the world, wherever it goes: a task's document (in answers, in a
``task.finished`` event and webhook body), a line of a task's results file, and the names the
API gives job states. The domain writes events and results files through these (the
composition root hands them over as jobs.collaborators.Documents), so one shape serves the
answers, the events and the files."""

from __future__ import annotations

import json
from typing import Any

from jobs.core.models import Job, JobStatus, JsonValue, TaskSummary

STATE_NAMES: dict[JobStatus, str] = {
    JobStatus.PENDING: "pending",
    JobStatus.IN_PROGRESS: "in_progress",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}
EVENT = "task.finished"


def state_name(status: JobStatus) -> str:
    """The snake_case name the API uses (``in_progress``)."""
    return STATE_NAMES[status]


def status_named(name: str) -> JobStatus:
    """The status the API name ``name`` stands for; ValueError for none."""
    for status, api in STATE_NAMES.items():
        if api == name:
            return status
    raise ValueError(name)


def task_document(summary: TaskSummary) -> dict[str, Any]:
    """What a caller, a webhook and an event are told of a task (answers add its URLs)."""
    task, completion, note = summary.task, summary.task.completion, summary.task.notification
    return {
        "task_id": task.task_id,
        "kind": task.kind,
        "queue": task.queue,
        "priority": task.priority,
        "status": summary.status.value,
        "total": task.total,
        "counts": {state_name(status): summary.counts[status] for status in JobStatus},
        "progress": round(summary.progress, 4),
        "created_at": task.created_at,
        "started_at": task.started_at,
        "updated_at": task.updated_at,
        "finished_at": completion.finished_at if summary.status.finished else None,
        "error": task.error,
        "not_before": task.not_before,
        "source": task.source,
        "metadata": None if task.metadata is None else json.loads(task.metadata),
        "notification": None
        if not task.callback_url or not note.state
        else {"state": note.state, "attempts": note.attempts, "last_error": note.last_error},
        # Its chain (jobs.dispatch.stages): the stages still to come, and its neighbours.
        "previous": task.previous,
        "next": task.next_task,
        "then": None if task.then is None else json.loads(task.then),
        "stage_error": task.stage_error,
    }


class WireDocuments:
    """jobs.collaborators.Documents, in the API's shapes."""

    def task(self, summary: TaskSummary) -> dict[str, Any]:
        return task_document(summary)

    def event(self, summary: TaskSummary, event_id: str, sent_at: str) -> dict[str, Any]:
        return {
            **task_document(summary),
            "event": EVENT,
            "event_id": event_id,
            "completion": summary.task.completion.number,
            "sent_at": sent_at,
        }

    def result_line(self, job: Job, result: JsonValue) -> bytes:
        line: dict[str, Any] = {
            "index": job.index,
            "job_id": job.job_id,
            "status": state_name(job.status),
        }
        if job.status is JobStatus.COMPLETED:
            line["result"] = result
        else:
            line["error"] = job.error
        return json.dumps(line, separators=(",", ":")).encode() + b"\n"
