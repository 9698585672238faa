"""Which queue a task's job messages go on.

A task names a queue (or its kind does), and its jobs run there, with one exception: a small
task of the default queue runs on ``jobs-small``. The default queue carries every large echo-like
task, each keeping a window of up to ``JOBS_DISPATCH_WINDOW`` messages queued, so a task of ten
jobs sent there waits behind every active task's window; on a lane of its own it waits only
behind other small tasks, each of which holds the lane for a fraction of a second. The lane is
decided by the task alone (its queue and size, both fixed at submit), so the fan-out, the
successors and a retry's round all agree on it. ``jobs-long`` keeps its small tasks: a long job
takes the lane for minutes, so they would hold up exactly the tasks the lane is for."""

from __future__ import annotations

from jobs.core.models import Task
from jobs.core.resources import DEFAULT_QUEUE, SMALL_QUEUE

# The most jobs a task may have and still run on the small lane: one table transaction's rows
# (a submit dispatches at most jobs.dispatch.small_tasks.INLINE_ITEMS of them itself).
SMALL_TASK_ITEMS = 100


def job_queue(task: Task) -> str:
    """The queue the task's run messages go on."""
    if task.queue == DEFAULT_QUEUE and task.total <= SMALL_TASK_ITEMS:
        return SMALL_QUEUE
    return task.queue
