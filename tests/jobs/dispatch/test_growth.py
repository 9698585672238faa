"""A window that gives way, on the in-memory twin: a task whose messages are taken at once grows
by one job per such start, from its end down; one whose messages wait does not; and every job
still runs once, whichever message (its predecessor's or a grown one) starts it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from composition import Service
from jobs.control.handlers import handle
from jobs.core.messages import RunMessage, parse_message
from jobs.core.models import JobStatus, TaskStatus
from jobs.core.resources import DEFAULT_QUEUE
from jobs.core.settings import Settings
from jobs.dispatch import growth, queue_choice
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage.memory import MemoryQueueStore

WINDOW = 32
LONG_AGO = timedelta(seconds=30)


@pytest.fixture
def service() -> Service:
    return Service.in_memory(Settings(test_kinds=True, dispatch_window=WINDOW))


def new_task(service: Service, total: int) -> str:
    body = json.dumps({"kind": "echo", "items": list(range(total))}).encode()
    task_id = submit(service, body).task.task_id
    fan_out(service, task_id)
    return task_id


def queue_of(service: Service, task_id: str) -> str:
    task = service.table.get_task(task_id)
    assert task is not None
    return queue_choice.job_queue(task)


def queued(service: Service, task_id: str) -> list[RunMessage]:
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    found = []
    for text in store.texts(queue_of(service, task_id)):
        message = parse_message(base64.b64decode(text).decode())
        assert isinstance(message, RunMessage)
        found.append(message)
    return found


def drain(service: Service, task_id: str, waited: timedelta) -> list[RunMessage]:
    """Run the task's job queue until it is empty, each message taken ``waited`` after it was
    sent; the messages that started a job."""
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    queue = queue_of(service, task_id)
    started: list[RunMessage] = []
    while batch := store.receive(queue, 32, timedelta(minutes=10)):
        for received in batch:
            body = base64.b64decode(received.text).decode()
            message = parse_message(body)
            assert isinstance(message, RunMessage)
            before = service.table.get_job(message.task_id, message.index)
            handle(service, queue, body, received.dequeue_count, received.id,
                   datetime.now(UTC) - waited)  # fmt: skip
            after = service.table.get_job(message.task_id, message.index)
            assert before is not None
            assert after is not None
            if before.status is JobStatus.PENDING and after.status is not JobStatus.PENDING:
                started.append(message)
            store.delete(queue, received.id, received.receipt)
    return started


def test_a_start_taken_at_once_grows_the_window_from_the_tasks_end(service: Service) -> None:
    task_id = new_task(service, 100)
    now = datetime.now(UTC)
    assert growth.taken(service, RunMessage(task_id, 0), now, now)
    assert growth.taken(service, RunMessage(task_id, 1), now, now)
    grown = [m for m in queued(service, task_id) if m.grown]
    assert [(m.index, m.grown) for m in grown] == [(99, True), (98, True)]
    task = service.table.get_task(task_id)
    assert task is not None
    assert task.grow_next == 97


def test_a_start_that_waited_grows_nothing(service: Service) -> None:
    task_id = new_task(service, 100)
    now = datetime.now(UTC)
    assert not growth.taken(service, RunMessage(task_id, 0), now - LONG_AGO, now)
    assert not [m for m in queued(service, task_id) if m.grown]


def test_a_task_within_its_window_and_a_retry_round_never_grow(service: Service) -> None:
    small = new_task(service, WINDOW)
    now = datetime.now(UTC)
    assert not growth.taken(service, RunMessage(small, 0), now, now)
    large = new_task(service, 100)
    assert not growth.taken(service, RunMessage(large, 0, generation=1), now, now)


def test_growth_stops_where_the_first_window_begins(service: Service) -> None:
    task_id = new_task(service, WINDOW + 2)
    now = datetime.now(UTC)
    assert growth.taken(service, RunMessage(task_id, 0), now, now)  # job 33
    assert growth.taken(service, RunMessage(task_id, 1), now, now)  # job 32
    assert not growth.taken(service, RunMessage(task_id, 2), now, now)  # 31 is the window's
    assert service.window.done(task_id)


def test_a_grown_job_runs_once_whichever_message_comes_first(service: Service) -> None:
    task_id = new_task(service, 100)
    lifecycle = service.lifecycle
    grown = lifecycle.start(RunMessage(task_id, 99, grown=True), DEFAULT_QUEUE, 1)
    assert grown is not None
    assert lifecycle.start(RunMessage(task_id, 99), DEFAULT_QUEUE, 1) is None  # predecessor's
    assert lifecycle.complete(grown, 99)

    chained = lifecycle.start(RunMessage(task_id, 98), DEFAULT_QUEUE, 1)
    assert chained is not None
    late = RunMessage(task_id, 98, grown=True)
    assert lifecycle.start(late, DEFAULT_QUEUE, 1) is None  # the grown copy came too late
    assert lifecycle.start(RunMessage(task_id, 99, grown=True), DEFAULT_QUEUE, 2) is None  # done


def test_a_lone_task_taken_at_once_grows_and_runs_every_job_exactly_once(
    service: Service,
) -> None:
    total = 200
    task_id = new_task(service, total)
    started = drain(service, task_id, waited=timedelta(0))

    assert sorted(m.index for m in started) == list(range(total))  # each once, none lost
    assert any(m.grown for m in started)
    summary = status(service, task_id)
    assert summary.counts[JobStatus.COMPLETED] == total
    assert summary.status is TaskStatus.COMPLETED


def test_a_task_whose_messages_wait_keeps_its_window(service: Service) -> None:
    """Beside other work (its messages wait in the queue) a task does not grow: at most its
    window of messages stands between a newcomer and the consumers."""
    total = 200
    task_id = new_task(service, total)
    started = drain(service, task_id, waited=timedelta(seconds=5))

    assert sorted(m.index for m in started) == list(range(total))
    assert not any(m.grown for m in started)
    task = service.table.get_task(task_id)
    assert task is not None
    assert task.grow_next is None
