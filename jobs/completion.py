"""What follows a task's end, recorded once by jobs.lifecycle: its results file, an event on
the ``task-events`` queue, and its webhook, delivered at least once with growing delays.

Each step tolerates running twice (a redelivered message, a crash in between): the results
file is written once per end, the event carries a stable ``event_id`` for receivers to drop
repeats, and the webhook's state lives on the task row."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import uuid
from datetime import timedelta
from typing import Any

from jobs import finished_index, logs, webhooks
from jobs.errors import JobsError
from jobs.models import (
    DeliverMessage,
    FinishedMessage,
    Notification,
    Task,
    TaskSummary,
    utcnow,
)
from jobs.payloads import results_path
from jobs.resources import CONTROL_QUEUE, EVENTS_QUEUE, PAYLOADS_CONTAINER
from jobs.service import Service
from jobs.storage import ConcurrentUpdate
from jobs.tasks import result_lines, status, task_document

MAX_DELIVERIES = 13  # 1 s, 2 s, 4 s, ... 4096 s apart: over two hours in all
EVENT = "task.finished"


class NotYet(JobsError):
    """The end this message follows up has not landed yet: the host retries the message."""


def event_id(task_id: str, number: int) -> str:
    """The same for every copy of one end's notification, different for the next end."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"jobs:{task_id}:{number}"))


def follow_up(service: Service, message: FinishedMessage, *, last_try: bool = False) -> None:
    task = service.table.get_task(message.task_id)
    if task is None or task.completion.number > message.number:
        return  # gone, or a later end follows itself up
    if task.completion.number < message.number:
        if last_try:  # the end never landed: the move that meant it lost its race
            return
        raise NotYet(f"task {message.task_id}: end {message.number} not recorded yet")
    if task.completion.finished_at is None or task.purging:
        return  # a retry reopened the task since (its next end follows itself up), or purged
    summary = status(service, task.task_id)
    _write_results(service, task, message.number)
    document = event_document(summary)
    text = json.dumps(document, separators=(",", ":"))
    service.queue_store.send(EVENTS_QUEUE, base64.b64encode(text.encode()).decode("ascii"))
    logs.event("task_finished", task_id=task.task_id, kind=task.kind, status=summary.status.value)
    finished_index.record(service.tables, task)  # for the retention run: by day of its end
    if task.callback_url and task.notification.completion < message.number:
        pending = Notification(message.number, "pending", 0, None)
        with contextlib.suppress(ConcurrentUpdate):  # a twin of this message got there first
            service.table.update_task(task.task_id, etag=task.etag, notification=pending)
            service.queues.send(CONTROL_QUEUE, DeliverMessage(task.task_id, message.number, 1))


def deliver(service: Service, message: DeliverMessage) -> None:
    """One attempt at the webhook; schedules the next with a longer delay when it fails."""
    task = service.table.get_task(message.task_id)
    if task is None or not task.callback_url:
        return
    note = task.notification
    if note.completion != message.number or note.state != "pending":
        return  # delivered, given up, or superseded by a later end
    if note.attempts >= message.attempt:
        return  # a repeat of an attempt already made
    summary = status(service, task.task_id)
    body = json.dumps(event_document(summary), separators=(",", ":")).encode()
    secret = service.settings.webhook_secret
    problem = webhooks.url_problem(task.callback_url, service.settings.callback_allowed_hosts)
    if problem is None and secret:
        problem = webhooks.post(
            task.callback_url, body, secret, event_id(task.task_id, message.number)
        )
    elif problem is None:
        problem = "the service has no JOBS_WEBHOOK_SECRET to sign with"
    if problem is None:
        state = Notification(message.number, "delivered", message.attempt, None)
    elif message.attempt >= MAX_DELIVERIES:
        state = Notification(message.number, "failed", message.attempt, problem)
    else:
        state = Notification(message.number, "pending", message.attempt, problem)
    try:
        service.table.update_task(task.task_id, etag=task.etag, notification=state)
    except ConcurrentUpdate:
        raise NotYet(f"task {task.task_id}: its row moved; deliver again") from None
    logs.event(
        "webhook_" + (state.state or "pending"),
        logging.INFO if problem is None else logging.WARNING,
        task_id=task.task_id,
        attempt=message.attempt,
        error=problem,
    )
    if state.state == "pending":
        delay = timedelta(seconds=2 ** (message.attempt - 1))
        next_try = DeliverMessage(task.task_id, message.number, message.attempt + 1)
        service.queue_store.send(CONTROL_QUEUE, _encoded(next_try.to_json()), delay=delay)


def event_document(summary: TaskSummary) -> dict[str, Any]:
    task = summary.task
    number = task.completion.number
    return {
        **task_document(summary),
        "event": EVENT,
        "event_id": event_id(task.task_id, number),
        "completion": number,
        "sent_at": utcnow(),
    }


def _write_results(service: Service, task: Task, number: int) -> None:
    path = results_path(task.task_id, number)
    if service.blob_store.size(PAYLOADS_CONTAINER, path) is None:
        service.blob_store.put_stream(
            PAYLOADS_CONTAINER, path, result_lines(service, task.task_id),
            content_type="application/x-ndjson",
        )  # fmt: skip


def _encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")
