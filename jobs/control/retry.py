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
from typing import Protocol

from jobs.core import logs
from jobs.core.errors import Conflict
from jobs.core.messages import CancelMessage, RetryMessage, RunMessage
from jobs.core.models import Completion, JobStatus, RetryRound, Setup, Task, TaskStatus
from jobs.core.resources import CONTROL_QUEUE
from jobs.dispatch import queue_choice
from jobs.lifecycle.moves import Successor
from jobs.lifecycle.writer import Lifecycle
from jobs.reads import task_index
from jobs.reads.tasks import status
from jobs.storage import ConcurrentUpdate
from jobs.storage.jobs_table import JobsTable
from jobs.storage.payloads import Payloads
from jobs.storage.queues import JobQueues

TIME_BUDGET = 60.0  # seconds one invocation works before handing on to a fresh message


class Retrying(Protocol):
    """The table, the queues and the lifecycle, and the blobs a task's status reads."""

    table: JobsTable
    queues: JobQueues
    payloads: Payloads
    lifecycle: Lifecycle


def request_retry(service: Retrying, task_id: str) -> int:
    """Ask for the task's failed jobs to be run again; how many that is. Answers at once."""
    summary = status(service, task_id)
    task = summary.task
    if task.cancelled:
        raise Conflict("the task is cancelled")
    failed = summary.counts[JobStatus.FAILED]
    if task.retry.running:
        return failed  # a round already on its way picks them up: asking again changes nothing
    if summary.status is TaskStatus.RUNNING:
        raise Conflict("the task is still running; retry its failed jobs once it has finished")
    if task.setup is Setup.FAILED or not failed:
        return 0  # nothing to run again (a batch that never became jobs must be submitted anew)
    number = task.retry.number + 1
    if summary.status.finished:
        # It runs again: the index lists it as running. Before the intent, so the answer waits
        # no longer once the round is under way; should the message never go, a listing finds
        # the task finished after all and lists it so again (jobs.reads.task_index.heal).
        task_index.record_reopened(service.table, task, summary.status)
    service.queues.send(CONTROL_QUEUE, RetryMessage(task_id, number))
    with contextlib.suppress(ConcurrentUpdate):  # a repeat recorded the same round first
        round_ = RetryRound(number=number, done=task.retry.done)
        reopened = Completion(number=task.completion.number)  # its next end is a new one
        service.table.update_task(task_id, etag=task.etag, retry=round_, completion=reopened)
    logs.event("task_retried", task_id=task_id, kind=task.kind, requeued=failed, round=number)
    return failed


def run_retry(service: Retrying, message: RetryMessage) -> None:
    """Reset the failed jobs of the message's round, page by page, resuming where it stopped."""
    task, over = _round_task(service, message)
    if task is None:
        return
    if over:  # a redelivery after the round ended: its end may not have been recorded
        service.lifecycle.settle(task.task_id)
        return
    table, round_, deadline = service.table, task.retry, time.monotonic() + TIME_BUDGET
    while not task.cancelled:
        plan = _plan(round_.page) or _next_plan(service, task, round_.after)
        if not plan:
            break
        if not round_.page:  # saved before any reset, so a crash resumes this very page
            first = round_.after < 0 and not round_.head
            head = ",".join(f"{index}:{generation}" for index, generation, _, _ in plan)
            round_ = replace(round_, page=_encode(plan), head=head if first else round_.head)
            table.update_task(task.task_id, retry=round_)
        _reset(service, task, plan)
        round_ = replace(round_, after=plan[-1][0], page="")
        table.update_task(task.task_id, retry=round_)
        if time.monotonic() > deadline:
            service.queues.send(CONTROL_QUEUE, message)  # carry on in a fresh invocation
            return
    current = table.get_task(task.task_id)
    if current is not None and current.cancelled:
        # Cancelled meanwhile: the jobs reset so far must be cancelled, not started.
        service.queues.send(CONTROL_QUEUE, CancelMessage(task.task_id))
    else:
        for pair in filter(None, round_.head.split(",")):
            index, generation = (int(part) for part in pair.split(":"))
            run = RunMessage(task.task_id, index, generation)
            service.queues.send(queue_choice.job_queue(task), run)
    table.update_task(task.task_id, retry=replace(round_, done=round_.number, page=""))
    logs.event("task_retry_dispatched", task_id=task.task_id, kind=task.kind, round=round_.number)
    service.lifecycle.settle(task.task_id)  # nothing was left to reset: the task ends here


# A page: each failed job's index and generation once reset, and the job it will dispatch
# (the failed job ``window`` places after it, -1 for none) with that job's generation then.
Plan = list[tuple[int, int, int, int]]


def _next_plan(service: Retrying, task: Task, after: int) -> Plan:
    """The next page: the failed jobs after ``after``, each chained to the failed job
    ``window`` places after it (reset in the next page: its generation then is known now)."""
    window = task.window
    page, _ = service.table.job_page(task.task_id, JobStatus.FAILED, 2 * window, after)
    plan: Plan = []
    for position, job in enumerate(page[:window]):
        later = page[position + window] if position + window < len(page) else None
        plan.append((
            job.index,
            job.generation + 1,
            -1 if later is None else later.index,
            0 if later is None else later.generation + 1,
        ))  # fmt: skip
    return plan


def _reset(service: Retrying, task: Task, plan: Plan) -> None:
    """Reset the plan's jobs that are still failed (a resumed page skips those done)."""
    successors = {index: Successor(nxt, gen) for index, _, nxt, gen in plan if nxt >= 0}
    indices = {entry[0] for entry in plan}
    rows, _ = service.table.job_page(task.task_id, JobStatus.FAILED, 2 * len(plan), plan[0][0] - 1)
    service.lifecycle.reset([job for job in rows if job.index in indices], successors)


def _encode(plan: Plan) -> str:
    return ",".join(":".join(str(value) for value in entry) for entry in plan)


def _plan(text: str) -> Plan:
    plan: Plan = []
    for part in filter(None, text.split(",")):
        index, generation, nxt, next_generation = (int(value) for value in part.split(":"))
        plan.append((index, generation, nxt, next_generation))
    return plan


def _round_task(service: Retrying, message: RetryMessage) -> tuple[Task | None, bool]:
    """The task with ``message``'s round on record, and whether that round is already over;
    None when the round was overtaken by a newer one."""
    while True:
        task = service.table.get_task(message.task_id)
        if task is None or task.purging:
            return None, False  # gone, or being purged: nothing to run again
        if message.round < task.retry.number:
            return None, False
        if message.round <= task.retry.done:
            return task, True
        if message.round == task.retry.number:
            return task, False
        # The request's own record did not land (it died after sending): record it here.
        round_ = RetryRound(number=message.round, done=task.retry.done)
        reopened = Completion(number=task.completion.number)
        with contextlib.suppress(ConcurrentUpdate):
            service.table.update_task(
                message.task_id, etag=task.etag, retry=round_, completion=reopened
            )
