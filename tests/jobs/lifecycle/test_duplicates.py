"""Two copies of one job's message running at once (at-least-once delivery), on the in-memory
twin: the job ends once, keeps the attempt of the run that ended it, and the copy that loses
takes back the successor message it sent, so twins do not pass down the window's chain. And
the rule that makes taking it back safe: whoever ends a started job sends its successor."""

from __future__ import annotations

import pytest

from composition import Service
from jobs.control.cancel import request_cancel
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus
from jobs.lifecycle.moves import MOVES, Change, Event
from jobs.lifecycle.writer import Entry
from tests.jobs.lifecycle.test_writer import (
    QUEUE,
    Interfering,
    counts,
    moving,
    new_task,
    queued,
    run_queue,
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


def test_a_duplicate_that_loses_the_finish_takes_back_the_successor_it_sent(
    service: Service,
) -> None:
    task_id = new_task(service, "echo", list(range(40)))  # job 0's successor is job 32
    lifecycle = service.lifecycle
    first = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    twin = lifecycle.start(RunMessage(task_id, 0), QUEUE, 2)
    assert first is not None
    assert twin is not None

    assert lifecycle.complete(first, 0) is True
    assert lifecycle.complete(twin, 0) is False

    assert queued(service, QUEUE).count(RunMessage(task_id, 32)) == 1
    assert run_queue(service) == 40  # one message a job: job 0's own (a no-op now), 39 others
    assert counts(service, task_id)[JobStatus.COMPLETED] == 40


def test_a_duplicate_losing_to_the_sweep_takes_back_its_successor_and_the_sweeps_stays(
    service: Service, table: Interfering
) -> None:
    """The sweep ends the job between the duplicate's send and its write: the sweep's own
    successor message (sent before its write) is the one that stays."""
    task_id = new_task(service, "echo", list(range(40)))
    lifecycle = service.lifecycle
    claim = lifecycle.start(RunMessage(task_id, 0), QUEUE, 5)
    assert claim is not None
    before = queued(service, QUEUE).count(RunMessage(task_id, 32))
    table.before(
        moving(JobStatus.COMPLETED, 0),
        lambda: lifecycle.poison(RunMessage(task_id, 0), QUEUE),
    )

    assert lifecycle.complete(claim, 0) is False

    assert queued(service, QUEUE).count(RunMessage(task_id, 32)) == before + 1
    assert counts(service, task_id)[JobStatus.FAILED] == 1


def test_a_duplicate_losing_to_a_skip_takes_back_its_successor_and_the_skips_stays(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", list(range(40)))
    lifecycle = service.lifecycle
    claim = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    assert claim is not None
    request_cancel(service, task_id)
    table.before(
        moving(JobStatus.COMPLETED, 0),
        lambda: lifecycle.start(RunMessage(task_id, 0), QUEUE, 2),  # a copy finds it cancelled
    )

    assert lifecycle.complete(claim, 0) is False

    assert queued(service, QUEUE).count(RunMessage(task_id, 32)) == 1
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert (job.status, job.next_sent) == (JobStatus.CANCELLED, True)


def test_in_one_group_a_move_that_lands_never_leans_on_a_loser_s_message(
    service: Service,
) -> None:
    """A duplicate's finish (its successor sent by its caller) and the sweep's poison of the
    same job meet in one group, the poison first: the poison lands and the finish does not,
    so the finish's caller takes its message back. The poison must have sent its own."""
    task_id = new_task(service, "echo", list(range(40)))
    lifecycle = service.lifecycle
    claim = lifecycle.start(RunMessage(task_id, 0), QUEUE, 5)
    assert claim is not None
    before = queued(service, QUEUE).count(RunMessage(task_id, 32))
    lifecycle.queues.send(QUEUE, RunMessage(task_id, 32))  # the finish's caller sent it
    finish = Entry(0, Change(Event.COMPLETE, 0, attempt=5), QUEUE, row=claim.job, sent=True)
    poison = Entry(0, Change(Event.POISON, 0), QUEUE)

    (poisoned, _), (finished, _) = lifecycle.apply(task_id, [poison, finish])

    assert poisoned is not None
    assert poisoned.status is JobStatus.FAILED
    assert finished is None
    assert queued(service, QUEUE).count(RunMessage(task_id, 32)) == before + 2  # one each


def test_a_successor_that_cannot_be_taken_back_is_left_as_a_duplicate(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taking the message back is best effort: one a worker received meanwhile, or a storage
    error, leaves it to run as any duplicate does."""
    task_id = new_task(service, "echo", list(range(40)))
    lifecycle = service.lifecycle
    first = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    twin = lifecycle.start(RunMessage(task_id, 0), QUEUE, 2)
    assert first is not None
    assert twin is not None
    assert lifecycle.complete(first, 0) is True

    def unavailable(queue: str, sent: object) -> None:
        raise OSError("storage away")

    monkeypatch.setattr(lifecycle.queues, "withdraw", unavailable)
    assert lifecycle.complete(twin, 0) is False

    assert queued(service, QUEUE).count(RunMessage(task_id, 32)) == 2
    run_queue(service)
    counted = counts(service, task_id)
    assert counted[JobStatus.COMPLETED] == sum(counted.values()) == 40


def test_every_move_that_ends_a_started_job_sends_its_successor() -> None:
    """What makes taking a message back safe: a finish finds its started job ended only by a
    move that sent the successor before its own write (a complete, a fail, a skip, the
    sweep's poison); the cancel pass and a retry's reset never move a started job."""
    ending = {
        event
        for event, move in MOVES.items()
        if JobStatus.IN_PROGRESS in move.sources and move.target is not JobStatus.IN_PROGRESS
    }
    assert ending == {Event.SKIP, Event.COMPLETE, Event.FAIL, Event.POISON}
    assert all(MOVES[event].dispatches for event in ending)
