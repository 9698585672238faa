"""Two copies of one job's message running at once (at-least-once delivery), on the in-memory
twin: the job ends once and keeps the attempt of the run that ended it."""

from __future__ import annotations

from composition import Service
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus
from tests.jobs.lifecycle.test_writer import (
    QUEUE,
    new_task,
    service,
    table,
)

__all__ = ["service", "table"]  # the grouped and single workers of test_writer


def test_a_finished_job_keeps_the_attempt_of_the_run_that_ended_it(service: Service) -> None:
    """The first copy (its message's second delivery) runs; a late copy of the message
    (delivered once) starts the job again while it runs, and loses the finish."""
    task_id = new_task(service, "echo", ["a"])
    lifecycle = service.lifecycle
    first = lifecycle.start(RunMessage(task_id, 0), QUEUE, 2)
    late = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    assert first is not None
    assert late is not None

    assert lifecycle.complete(first, "first") is True
    assert lifecycle.complete(late, "late") is False

    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 2)


def test_a_failed_job_keeps_the_attempt_of_the_run_that_failed_it(service: Service) -> None:
    task_id = new_task(service, "echo", ["a"])
    lifecycle = service.lifecycle
    first = lifecycle.start(RunMessage(task_id, 0), QUEUE, 3)
    assert first is not None
    assert lifecycle.start(RunMessage(task_id, 0), QUEUE, 1) is not None

    assert lifecycle.fail(first, "no good") is True

    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert (job.status, job.attempts, job.error) == (JobStatus.FAILED, 3, "no good")
