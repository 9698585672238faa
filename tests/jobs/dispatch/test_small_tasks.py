"""A small task dispatched by its own submit, on the in-memory twin: rows and first messages
written before the answer, the fan-out message behind it a no-op (or the one that finishes the
dispatch after a crash), repeats and delayed tasks as before, and which queue jobs run from."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from composition import Service
from jobs.control.handlers import handle
from jobs.core.messages import FanOutMessage, Message, RunMessage, parse_message
from jobs.core.models import JobStatus, Setup
from jobs.core.resources import CONTROL_QUEUE, DEFAULT_QUEUE, SMALL_QUEUE, all_queues
from jobs.core.settings import Settings
from jobs.dispatch import small_tasks
from jobs.dispatch.queue_choice import SMALL_TASK_ITEMS
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Died(BaseException):
    """The process dying at that line: nothing of ours catches it."""


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queues(clock: Clock) -> MemoryQueueStore:
    return MemoryQueueStore(all_queues(), clock=clock)


@pytest.fixture
def service(queues: MemoryQueueStore) -> Service:
    settings = Settings(test_kinds=True, dispatch_window=32)
    return Service.over(settings, MemoryTableStore(), queues, MemoryBlobStore())


def body(items: list[Any], **extra: Any) -> bytes:
    return json.dumps({"kind": "echo", "items": items, **extra}).encode()


def messages(queues: MemoryQueueStore, queue: str) -> list[Message]:
    """Every message on ``queue``, visible or not, left where it is."""
    return [parse_message(base64.b64decode(text).decode()) for text in queues.texts(queue)]


def runs(queues: MemoryQueueStore, queue: str) -> list[RunMessage]:
    return [m for m in messages(queues, queue) if isinstance(m, RunMessage)]


def setup_of(service: Service, task_id: str) -> Setup:
    task = service.table.get_task(task_id)
    assert task is not None
    return task.setup


def deliver(service: Service, queues: MemoryQueueStore, queue: str) -> int:
    """Run the messages visible on ``queue`` now, as the host would, until none is; how many."""
    delivered = 0
    while batch := queues.receive(queue, 32, timedelta(minutes=10)):
        for received in batch:
            text = base64.b64decode(received.text).decode()
            handle(service, queue, text, received.dequeue_count, received.id)
            queues.delete(queue, received.id, received.receipt)
            delivered += 1
    return delivered


def test_a_small_task_has_its_rows_and_first_messages_when_the_submit_answers(
    service: Service, queues: MemoryQueueStore
) -> None:
    task = submit(service, body(list(range(10)))).task

    stored = service.table.get_task(task.task_id)
    assert stored is not None
    assert stored.setup is Setup.DISPATCHED
    assert [job.index for job in service.table.jobs(task.task_id)] == list(range(10))
    assert sorted(m.index for m in runs(queues, SMALL_QUEUE)) == list(range(10))
    assert messages(queues, DEFAULT_QUEUE) == []
    # The fan-out message behind the dispatch was taken back once it was done.
    assert messages(queues, CONTROL_QUEUE) == []


def test_until_the_dispatch_is_done_a_hidden_fan_out_message_with_its_claim_stands_behind_it(
    service: Service, queues: MemoryQueueStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[Message]] = []
    real_spread = small_tasks.spread  # type: ignore[attr-defined]

    def spread(*args: Any) -> None:
        seen.append(messages(queues, CONTROL_QUEUE))
        real_spread(*args)

    monkeypatch.setattr(small_tasks, "spread", spread)
    task = submit(service, body(list(range(10)))).task

    stored = service.table.get_task(task.task_id)
    assert stored is not None
    assert seen == [[FanOutMessage(task.task_id, stored.dispatcher)]]
    assert messages(queues, CONTROL_QUEUE) == []


def test_a_fan_out_message_that_could_not_be_taken_back_changes_nothing(
    service: Service, queues: MemoryQueueStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*_: Any) -> None:
        raise ConnectionError("storage went away")

    monkeypatch.setattr(service.queues, "withdraw", unavailable)
    task = submit(service, body(list(range(10)))).task  # answered all the same
    assert setup_of(service, task.task_id) is Setup.DISPATCHED
    clock.now += small_tasks.SAFETY_NET.total_seconds()

    assert deliver(service, queues, CONTROL_QUEUE) == 1
    assert len(messages(queues, SMALL_QUEUE)) == 10  # no window sent twice
    assert deliver(service, queues, SMALL_QUEUE) == 10
    assert status(service, task.task_id).counts[JobStatus.COMPLETED] == 10
    assert {(job.status, job.attempts) for job in service.table.jobs(task.task_id)} == {
        (JobStatus.COMPLETED, 1)
    }


def test_a_repeated_submit_of_a_dispatched_task_returns_it_and_sends_nothing(
    service: Service, queues: MemoryQueueStore
) -> None:
    first = submit(service, body([1, 2, 3]), "key-1")
    again = submit(service, body([1, 2, 3]), "key-1")

    assert (first.created, again.created) == (True, False)
    assert again.task.task_id == first.task.task_id
    assert len(messages(queues, SMALL_QUEUE)) == 3
    assert messages(queues, CONTROL_QUEUE) == []
    assert len(list(service.table.jobs(first.task.task_id))) == 3


def test_a_delayed_small_task_is_left_to_its_fan_out(
    service: Service, queues: MemoryQueueStore
) -> None:
    when = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    task = submit(service, body([1, 2], not_before=when)).task

    stored = service.table.get_task(task.task_id)
    assert stored is not None
    assert (stored.setup, stored.dispatcher) == (Setup.ACCEPTED, None)
    assert list(service.table.jobs(task.task_id)) == []
    assert messages(queues, SMALL_QUEUE) == []
    assert messages(queues, CONTROL_QUEUE) == [FanOutMessage(task.task_id)]
    assert queues.receive(CONTROL_QUEUE, 32, timedelta(minutes=1)) == []  # hidden an hour


def test_a_batch_over_the_inline_bounds_is_left_to_its_fan_out(
    service: Service, queues: MemoryQueueStore
) -> None:
    small = submit(service, body(list(range(small_tasks.INLINE_ITEMS + 1)))).task
    heavy = submit(service, body(["x" * 1000] * 70)).task  # few items, over INLINE_BYTES
    large = submit(service, body(list(range(SMALL_TASK_ITEMS + 1)))).task

    for task in (small, heavy, large):
        assert setup_of(service, task.task_id) is Setup.ACCEPTED
    assert runs(queues, SMALL_QUEUE) == []
    deliver(service, queues, CONTROL_QUEUE)
    # The small ones' jobs run from jobs-small all the same; the large one's from its queue.
    assert {m.task_id for m in runs(queues, SMALL_QUEUE)} == {small.task_id, heavy.task_id}
    assert {m.task_id for m in runs(queues, DEFAULT_QUEUE)} == {large.task_id}


def test_a_small_task_of_another_queue_runs_from_that_queue(
    service: Service, queues: MemoryQueueStore
) -> None:
    task = submit(service, body([1, 2], queue="jobs-long")).task

    assert [m.task_id for m in runs(queues, "jobs-long")] == [task.task_id] * 2
    assert messages(queues, SMALL_QUEUE) == []


def test_a_submit_dying_between_the_rows_and_the_messages_still_runs_every_job_once(
    service: Service, queues: MemoryQueueStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = service.queues.send

    def dies_at_the_first_job(queue: str, message: Message, delay: timedelta | None = None) -> None:
        if isinstance(message, RunMessage):
            raise Died
        real_send(queue, message, delay)

    monkeypatch.setattr(service.queues, "send", dies_at_the_first_job)
    with pytest.raises(Died):
        submit(service, body(list(range(10))), "key-2")
    monkeypatch.setattr(service.queues, "send", real_send)

    [task_id] = {m.task_id for m in messages(queues, CONTROL_QUEUE)}
    stored = service.table.get_task(task_id)
    assert stored is not None
    assert (stored.setup, len(list(service.table.jobs(task_id)))) == (Setup.ACCEPTED, 10)
    assert messages(queues, SMALL_QUEUE) == []
    assert deliver(service, queues, CONTROL_QUEUE) == 0  # the safety net is still hidden

    clock.now += small_tasks.SAFETY_NET.total_seconds()
    assert deliver(service, queues, CONTROL_QUEUE) == 1  # it finishes the dispatch
    assert deliver(service, queues, SMALL_QUEUE) == 10
    jobs = list(service.table.jobs(task_id))
    assert {(job.status, job.attempts) for job in jobs} == {(JobStatus.COMPLETED, 1)}
    assert status(service, task_id).counts[JobStatus.COMPLETED] == 10


def test_a_failed_inline_dispatch_still_answers_and_its_fan_out_finishes_it(
    service: Service, queues: MemoryQueueStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = service.queues.send
    failing = [True]

    def storage_away(queue: str, message: Message, delay: timedelta | None = None) -> None:
        if failing[0] and isinstance(message, RunMessage):
            raise ConnectionError("storage did not answer")
        real_send(queue, message, delay)

    monkeypatch.setattr(service.queues, "send", storage_away)
    submitted = submit(service, body([1, 2, 3]))
    failing[0] = False

    assert submitted.created
    assert messages(queues, SMALL_QUEUE) == []
    clock.now += small_tasks.SAFETY_NET.total_seconds()
    deliver(service, queues, CONTROL_QUEUE)
    assert deliver(service, queues, SMALL_QUEUE) == 3
    assert status(service, submitted.task.task_id).counts[JobStatus.COMPLETED] == 3


def test_a_repeat_during_a_dispatch_sends_a_fan_out_that_leaves_it_to_the_submit(
    service: Service, queues: MemoryQueueStore, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeat that finds the task still being set up sends a fan-out of its own, as before;
    the submit's claim is on the task, so that one dispatches nothing."""
    real_send = service.queues.send
    repeated: list[bool] = []
    lock = threading.Lock()

    def repeat_first(queue: str, message: Message, delay: timedelta | None = None) -> None:
        if isinstance(message, RunMessage):
            with lock:  # the window goes out from several threads
                if not repeated:
                    repeated.append(submit(service, body([1, 2]), "key-3").created)
        real_send(queue, message, delay)

    monkeypatch.setattr(service.queues, "send", repeat_first)
    task = submit(service, body([1, 2]), "key-3").task
    monkeypatch.setattr(service.queues, "send", real_send)

    assert repeated == [False]
    assert deliver(service, queues, CONTROL_QUEUE) == 1  # the repeat's, visible at once
    clock.now += small_tasks.SAFETY_NET.total_seconds()
    assert deliver(service, queues, CONTROL_QUEUE) == 1  # the safety net
    assert sorted(m.index for m in runs(queues, SMALL_QUEUE)) == [0, 1]
    assert setup_of(service, task.task_id) is Setup.DISPATCHED


def test_a_fan_out_message_keeps_its_claim_on_the_wire() -> None:
    message = FanOutMessage("3f1c2a4e-0c4b-4f53-9d55-0e7d1c1f9a10", "c0ffee")
    assert parse_message(message.to_json()) == message
    plain = FanOutMessage("3f1c2a4e-0c4b-4f53-9d55-0e7d1c1f9a10")
    assert json.loads(plain.to_json()) == {"op": "fanout", "task_id": plain.task_id}
    with pytest.raises(ValueError, match="claim"):
        parse_message(json.dumps({"op": "fanout", "task_id": plain.task_id, "claim": 7}))
