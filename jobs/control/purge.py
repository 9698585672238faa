"""Purging a finished task: deleting it with everything it owns, in resumable steps.

``DELETE /tasks/{id}?purge=true`` and the daily retention run flag the task ``Purging`` (from
then on it reads as gone) and send a ``purge`` message on the control queue. Each delivery
deletes a bounded step: up to MAX_STEP_ROWS of its rows, in transactions of 100, and up to
MAX_STEP_BLOBS blobs under ``job-payloads/<task id>/`` and ``job-outputs/<task id>/``; while any
is left it sends itself again, so a 50,000-job task never holds one invocation for long. Then
the task's idempotency key row, its listing entries, its retention index row and, last, its
task row: a crash anywhere leaves the task row (and the flag), and the message's redelivery
resumes."""

from __future__ import annotations

import contextlib
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor

from jobs.collaborators import Storage
from jobs.core import logs
from jobs.core.errors import Conflict, NotFound
from jobs.core.messages import PurgeMessage
from jobs.core.models import Task, TaskSummary
from jobs.core.resources import CONTROL_QUEUE
from jobs.reads import task_index
from jobs.storage import ConcurrentUpdate, EntityMissing
from jobs.storage.contracts import MAX_WRITES
from jobs.task_end import retention_index

MAX_STEP_ROWS = 2000  # table rows one step deletes
MAX_STEP_BLOBS = 500  # blobs one step deletes
PARALLEL_DELETES = 8


def request_purge(service: Storage, task_id: str) -> None:
    """Start purging a finished task; NotFound when there is none, Conflict while it runs (or
    waits for not_before). Asking again while it is purged changes nothing."""
    while True:
        found = service.table.read_counts(task_id)
        if found is None:
            raise NotFound(task_id)
        summary = TaskSummary.of(*found)
        if start(service, summary):
            return


def start(service: Storage, summary: TaskSummary) -> bool:
    """Flag the task and send its first step; False when the row moved meanwhile (read again
    and decide again). Conflict when the task has not finished."""
    task = summary.task
    if not task.purging:
        if not summary.status.finished or task.completion.finished_at is None:
            raise Conflict("the task has not finished; cancel it first, or wait for its end")
        try:  # guarded: a retry reopening it meanwhile wins, and the purge is refused
            service.table.update_task(task.task_id, etag=task.etag, purging=True)
        except ConcurrentUpdate:
            return False
        logs.event("task_purging", task_id=task.task_id, kind=task.kind)
    service.queues.send(CONTROL_QUEUE, PurgeMessage(task.task_id))
    return True


def purge_step(service: Storage, task_id: str) -> bool:
    """One bounded step of the task's purge; True when the task is gone."""
    task = service.table.get_task(task_id)
    if task is None:
        return True  # purged already (the task row goes last)
    if not task.purging:
        return False  # never asked for: a stray message
    rows = list(itertools.islice(service.table.owned_rows(task_id), MAX_STEP_ROWS))
    with ThreadPoolExecutor(PARALLEL_DELETES) as pool:
        chunks = [rows[at : at + MAX_WRITES] for at in range(0, len(rows), MAX_WRITES)]
        for _ in pool.map(lambda chunk: service.table.delete_rows(task_id, chunk), chunks):
            pass
        blobs = list(itertools.islice(service.payloads.owned_by(task_id), MAX_STEP_BLOBS))
        for _ in pool.map(lambda blob: service.payloads.delete(*blob), blobs):
            pass
    if len(rows) == MAX_STEP_ROWS or len(blobs) == MAX_STEP_BLOBS:  # more may be left: carry on
        service.queues.send(CONTROL_QUEUE, PurgeMessage(task_id))
        return False
    if task.key_hash is not None:
        service.table.forget_key(task.key_hash, task_id)
    forget_listing(service, task)
    if task.completion.finished_at is not None:
        retention_index.forget(service.table, task_id, task.completion.finished_at)
    with contextlib.suppress(EntityMissing):  # a twin of this message got there first
        service.table.delete_task(task_id)
    logs.event("task_purged", logging.INFO, task_id=task_id, kind=task.kind)
    return True


def forget_listing(service: Storage, task: Task) -> None:
    """The task's entries in the task listing's index."""
    task_index.forget(service.table, task)
