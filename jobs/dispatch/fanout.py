"""Turning a stored batch into job rows and its first window of messages.

Runs from the control queue, so the HTTP answer never waits on the batch's size and a new
task's setup never waits behind other tasks' job messages. Every step can run again after a
crash: chunks are inserted atomically and a chunk found already there is skipped; the first
window's messages may go out twice, which the runner tolerates."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jobs.collaborators import Storage
from jobs.core import logs
from jobs.core.clock import utcnow
from jobs.core.messages import CancelMessage, FanOutMessage, RunMessage
from jobs.core.models import Job, Setup, Task, job_id
from jobs.core.resources import CONTROL_QUEUE
from jobs.dispatch import delays, queue_choice
from jobs.storage import ConcurrentUpdate
from jobs.storage.jobs_table import AlreadyExists

PARALLEL_WRITES = 8
CHUNK_ROWS = 100  # a table transaction's limit
CHUNK_BYTES = 1_500_000  # well inside a transaction's 4 MiB, even with escaping


def fan_out(service: Storage, task_id: str, claim: str | None = None) -> None:
    """Spread the stored batch onto the task's queue, unless that was done already.

    ``claim`` names this fan-out (its queue message's id, which stays the same across
    redeliveries): however many fan-out messages a task gets (a submit repeated while the first
    runs sends one each), only the first to claim the task dispatches its jobs, and only that
    message's redelivery may finish a dispatch it started."""
    task = service.table.get_task(task_id)
    if task is None or task.setup is not Setup.ACCEPTED:
        return  # unknown (never acknowledged to a caller) or already done
    wait = delays.remaining(task)
    if wait is not None and not task.cancelled:  # early: wait on in the queue, not here
        service.queues.send(CONTROL_QUEUE, FanOutMessage(task_id), wait)
        return
    # Due, or cancelled while it waited: a cancelled one is spread now, its jobs cancelled.
    items: list[Any] = json.loads(service.payloads.get_request(task))["items"]
    spread(service, task, items, claim or uuid.uuid4().hex)


def spread(service: Storage, task: Task, items: list[Any], claim: str) -> None:
    """Write the task's job rows, then, as the task's one dispatcher, queue its first window
    and mark it dispatched."""
    table, task_id, total = service.table, task.task_id, len(items)
    queue = queue_choice.job_queue(task)
    encode = service.payloads.encode
    jobs = [
        Job(
            task_id,
            index,
            task.kind,
            item=encode(task_id, "JobDetail", job_id(index), item),
            next_index=index + task.window if index + task.window < total else None,
        )
        for index, item in enumerate(items)
    ]
    with ThreadPoolExecutor(PARALLEL_WRITES) as pool:
        # A task counted by shards has their sizes written with the rows, both before any job
        # can start, so every shard can close; in parallel, since a submit dispatching a small
        # task waits on them. (Writers' rows need no size: jobs.lifecycle.counters.)
        writes = [pool.submit(_create, service, task_id, chunk) for chunk in _chunks(jobs)]
        if task.counters == "shards":
            writes.append(pool.submit(table.size_shards, task_id, total))
        for write in writes:
            write.result()
        current = _claim(service, task_id, claim)
        if current is None:
            return  # another fan-out of this task dispatches it
        if current.cancelled:
            # Cancelled while the rows were being written: the cancel pass may have run before
            # they existed, so run it again instead of starting any job.
            service.queues.send(CONTROL_QUEUE, CancelMessage(task_id))
        else:
            first = [RunMessage(task_id, index) for index in range(min(task.window, total))]
            for _ in pool.map(lambda message: service.queues.send(queue, message), first):
                pass
    table.update_task(task_id, setup=Setup.DISPATCHED, updated_at=utcnow())
    logs.event("task_dispatched", task_id=task_id, kind=task.kind, queue=queue, total=total)


def _claim(service: Storage, task_id: str, claim: str) -> Task | None:
    """The task, once ``claim`` holds the right to dispatch it; None when another does."""
    while True:
        task = service.table.get_task(task_id)
        if task is None or task.setup is not Setup.ACCEPTED:
            return None
        if task.dispatcher is not None:
            return task if task.dispatcher == claim else None
        with contextlib.suppress(ConcurrentUpdate):  # another claim landed: look again
            service.table.update_task(task_id, etag=task.etag, dispatcher=claim)
            return task


def _create(service: Storage, task_id: str, chunk: Sequence[Job]) -> None:
    with contextlib.suppress(AlreadyExists):  # written by an earlier run of this fan-out
        service.table.create_jobs(task_id, chunk)


def _chunks(jobs: Sequence[Job]) -> Iterator[list[Job]]:
    chunk: list[Job] = []
    size = 0
    for job in jobs:
        item_size = len(job.item.text or "") if job.item else 0
        if chunk and (len(chunk) == CHUNK_ROWS or size + item_size > CHUNK_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(job)
        size += item_size + 200  # the row's other properties
    if chunk:
        yield chunk
