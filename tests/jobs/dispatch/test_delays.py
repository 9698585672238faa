"""Delayed tasks on the in-memory twin: not_before is checked at submit, the task is scheduled
until its fan-out runs, a fan-out delivered early waits on in the queue, and a cancel does not
wait for not_before."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from composition import Service
from jobs.control.cancel import cancel_pending, request_cancel
from jobs.core.clock import stamp
from jobs.core.errors import InvalidBody
from jobs.core.messages import FanOutMessage, parse_message
from jobs.core.models import JobStatus, TaskStatus
from jobs.core.resources import CONTROL_QUEUE, all_queues
from jobs.core.settings import Settings
from jobs.dispatch import delays
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(clock: Clock) -> Service:
    return Service.over(
        Settings(test_kinds=True, dispatch_window=32),
        MemoryTableStore(),
        MemoryQueueStore(all_queues(), clock=clock),
        MemoryBlobStore(),
    )


def body(**extra: Any) -> bytes:
    return json.dumps({"kind": "echo", "items": [1, 2, 3], **extra}).encode()


def later(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def control(service: Service, clock: Clock) -> list[FanOutMessage]:
    """The fan-out messages visible now on the control queue (taken off it)."""
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    found = []
    for received in store.receive(CONTROL_QUEUE, 32, timedelta(minutes=1)):
        store.delete(CONTROL_QUEUE, received.id, received.receipt)
        message = parse_message(base64.b64decode(received.text).decode())
        if isinstance(message, FanOutMessage):
            found.append(message)
    return found


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("tomorrow", "not an ISO 8601 time"),
        ("2030-01-01T12:00:00", "no time zone"),
        ((NOW + timedelta(days=7, seconds=1)).isoformat(), "more than 7 days ahead"),
        ((NOW - timedelta(seconds=61)).isoformat(), "in the past"),
    ],
)
def test_a_bad_not_before_is_refused_naming_the_field(text: str, problem: str) -> None:
    with pytest.raises(InvalidBody) as refused:
        delays.not_before(text, NOW)
    [found] = refused.value.problems
    assert found.field == "not_before"
    assert problem in found.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2030-01-08T12:00:00Z", NOW + timedelta(days=7)),
        ("2030-01-01T11:59:30+00:00", NOW - timedelta(seconds=30)),
        ("2030-01-01T14:00:00+02:00", NOW),
    ],
)
def test_a_good_not_before_reads_as_utc(text: str, expected: datetime) -> None:
    assert delays.not_before(text, NOW) == expected


def test_a_refused_not_before_writes_nothing(service: Service) -> None:
    with pytest.raises(InvalidBody):
        submit(service, body(not_before=later(8 * 86400)), "key-1")
    tables = service.table.store
    assert isinstance(tables, MemoryTableStore)
    assert list(tables.query_partitions("", "~")) == []
    assert service.queues.store.depth(CONTROL_QUEUE) == 0


def test_a_delayed_task_is_scheduled_and_its_fan_out_hidden_until_not_before(
    service: Service, clock: Clock
) -> None:
    task = submit(service, body(not_before=later(60))).task
    assert task.not_before is not None
    summary = status(service, task.task_id)
    assert summary.status is TaskStatus.SCHEDULED
    assert not summary.status.finished
    assert summary.counts[JobStatus.PENDING] == 3
    assert control(service, clock) == []  # hidden
    clock.now += 61
    assert control(service, clock) == [FanOutMessage(task.task_id)]


def test_a_fan_out_delivered_early_sends_itself_again_and_starts_nothing(
    service: Service, clock: Clock
) -> None:
    task = submit(service, body(not_before=later(60))).task
    fan_out(service, task.task_id)  # a repeat's undelayed message, say
    assert list(service.table.jobs(task.task_id)) == []
    assert status(service, task.task_id).status is TaskStatus.SCHEDULED
    clock.now += 30
    assert control(service, clock) == []  # both copies still wait
    clock.now += 31
    assert control(service, clock) == [FanOutMessage(task.task_id)] * 2


def test_a_due_fan_out_dispatches(service: Service) -> None:
    task = submit(service, body(not_before=later(60))).task
    service.table.update_task(task.task_id, not_before=stamp(datetime.now(UTC)))
    fan_out(service, task.task_id)
    assert status(service, task.task_id).status is TaskStatus.RUNNING
    assert len(list(service.table.jobs(task.task_id))) == 3


def test_a_long_wait_goes_in_hops_under_a_messages_life() -> None:
    task = submit(Service.in_memory(), body(not_before=later(7 * 86400 - 5))).task
    assert delays.remaining(task) == delays.MAX_HOP


def test_a_cancelled_scheduled_task_ends_without_waiting(service: Service, clock: Clock) -> None:
    task = submit(service, body(not_before=later(3600))).task
    request_cancel(service, task.task_id)
    assert status(service, task.task_id).status is TaskStatus.RUNNING  # being cancelled
    [message] = control(service, clock)  # brought forward: visible now
    fan_out(service, message.task_id)
    cancel_pending(service, task.task_id)
    summary = status(service, task.task_id)
    assert summary.status is TaskStatus.CANCELLED
    assert summary.counts[JobStatus.CANCELLED] == 3
