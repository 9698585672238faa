"""Retry rounds on the in-memory twin, each race or crash forced at the point it matters: a
retry refused while a job still runs, a cancel during a round, a round that dies inside a page
or after its jobs ended, and a retry of a task whose setup failed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from composition import Service
from jobs.control.cancel import request_cancel
from jobs.control.handlers import fail_setup
from jobs.control.retry import request_retry, run_retry
from jobs.core.errors import Conflict
from jobs.core.messages import RetryMessage, RunMessage
from jobs.core.models import JobStatus, TaskStatus
from jobs.core.resources import CONTROL_QUEUE
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage.memory import MemoryTableStore
from tests.jobs.conftest import HOOK, PERMANENT, crash, make_service, writes_task
from tests.jobs.lifecycle.test_writer import (
    QUEUE,
    Crash,
    Interfering,
    control,
    moving,
    run_queue,
)


@pytest.fixture
def table() -> Interfering:
    return Interfering(MemoryTableStore())


@pytest.fixture
def service(table: Interfering) -> Service:
    return make_service(table)


def new_task(service: Service, kind: str, items: list[Any], **extra: Any) -> str:
    body = json.dumps({"kind": kind, "items": items, **extra}).encode()
    task_id = submit(service, body).task.task_id
    fan_out(service, task_id)
    return task_id


def retry_message(service: Service) -> RetryMessage:
    [message] = [m for m in control(service) if isinstance(m, RetryMessage)]
    return message


def pending(service: Service, task_id: str) -> list[int]:
    return [job.index for job in service.table.jobs(task_id, JobStatus.PENDING)]


def test_a_cancel_during_a_retry_round_cancels_every_job_it_reset(
    service: Service, table: Interfering
) -> None:
    """A cancel landing while a retry round resets its pages cancels every job the round
    reset, those reset after the cancel too: finding the task cancelled, the round sends a
    cancel instead of dispatching its head, so no job is left Pending behind a head already
    cancelled (jobs 40..99 would wait for ever) and the task ends Cancelled."""
    task_id = new_task(service, "fail", [PERMANENT] * 100)
    run_queue(service)
    assert request_retry(service, task_id) == 100

    def cancel() -> None:  # the caller cancels; the host runs the cancel message meanwhile
        request_cancel(service, task_id)
        run_queue(service, CONTROL_QUEUE)

    table.before(moving(JobStatus.PENDING, 40), cancel)  # the round's second page
    run_queue(service, CONTROL_QUEUE)  # the round
    run_queue(service)
    run_queue(service, CONTROL_QUEUE)

    assert pending(service, task_id) == []
    assert status(service, task_id).status is TaskStatus.CANCELLED


def test_a_retry_is_refused_while_a_job_still_runs_so_none_can_fail_between_pages(
    service: Service,
) -> None:
    """A retry is refused (409) while a job of the task still runs, so no job can fail between
    two pages of the round, land in the next page unchained and stay Pending for good; once
    the task has finished, every failed job runs once more."""
    task_id = new_task(service, "fail", [PERMANENT] * 100)
    lifecycle = service.lifecycle
    claims = {i: lifecycle.start(RunMessage(task_id, i), QUEUE, 1) for i in range(100)}
    for index, claim in claims.items():
        assert claim is not None
        if index != 50:
            lifecycle.fail(claim, "failed")
    late = claims[50]
    assert late is not None
    with pytest.raises(Conflict):
        request_retry(service, task_id)  # job 50 still runs

    lifecycle.fail(late, "failed late")
    assert request_retry(service, task_id) == 100
    run_retry(service, retry_message(service))
    run_queue(service)

    assert pending(service, task_id) == []
    assert status(service, task_id).status is TaskStatus.COMPLETED_WITH_FAILURES


def test_a_round_that_dies_inside_a_page_resumes_that_page_with_its_chain(
    table: Interfering,
) -> None:
    """A page is reset shard by shard, so with a window above 32 (the default is 128) a crash
    leaves a reset set that is not a prefix of the page. The resumed run_retry
    (jobs/control/retry.py) finishes that very page with the chain it saved before any reset,
    rather than re-page the still-Failed jobs and chain them by position, which would skip a
    job the first attempt chained no one to: every job is dispatched and runs once more."""
    service = make_service(table, window=64)
    task_id = new_task(service, "fail", [PERMANENT] * 200)
    run_queue(service)
    assert request_retry(service, task_id) == 200
    message = retry_message(service)

    table.before(moving(JobStatus.PENDING, 1), crash)  # after shard 0's jobs 0 and 32
    with pytest.raises(Crash):
        run_retry(service, message)
    run_retry(service, message)  # the message comes back
    run_queue(service)

    assert pending(service, task_id) == []  # found: 65, 129, 193 never dispatched
    jobs = list(service.table.jobs(task_id))
    assert {(job.status, job.generation) for job in jobs} == {(JobStatus.FAILED, 1)}


def test_a_round_redelivered_after_it_ended_still_records_the_tasks_end(
    service: Service, table: Interfering, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round writes ``done`` and then calls settle. If its jobs have all ended meanwhile
    (their closing moves saw the round running, so recorded nothing) and the process dies
    before settle, the redelivered message, finding the round over, settles the task: its
    end is recorded (else no results file, event or webhook would ever follow)."""
    task_id = new_task(service, "fail", [PERMANENT] * 3, callback_url=HOOK)
    run_queue(service)
    assert request_retry(service, task_id) == 3
    message = retry_message(service)

    def jobs_end_first() -> None:
        run_queue(service)  # the jobs' own checks find the round still running
        monkeypatch.setattr(service.lifecycle, "settle", lambda task_id: crash())

    table.before(writes_task("RetryDone", 1), jobs_end_first)
    with pytest.raises(Crash):
        run_retry(service, message)
    monkeypatch.undo()
    run_retry(service, message)  # the message comes back

    task = service.table.get_task(task_id)
    assert task is not None
    assert status(service, task_id).status is TaskStatus.COMPLETED_WITH_FAILURES
    assert task.completion.finished_at is not None
    assert task.completion.number == 2


@pytest.mark.usefixtures("fan_out_path")
def test_a_retry_of_a_task_whose_setup_failed_changes_nothing(
    service: Service,
) -> None:
    """A task whose setup failed counts its never-created jobs as failed (models.TaskSummary),
    but a retry of it requeues none and opens no round: no end 2 is recorded, so the caller
    gets no second task.finished event and webhook for nothing."""
    body = json.dumps({"kind": "echo", "items": [1, 2], "callback_url": HOOK}).encode()
    task_id = submit(service, body).task.task_id  # its fan-out never succeeds
    fail_setup(service, task_id)
    assert service.table.get_task(task_id).completion.number == 1  # type: ignore[union-attr]

    requeued = request_retry(service, task_id)
    run_queue(service, CONTROL_QUEUE)

    task = service.table.get_task(task_id)
    assert task is not None
    assert (requeued, task.completion.number) == (0, 1)
