"""Fan-out races on the in-memory twin that the fan-out's claim keeps safe: a second fan-out
while the first, having claimed the task, died sending its first window; and a cancel landing
between the claim and the first window."""

from __future__ import annotations

import json

import pytest

from composition import Service
from jobs.control.cancel import request_cancel
from jobs.core.messages import FinishedMessage, Message
from jobs.core.models import JobStatus, TaskStatus
from jobs.core.resources import CONTROL_QUEUE, EVENTS_QUEUE
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage.memory import MemoryQueueStore, MemoryTableStore
from tests.jobs.conftest import make_service, writes_task
from tests.jobs.lifecycle.test_writer import Crash, Interfering, control, queued, run_queue


@pytest.fixture
def table() -> Interfering:
    return Interfering(MemoryTableStore())


@pytest.fixture
def service(table: Interfering) -> Service:
    return make_service(table)


def finished(service: Service) -> list[FinishedMessage]:
    return [m for m in control(service) if isinstance(m, FinishedMessage)]


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
