"""Races and crashes found by a review of retry rounds and webhook follow-ups, each forced on
the in-memory twin at the point it matters. Each failed on the code as reviewed (its docstring
says how) and passes since the fix; the ``test_holds_*`` tests pin down tricky cases that were
checked and held all along."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from composition import Service
from jobs.control.cancel import request_cancel
from jobs.control.retry import request_retry, run_retry
from jobs.control.sweep import _fail_setup
from jobs.core.errors import Conflict
from jobs.core.models import (
    CancelMessage,
    DeliverMessage,
    FinishedMessage,
    JobStatus,
    Message,
    RetryMessage,
    RunMessage,
    TaskStatus,
)
from jobs.core.resources import CONTROL_QUEUE, EVENTS_QUEUE, all_queues
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage import Write
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore
from jobs.task_end import completion, webhooks
from tests.jobs.test_lifecycle import (
    QUEUE,
    Crash,
    Interfering,
    control,
    moving,
    queued,
    run_queue,
)

SECRET = "test-secret"
HOOK = "https://receiver.test/hook"
PERMANENT = {"permanent": True}


def make_service(table: Interfering, window: int = 32) -> Service:
    settings = Settings(
        test_kinds=True,
        dispatch_window=window,
        webhook_secret=SECRET,
        callback_allowed_hosts=frozenset({"receiver.test"}),
    )
    return Service.over(settings, table, MemoryQueueStore(all_queues()), MemoryBlobStore())


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


def finished(service: Service) -> list[FinishedMessage]:
    return [m for m in control(service) if isinstance(m, FinishedMessage)]


def deliveries(service: Service) -> list[DeliverMessage]:
    return [m for m in control(service) if isinstance(m, DeliverMessage)]


def writes_task(prop: str, value: object = None) -> Callable[[Sequence[Write]], bool]:
    """Picks a transaction that writes ``prop`` (with ``value``, when given) on the task row."""

    def picks(writes: Sequence[Write]) -> bool:
        return any(
            w.row == "task" and prop in w.props and (value is None or w.props[prop] == value)
            for w in writes
        )

    return picks


def crash() -> None:
    raise Crash


def pending(service: Service, task_id: str) -> list[int]:
    return [job.index for job in service.table.jobs(task_id, JobStatus.PENDING)]


# -- retry rounds ------------------------------------------------------------------------


def test_a_cancel_during_a_retry_round_cancels_every_job_it_reset(
    service: Service, table: Interfering
) -> None:
    """run_retry never looks at ``task.cancelled``: the cancel pass cancels the
    jobs already reset (among them the round's head), the round then resets the rest and
    dispatches the head, whose jobs are Cancelled and send nothing on. Jobs 40..99 stay
    Pending for ever and the task never ends."""
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
    """Found by review: a retry allowed while a job still ran let that job fail between two
    pages of the round, land in the next page unchained, and stay Pending for good. A retry
    now waits for the task to finish (409); once it has, every failed job runs once more."""
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
    """_apply_all resets a page shard by shard, so with a window above 32
    (the default is 128) a crash leaves a reset set that is not a prefix of the page. The
    resumed run_retry (jobs/control/retry.py) re-pages the still-Failed jobs from the old cursor and
    chains them by position, so a job the first attempt chained no one to is skipped."""
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
    """the round writes ``done`` and then calls settle. If its jobs have all
    ended meanwhile (their closing moves saw the round running, so recorded nothing) and the
    process dies before settle, the redelivered message finds the round done (_round_task
    returns None) and nobody ever records the task's end: no results file, event, webhook."""
    task_id = new_task(service, "fail", [PERMANENT] * 3, callback_url=HOOK)
    run_queue(service)
    assert request_retry(service, task_id) == 3
    message = retry_message(service)

    table.before(writes_task("RetryDone", 1), lambda: run_queue(service))  # jobs end first
    monkeypatch.setattr(service.lifecycle, "settle", lambda task_id: crash())
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
    """request_retry counts the setup-failed task's never-created jobs as failed
    (models.TaskSummary) and opens a round; the round finds no Failed row, and settle records
    end 2: the caller is told N jobs were requeued, and gets a second task.finished event
    and webhook, for nothing."""
    body = json.dumps({"kind": "echo", "items": [1, 2], "callback_url": HOOK}).encode()
    task_id = submit(service, body).task.task_id  # its fan-out never succeeds
    _fail_setup(service, task_id)
    assert service.table.get_task(task_id).completion.number == 1  # type: ignore[union-attr]

    requeued = request_retry(service, task_id)
    run_queue(service, CONTROL_QUEUE)

    task = service.table.get_task(task_id)
    assert task is not None
    assert (requeued, task.completion.number) == (0, 1)


# -- follow-up and webhooks --------------------------------------------------------------


def test_a_webhook_marked_pending_before_a_crash_is_still_sent(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """follow_up writes ``NotifyState=pending`` and then sends the first
    DeliverMessage. Dying in between, the redelivered finished message sees
    ``notification.completion == number`` and sends nothing: the webhook is never tried."""
    task_id = new_task(service, "echo", [1], callback_url=HOOK)
    run_queue(service)
    [message] = finished(service)
    real_send = service.queues.send

    def send(queue: str, sent: Message) -> None:
        if isinstance(sent, DeliverMessage):
            raise Crash
        real_send(queue, sent)

    monkeypatch.setattr(service.queues, "send", send)
    with pytest.raises(Crash):
        completion.follow_up(service, message)
    monkeypatch.undo()
    completion.follow_up(service, message)  # the host delivers it again

    assert deliveries(service) == [DeliverMessage(task_id, 1, 1)]


def test_a_crash_after_a_failed_attempt_still_queues_the_next_try(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deliver writes attempt N's state and then queues attempt N + 1.
    Dying in between, the redelivered attempt N finds ``attempts >= N`` and returns: no
    attempt N + 1 is ever queued and the notification stays pending for ever."""
    task_id = new_task(service, "echo", [1], callback_url=HOOK)
    run_queue(service)
    completion.follow_up(service, finished(service)[0])
    monkeypatch.setattr(webhooks, "post", lambda *args: "the receiver answered 503")
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    monkeypatch.setattr(store, "send", lambda *args, **kwargs: crash())

    with pytest.raises(Crash):
        completion.deliver(service, DeliverMessage(task_id, 1, 1))
    monkeypatch.undo()
    monkeypatch.setattr(webhooks, "post", lambda *args: "the receiver answered 503")
    completion.deliver(service, DeliverMessage(task_id, 1, 1))  # the host delivers it again

    assert DeliverMessage(task_id, 1, 2) in deliveries(service)


def test_an_unrelated_write_to_the_task_row_does_not_drop_the_webhook(
    service: Service, table: Interfering
) -> None:
    """follow_up guards the ``pending`` write with the ETag it read at the
    start and takes any ConcurrentUpdate as "a twin of this message got there first". Any
    other write to the task row in between (here a cancel of the just-finished task) makes it
    send no DeliverMessage; the finished message is then deleted: no webhook, ever."""
    task_id = new_task(service, "echo", [1], callback_url=HOOK)
    run_queue(service)
    [message] = finished(service)

    table.before(writes_task("NotifyState"), lambda: request_cancel(service, task_id))
    completion.follow_up(service, message)

    assert deliveries(service) == [DeliverMessage(task_id, 1, 1)]


def test_a_webhook_sent_after_a_retry_reopened_the_task_describes_its_own_end(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deliver builds the body from the task as it is now (event_document
    of status()), not as it ended: a retry of a failed task reopens it, and the pending
    webhook of end 1 posts a ``task.finished`` event whose status is ``running`` and whose
    ``finished_at`` is null."""
    task_id = new_task(service, "fail", [PERMANENT], callback_url=HOOK)
    run_queue(service)
    completion.follow_up(service, finished(service)[0])
    assert request_retry(service, task_id) == 1  # the caller retries before the webhook lands
    posted: list[dict[str, Any]] = []

    def post(url: str, body: bytes, secret: str, event_id: str) -> None:
        posted.append(json.loads(body))

    monkeypatch.setattr(webhooks, "post", post)
    completion.deliver(service, DeliverMessage(task_id, 1, 1))

    assert [(body["status"], body["completion"]) for body in posted] in (
        [],  # dropped as superseded, or
        [("completed_with_failures", 1)],  # the end it announces
    )
    assert all(body["finished_at"] is not None for body in posted)


# -- cases checked that hold ---------------------------------------------------------------


@pytest.mark.usefixtures("fan_out_path")
def test_holds_two_fan_outs_one_crashing_after_its_claim_dispatch_once(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = json.dumps({"kind": "echo", "items": list(range(70))}).encode()
    task_id = submit(service, body).task.task_id
    real_send = service.queues.send

    def dies(queue: str, message: Message) -> None:
        raise Crash

    monkeypatch.setattr(service.queues, "send", dies)
    with pytest.raises(Crash):
        fan_out(service, task_id, "first")  # claims, dies sending its first window
    monkeypatch.setattr(service.queues, "send", real_send)
    fan_out(service, task_id, "second")  # a repeated submit's fan-out: not the dispatcher
    assert queued(service) == []
    fan_out(service, task_id, "first")  # the first's redelivery finishes its dispatch
    run_queue(service)

    task = service.table.get_task(task_id)
    assert task is not None
    jobs = list(service.table.jobs(task_id))
    assert {(job.status, job.attempts) for job in jobs} == {(JobStatus.COMPLETED, 1)}
    assert (task.completion.number, len(finished(service))) == (1, 1)


@pytest.mark.usefixtures("fan_out_path")
def test_holds_a_cancel_after_the_claim_but_before_the_first_window_cancels_every_job(
    service: Service, table: Interfering
) -> None:
    body = json.dumps({"kind": "echo", "items": list(range(100))}).encode()
    task_id = submit(service, body).task.task_id
    # Claimed and its first window sent, the cancel lands before the task is marked dispatched.
    table.before(writes_task("State", "dispatched"), lambda: request_cancel(service, task_id))
    fan_out(service, task_id, "only")
    run_queue(service, CONTROL_QUEUE)
    run_queue(service)

    summary = status(service, task_id)
    assert summary.status is TaskStatus.CANCELLED
    assert summary.counts[JobStatus.CANCELLED] == 100
    task = summary.task
    assert (task.completion.number, task.completion.status) == (1, "cancelled")
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    assert len(store.texts(EVENTS_QUEUE)) == 1  # its follow-up ran once


def test_holds_a_skip_racing_a_complete_counts_the_job_once(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", ["a"])
    lifecycle = service.lifecycle
    claim = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    assert claim is not None
    request_cancel(service, task_id)

    def duplicate() -> None:  # the message reappears while the handler runs
        assert lifecycle.start(RunMessage(task_id, 0), QUEUE, 2) is None  # skipped

    table.before(moving(JobStatus.COMPLETED, 0), duplicate)
    assert lifecycle.complete(claim, "a") is False

    summary = status(service, task_id)
    assert summary.counts[JobStatus.CANCELLED] == 1
    assert sum(summary.counts.values()) == 1
    assert service.table.get_task(task_id).completion.number == 1  # type: ignore[union-attr]
    assert [m for m in control(service) if isinstance(m, CancelMessage)] == [CancelMessage(task_id)]
