"""A window that gives way: a task's jobs in flight grow past its dispatch window while the
consumers have room, and stop growing once its messages wait.

A task starts with ``window`` messages queued; each job that ends sends the job ``window``
places on (its chain), so a lone task never has more than ``window`` jobs in flight however
many instances could run them. Here, a job whose message was taken at once (it waited less
than TAKEN_AT_ONCE in its queue: the consumers had room) adds one more: the task's last job
not yet taken by growth, counting down from its end (``Task.grow_next``, claimed under the
task row's ETag), sent as a ``grown`` run message. That job then runs on, and its own end
carries its chain on; its predecessor's message, when it comes, finds it grown and does
nothing (jobs.lifecycle.moves), so no job runs twice for it. Growth stops for a task when its
messages wait (the consumers are full: other work is waiting), when the count down meets the
first window, and for good once it finds nothing left to grow by.

What a caller sees: a lone large task runs as many jobs at once as the instances can, and a
task beside it still finds at most about ``window`` of its messages queued ahead of its own,
since growth only adds work that is taken at once. Retry rounds, cancelled tasks and tasks of
at most ``window`` jobs never grow."""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta
from typing import Protocol

from jobs.core.messages import RunMessage
from jobs.dispatch import queue_choice
from jobs.storage import ConcurrentUpdate
from jobs.storage.jobs_table import JobsTable
from jobs.storage.queues import JobQueues

TAKEN_AT_ONCE = timedelta(seconds=1)


class Growing(Protocol):
    table: JobsTable
    queues: JobQueues
    window: Window


class Window:
    """What this process knows of its tasks' growth: those that have none left."""

    def __init__(self, tasks: int = 4096) -> None:
        self._done: dict[str, None] = {}  # insertion-ordered, so the oldest go first
        self._tasks = tasks
        self._lock = threading.Lock()

    def done(self, task_id: str) -> bool:
        with self._lock:
            return task_id in self._done

    def finished(self, task_id: str) -> None:
        with self._lock:
            self._done[task_id] = None
            while len(self._done) > self._tasks:
                del self._done[next(iter(self._done))]


def taken(service: Growing, message: RunMessage, inserted: datetime | None, now: datetime) -> bool:
    """A job of ``message``'s task just started: grow its window by one if its message was
    taken at once. True when a job was added."""
    if inserted is None or now - inserted > TAKEN_AT_ONCE or message.generation:
        return False
    if service.window.done(message.task_id):
        return False
    task = service.table.get_task(message.task_id)
    if task is None or task.cancelled or task.retry.number or task.total <= task.window:
        service.window.finished(message.task_id)
        return False
    index = task.total - 1 if task.grow_next is None else task.grow_next
    if index < task.window:  # every job from here down goes out with the first window's chains
        service.window.finished(message.task_id)
        return False
    with contextlib.suppress(ConcurrentUpdate):  # another took this one: the next start grows
        service.table.update_task(task.task_id, etag=task.etag, grow_next=index - 1)
        grown = RunMessage(task.task_id, index, grown=True)
        service.queues.send(queue_choice.job_queue(task), grown)
        return True
    return False
