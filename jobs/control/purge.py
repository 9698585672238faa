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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from composition import Service
from jobs.core import logs
from jobs.core.errors import Conflict, NotFound
from jobs.core.models import PurgeMessage, Task, TaskSummary
from jobs.core.resources import CONTROL_QUEUE, OUTPUTS_CONTAINER, PAYLOADS_CONTAINER
from jobs.reads import task_index
from jobs.storage import ConcurrentUpdate, EntityMissing, Write
from jobs.storage.contracts import MAX_WRITES
from jobs.storage.jobs_table import KEY_PREFIX, KEY_ROW, TASK_ROW
from jobs.task_end import retention_index

MAX_STEP_ROWS = 2000  # table rows one step deletes
MAX_STEP_BLOBS = 500  # blobs one step deletes
PARALLEL_DELETES = 8


def request_purge(service: Service, task_id: str) -> None:
    """Start purging a finished task; NotFound when there is none, Conflict while it runs (or
    waits for not_before). Asking again while it is purged changes nothing."""
    while True:
        found = service.table.read_counts(task_id)
        if found is None:
            raise NotFound(task_id)
        summary = TaskSummary.of(*found)
        if start(service, summary):
            return


def start(service: Service, summary: TaskSummary) -> bool:
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


def purge_step(service: Service, task_id: str) -> bool:
    """One bounded step of the task's purge; True when the task is gone."""
    task = service.table.get_task(task_id)
    if task is None:
        return True  # purged already (the task row goes last)
    if not task.purging:
        return False  # never asked for: a stray message
    rows = list(itertools.islice(_owned_rows(service, task_id), MAX_STEP_ROWS))
    with ThreadPoolExecutor(PARALLEL_DELETES) as pool:
        chunks = [rows[at : at + MAX_WRITES] for at in range(0, len(rows), MAX_WRITES)]
        for _ in pool.map(lambda chunk: _delete_rows(service, task_id, chunk), chunks):
            pass
        blobs = list(itertools.islice(_owned_blobs(service, task_id), MAX_STEP_BLOBS))
        for _ in pool.map(lambda blob: service.blob_store.delete(*blob), blobs):
            pass
    if len(rows) == MAX_STEP_ROWS or len(blobs) == MAX_STEP_BLOBS:  # more may be left: carry on
        service.queues.send(CONTROL_QUEUE, PurgeMessage(task_id))
        return False
    _forget_key(service, task)
    forget_listing(service, task)
    if task.completion.finished_at is not None:
        retention_index.forget(service.tables, task_id, task.completion.finished_at)
    with contextlib.suppress(EntityMissing):  # a twin of this message got there first
        service.tables.transact(task_id, [Write("delete", TASK_ROW)])
    logs.event("task_purged", logging.INFO, task_id=task_id, kind=task.kind)
    return True


def forget_listing(service: Service, task: Task) -> None:
    """The task's entries in the task listing's index."""
    task_index.forget(service.table, task)


def _owned_rows(service: Service, task_id: str) -> itertools.filterfalse[str]:
    rows = (entity.row for entity in service.tables.query(task_id, select=[]))
    return itertools.filterfalse(lambda row: row == TASK_ROW, rows)


def _owned_blobs(service: Service, task_id: str) -> itertools.chain[tuple[str, str]]:
    prefix = f"{task_id}/"
    return itertools.chain.from_iterable(
        ((container, name) for name in service.blob_store.list_names(container, prefix))
        for container in (PAYLOADS_CONTAINER, OUTPUTS_CONTAINER)
    )


def _delete_rows(service: Service, task_id: str, rows: Sequence[str]) -> None:
    try:
        service.tables.transact(task_id, [Write("delete", row) for row in rows])
    except EntityMissing:  # a twin step deleted some of them: the rest one by one
        for row in rows:
            with contextlib.suppress(EntityMissing):
                service.tables.transact(task_id, [Write("delete", row)])


def _forget_key(service: Service, task: Task) -> None:
    """The Idempotency-Key's row, if it names this task (a key reused after an earlier purge
    names a newer one)."""
    if task.key_hash is None:
        return
    partition = f"{KEY_PREFIX}{task.key_hash}"
    entity = service.tables.get(partition, KEY_ROW)
    if entity is None or entity.props.get("TaskId") != task.task_id:
        return
    with contextlib.suppress(EntityMissing, ConcurrentUpdate):
        service.tables.transact(partition, [Write("delete", KEY_ROW, etag=entity.etag)])
