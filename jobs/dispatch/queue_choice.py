"""Which queue a task's job messages go on.

A task names a queue (or its kind does), and its jobs run there, with one exception: a small
task of the default queue runs on ``jobs-small``. The default queue carries every large echo-like
task, each keeping a window of up to ``JOBS_DISPATCH_WINDOW`` messages queued, so a task of ten
jobs sent there waits behind every active task's window; on a lane of its own it waits only
behind other small tasks, each of which holds the lane for a fraction of a second. The lane is
decided by the task alone (its queue and size, both fixed at submit), so the fan-out, the
successors and a retry's round all agree on it. ``jobs-long`` keeps its small tasks: a long job
takes the lane for minutes, so they would hold up exactly the tasks the lane is for.

**Priority** comes before size: a task of the default queue submitted with priority ``high``
runs from ``jobs-high`` and one with ``low`` from ``jobs-low``, whatever their size; a normal
one takes ``jobs-small`` or ``jobs`` as above. So a small task may be high (on the high lane) or
low (on the low lane), and the small lane is normal work. Only the default queue has priority
lanes: submit refuses another priority for a task on another queue (a long job cannot be
made to wait once it runs, and a lane it shared would be held up by it). The lanes' order is
kept when a job starts (jobs.lifecycle.admission)."""

from __future__ import annotations

from jobs.core.models import Task
from jobs.core.resources import DEFAULT_QUEUE, HIGH_QUEUE, LOW_QUEUE, SMALL_QUEUE

# The most jobs a task may have and still run on the small lane: one table transaction's rows
# (a submit dispatches at most jobs.dispatch.small_tasks.INLINE_ITEMS of them itself).
SMALL_TASK_ITEMS = 100


def job_queue(task: Task) -> str:
    """The queue the task's run messages go on."""
    if task.queue != DEFAULT_QUEUE:
        return task.queue
    if task.priority in PRIORITY_LANES:
        return PRIORITY_LANES[task.priority]
    return SMALL_QUEUE if task.total <= SMALL_TASK_ITEMS else DEFAULT_QUEUE


# The default queue's lanes of the priorities other than normal.
PRIORITY_LANES = {"high": HIGH_QUEUE, "low": LOW_QUEUE}
