"""Retrying a task's failed jobs, as background work.

The request records a retry *round* and sends its message (the intent first, so a round on
record always has a message); a control-queue function then resets the failed jobs page by
page and saves its cursor on the task row after each, so a crash resumes where it stopped and
a repeat of the same round's message changes nothing. Each reset job is chained to the failed
job ``window`` places after it, exactly as a fan-out chains new jobs, and the round's first
window is sent only when every page is done: retried jobs go back through the dispatch window
like new ones, and a retried big task does not crowd out small ones. Counts move with every
reset, so they stay exact throughout."""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

from jobs import logs
from jobs.errors import Conflict
from jobs.lifecycle import Successor
from jobs.models import Completion, JobStatus, RetryMessage, RetryRound, RunMessage, Task
from jobs.resources import CONTROL_QUEUE
from jobs.service import Service
from jobs.storage import ConcurrentUpdate
from jobs.tasks import status

TIME_BUDGET = 60.0  # seconds one invocation works before handing on to a fresh message


def request_retry(service: Service, task_id: str) -> int:
    """Ask for the task's failed jobs to be run again; how many that is. Answers at once."""
    summary = status(service, task_id)
    task = summary.task
    if task.cancelled:
        raise Conflict("the task is cancelled")
    failed = summary.counts[JobStatus.FAILED]
    if task.retry.running or not failed:
        return failed  # a round already on its way picks them up, or there is nothing to do
    number = task.retry.number + 1
    service.queues.send(CONTROL_QUEUE, RetryMessage(task_id, number))
    with contextlib.suppress(ConcurrentUpdate):  # a repeat recorded the same round first
        round_ = RetryRound(number=number, done=task.retry.done)
        reopened = Completion(number=task.completion.number)  # its next end is a new one
        service.table.update_task(task_id, etag=task.etag, retry=round_, completion=reopened)
    logs.event("task_retried", task_id=task_id, kind=task.kind, requeued=failed, round=number)
    return failed


def run_retry(service: Service, message: RetryMessage) -> None:
    """Reset the failed jobs of the message's round, resuming from the saved cursor."""
    task = _round_task(service, message)
    if task is None:
        return
    table, window = service.table, task.window
    round_, deadline = task.retry, time.monotonic() + TIME_BUDGET
    while True:
        # One page, and the window after it: the jobs the page's jobs will dispatch.
        page, _ = table.job_page(task.task_id, JobStatus.FAILED, 2 * window, round_.after)
        current = page[:window]
        if not current:
            break
        if round_.after < 0 and not round_.head:  # the round's first page: its first window
            round_ = replace(
                round_, head=",".join(f"{j.index}:{j.generation + 1}" for j in current)
            )
            table.update_task(task.task_id, retry=round_)
        successors = {
            job.index: Successor(after.index, after.generation + 1)
            for job, after in zip(current, page[window:], strict=False)
        }
        service.lifecycle.reset(current, successors)
        round_ = replace(round_, after=current[-1].index)
        table.update_task(task.task_id, retry=round_)
        if time.monotonic() > deadline:
            service.queues.send(CONTROL_QUEUE, message)  # carry on in a fresh invocation
            return
    for pair in filter(None, round_.head.split(",")):
        index, generation = (int(part) for part in pair.split(":"))
        service.queues.send(task.queue, RunMessage(task.task_id, index, generation))
    table.update_task(task.task_id, retry=replace(round_, done=round_.number))
    logs.event("task_retry_dispatched", task_id=task.task_id, kind=task.kind, round=round_.number)
    service.lifecycle.settle(task.task_id)  # nothing was left to reset: the task ends here


def _round_task(service: Service, message: RetryMessage) -> Task | None:
    """The task, with ``message``'s round on record; None when that round is over or was
    overtaken by a newer one."""
    while True:
        task = service.table.get_task(message.task_id)
        if task is None or task.purging:
            return None  # gone, or being purged: nothing to run again
        if message.round <= task.retry.done or message.round < task.retry.number:
            return None
        if message.round == task.retry.number:
            return task
        # The request's own record did not land (it died after sending): record it here.
        round_ = RetryRound(number=message.round, done=task.retry.done)
        reopened = Completion(number=task.completion.number)
        with contextlib.suppress(ConcurrentUpdate):
            service.table.update_task(
                message.task_id, etag=task.etag, retry=round_, completion=reopened
            )
