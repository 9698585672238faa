"""What follows a task's end, recorded once by jobs.lifecycle.writer: its results file, the next
stage of its chain (jobs.task_end.next_stage), an event on the ``task-events`` queue, and its
webhook, delivered at least once with growing delays.

Each step tolerates running twice (a redelivered message, a crash in between): the results
file is written once per end, the event carries a stable ``event_id`` for receivers to drop
repeats, and the webhook's state lives on the task row."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta
from typing import Protocol

from jobs.collaborators import Documents, Storage
from jobs.core import logs
from jobs.core.clock import utcnow
from jobs.core.errors import JobsError
from jobs.core.messages import DeliverMessage, FinishedMessage
from jobs.core.models import Notification, Task, TaskSummary
from jobs.core.resources import CONTROL_QUEUE, EVENTS_QUEUE
from jobs.core.settings import Settings
from jobs.kinds import Kinds
from jobs.reads import task_index
from jobs.reads.tasks import result_lines, status
from jobs.storage import ConcurrentUpdate
from jobs.task_end import next_stage, retention_index, webhooks

MAX_DELIVERIES = 13  # 1 s, 2 s, 4 s, ... 2,048 s apart: about 68 minutes in all


class Following(Storage, Protocol):
    """Storage, the settings a webhook is signed and checked with, the shapes of its body, and
    the kinds a next stage is submitted with."""

    settings: Settings
    documents: Documents
    kinds: Kinds


class NotYet(JobsError):
    """The end this message follows up has not landed yet: the host retries the message."""


def event_id(task_id: str, number: int) -> str:
    """The same for every copy of one end's notification, different for the next end."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"jobs:{task_id}:{number}"))


def follow_up(service: Following, message: FinishedMessage, *, last_try: bool = False) -> None:
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
    task_index.record_finished(service.table, task, summary.status, task.completion.finished_at)
    _write_results(service, task, message.number)
    if task.then is not None:  # before the event, so the event names the next stage
        next_stage.start(service, task, message.number)
        summary = status(service, task.task_id)
    document = _store_event(service, summary, message.number)
    service.queues.publish(EVENTS_QUEUE, document.decode())
    logs.event("task_finished", task_id=task.task_id, kind=task.kind, status=summary.status.value)
    if task.callback_url:
        _start_delivery(service, task.task_id, message.number)
    retention_index.record(service.table, task)  # for the retention run: by day of its end


def _start_delivery(service: Following, task_id: str, number: int) -> None:
    """Mark end ``number``'s webhook pending and send its first try. Run again (a redelivered
    message), it sends the first try again if none was made: deliver drops repeats."""
    while True:
        task = service.table.get_task(task_id)
        if task is None or task.notification.completion > number:
            return
        note = task.notification
        if note.completion == number:
            if note.state == "pending" and note.attempts == 0:
                service.queues.send(CONTROL_QUEUE, DeliverMessage(task_id, number, 1))
            return
        pending = Notification(number, "pending", 0, None)
        try:
            service.table.update_task(task_id, etag=task.etag, notification=pending)
        except ConcurrentUpdate:
            continue  # the row moved (a twin of this message, a cancel): look again
        service.queues.send(CONTROL_QUEUE, DeliverMessage(task_id, number, 1))
        return


def deliver(service: Following, message: DeliverMessage) -> None:
    """One attempt at the webhook; schedules the next with a longer delay when it fails."""
    task = service.table.get_task(message.task_id)
    if task is None or not task.callback_url:
        return
    note = task.notification
    if note.completion != message.number or note.state != "pending":
        return  # delivered, given up, or superseded by a later end
    if note.attempts >= message.attempt:
        if note.attempts == message.attempt:  # recorded, but the next try may not have gone
            _schedule(service, message)
        return  # otherwise a repeat of an attempt already made
    body = _event(service, task.task_id, message.number)
    secret = service.settings.webhook_secret
    problem = webhooks.url_problem(task.callback_url, service.settings.callback_allowed_hosts)
    if problem is None and secret:
        the_id = event_id(task.task_id, message.number)
        problem = webhooks.post(task.callback_url, body, secret, the_id)
    elif problem is None:
        problem = "the service has no JOBS_WEBHOOK_SECRET to sign with"
    if problem is None:
        state = Notification(message.number, "delivered", message.attempt, None)
    elif message.attempt >= MAX_DELIVERIES:
        state = Notification(message.number, "failed", message.attempt, problem)
    else:
        state = Notification(message.number, "pending", message.attempt, problem)
    if not _record(service, task.task_id, message, state):
        return
    logs.event(
        "webhook_" + (state.state or "pending"),
        logging.INFO if problem is None else logging.WARNING,
        task_id=task.task_id,
        attempt=message.attempt,
        error=problem,
    )
    if state.state == "pending":
        _schedule(service, message)


def _record(service: Following, task_id: str, message: DeliverMessage, state: Notification) -> bool:
    """Store an attempt's outcome unless the notification moved on meanwhile."""
    while True:
        task = service.table.get_task(task_id)
        if task is None:
            return False
        note = task.notification
        if note.completion != message.number or note.attempts >= message.attempt:
            return False  # a later end, or a twin of this attempt, got there first
        try:
            service.table.update_task(task_id, etag=task.etag, notification=state)
        except ConcurrentUpdate:
            continue
        return True


def _schedule(service: Following, message: DeliverMessage) -> None:
    delay = timedelta(seconds=2 ** (message.attempt - 1))
    next_try = DeliverMessage(message.task_id, message.number, message.attempt + 1)
    service.queues.send(CONTROL_QUEUE, next_try, delay)


def _store_event(service: Following, summary: TaskSummary, number: int) -> bytes:
    """The end's event document as it stood when the task ended, written once: every copy of
    the event and every webhook try sends these same bytes."""
    task_id = summary.task.task_id
    stored = service.payloads.get_event(task_id, number)
    if stored is not None:
        return stored
    event = service.documents.event(summary, event_id(task_id, number), utcnow())
    document = json.dumps(event, separators=(",", ":")).encode()
    service.payloads.put_event(task_id, number, document)
    return document


def _event(service: Following, task_id: str, number: int) -> bytes:
    stored = service.payloads.get_event(task_id, number)
    if stored is not None:
        return stored
    raise NotYet(f"task {task_id}: the event of end {number} is not stored yet")


def _write_results(service: Following, task: Task, number: int) -> None:
    if service.payloads.results_size(task.task_id, number) is None:
        service.payloads.write_results(task.task_id, number, result_lines(service, task.task_id))
