"""Counting by writers on the in-memory twin: each writer counts the moves it writes in a row
of its own, so instances moving one task never collide on its counters; the sum stays exact
whichever writer starts or finishes a job, and the task's end is recorded once."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from composition import Service
from jobs.control.cancel import request_cancel
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus, TaskStatus
from jobs.core.resources import DEFAULT_QUEUE, all_queues
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.lifecycle.writer import Lifecycle
from jobs.reads import throughput
from jobs.reads.tasks import status
from jobs.storage import ConcurrentUpdate, TableStore, Write
from jobs.storage.keys import WRITER_PREFIX, shard_number
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore
from tests.jobs.lifecycle.test_writer import Delegating, Interfering, moving

QUEUE = DEFAULT_QUEUE
SETTINGS = Settings(test_kinds=True, dispatch_window=32, counter_layout="writers")


class Counting(Delegating):
    """The twin's table, counting the transactions that lost an ETag race."""

    def __init__(self, store: TableStore) -> None:
        super().__init__(store)
        self.lost = 0
        self.lock = threading.Lock()

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        try:
            return self.store.transact(partition, writes)
        except ConcurrentUpdate:
            with self.lock:
                self.lost += 1
            raise


@pytest.fixture
def table() -> Interfering:
    return Interfering(MemoryTableStore())


@pytest.fixture
def service(table: Interfering) -> Service:
    return Service.over(SETTINGS, table, MemoryQueueStore(all_queues()), MemoryBlobStore())


def worker(service: Service) -> Lifecycle:
    """Another worker process over the same storage: its own writer, its own caches."""
    return Service.over(
        service.settings, service.table.store, service.queues.store, service.payloads.store
    ).lifecycle


def new_task(service: Service, items: list[Any]) -> str:
    task_id = submit(service, json.dumps({"kind": "echo", "items": items}).encode()).task.task_id
    fan_out(service, task_id)
    return task_id


def counts(service: Service, task_id: str) -> dict[JobStatus, int]:
    return dict(status(service, task_id).counts)


def writer_rows(service: Service, task_id: str) -> list[str]:
    return sorted(
        entity.row
        for entity in service.table.store.query(task_id)
        if entity.row.startswith(WRITER_PREFIX)
    )


def test_a_new_task_is_counted_by_writers_and_has_no_shards(service: Service) -> None:
    task_id = new_task(service, list(range(40)))
    task = service.table.get_task(task_id)
    assert task is not None
    assert task.counters == "writers"
    assert not [
        e.row for e in service.table.store.query(task_id) if shard_number(e.row) is not None
    ]


def test_a_job_finished_by_another_writer_counts_exactly_and_touches_only_its_own_row(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, ["a", "b"])
    first, second = service.lifecycle, worker(service)
    claim = first.start(RunMessage(task_id, 0), QUEUE, 1)
    assert claim is not None
    table.transactions.clear()

    # The message comes back (the first worker was slow): the second starts it and ends it.
    again = second.start(RunMessage(task_id, 0), QUEUE, 2)
    assert again is not None
    assert second.complete(again, "done")

    assert counts(service, task_id)[JobStatus.IN_PROGRESS] == 0
    assert counts(service, task_id)[JobStatus.COMPLETED] == 1
    touched = {row for rows in table.transactions for row in rows if row.startswith("shard-w-")}
    assert touched == {f"{WRITER_PREFIX}{second.writer}"}
    assert not first.complete(claim, "late")  # the first's finish finds it done: no count
    assert counts(service, task_id)[JobStatus.COMPLETED] == 1


def test_a_writer_that_dies_between_its_moves_leaves_the_counts_exact(service: Service) -> None:
    task_id = new_task(service, ["a", "b", "c"])
    doomed = worker(service)
    for index in range(3):
        assert doomed.start(RunMessage(task_id, index), QUEUE, 1) is not None
    del doomed  # gone with its caches; its row stays, counting three jobs in progress

    survivor = service.lifecycle
    for index in range(3):
        claim = survivor.start(RunMessage(task_id, index), QUEUE, 2)  # the messages come back
        assert claim is not None
        assert survivor.complete(claim, index)

    summary = status(service, task_id)
    assert summary.counts[JobStatus.IN_PROGRESS] == 0
    assert summary.counts[JobStatus.COMPLETED] == 3
    assert summary.status is TaskStatus.COMPLETED
    task = service.table.get_task(task_id)
    assert task is not None
    assert task.completion.number == 1


def test_two_writers_racing_over_one_job_move_it_once(service: Service, table: Interfering) -> None:
    task_id = new_task(service, ["only"])
    first, second = service.lifecycle, worker(service)
    mine = first.start(RunMessage(task_id, 0), QUEUE, 1)
    theirs = second.start(RunMessage(task_id, 0), QUEUE, 1)  # a duplicate copy of the message
    assert mine is not None
    assert theirs is not None

    # Theirs lands between my read and my write: mine loses and is decided again.
    table.before(moving(JobStatus.COMPLETED, 0), lambda: second.complete(theirs, "theirs"))
    assert not first.complete(mine, "mine")

    assert counts(service, task_id)[JobStatus.COMPLETED] == 1
    assert counts(service, task_id)[JobStatus.IN_PROGRESS] == 0
    task = service.table.get_task(task_id)
    assert task is not None
    assert task.completion.number == 1  # one end, whoever recorded it


def test_four_writers_on_one_task_lose_no_race_on_its_counters() -> None:
    table = Counting(MemoryTableStore())
    queues = MemoryQueueStore(all_queues())
    setup = Service.over(SETTINGS, table, queues, MemoryBlobStore())
    total = 400
    task_id = new_task(setup, list(range(total)))
    workers = [setup.lifecycle, *(worker(setup) for _ in range(3))]

    def run(index: int) -> None:
        lifecycle = workers[index % len(workers)]
        with lifecycle.working(task_id):
            claim = lifecycle.start(RunMessage(task_id, index), QUEUE, 1)
            assert claim is not None
            assert lifecycle.complete(claim, index)

    with ThreadPoolExecutor(16) as pool:
        for done in [pool.submit(run, index) for index in range(total)]:
            done.result()

    assert counts(setup, task_id)[JobStatus.COMPLETED] == total
    assert table.lost == 0
    assert len(writer_rows(setup, task_id)) == len(workers)
    task = setup.table.get_task(task_id)
    assert task is not None
    assert task.completion.number == 1


def test_a_writer_making_its_row_after_a_cancel_sees_the_cancel(
    service: Service, table: Interfering
) -> None:
    """A cancel flags the writers' rows that exist and then the task row; a writer that read
    the task before the cancel and makes its row after it must not start a job."""
    task_id = new_task(service, ["a", "b"])
    late = worker(service)
    table.before(lambda writes: any(w.row.startswith(WRITER_PREFIX) for w in writes),
                 lambda: request_cancel(service, task_id))  # fmt: skip

    assert late.start(RunMessage(task_id, 0), QUEUE, 1) is None  # skipped, not started
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.status is JobStatus.CANCELLED


def test_the_sampler_records_an_end_no_writer_recorded(service: Service) -> None:
    task_id = new_task(service, ["a"])
    lifecycle = service.lifecycle
    claim = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    assert claim is not None
    lifecycle.settle = lambda task_id: False  # type: ignore[method-assign]  # a missed check
    assert lifecycle.complete(claim, "a")
    task = service.table.get_task(task_id)
    assert task is not None
    assert task.completion.finished_at is None

    throughput.sample(service.table, settle=Lifecycle.settle.__get__(lifecycle))

    task = service.table.get_task(task_id)
    assert task is not None
    assert task.completion.number == 1
    assert task.completion.status == TaskStatus.COMPLETED.value


def test_a_task_counted_by_shards_still_runs_to_its_end() -> None:
    """Tasks created before writers' rows keep their shards (and how their end is found)."""
    old = Service.in_memory(Settings(test_kinds=True, dispatch_window=32,
                                     counter_layout="shards"))  # fmt: skip
    task_id = new_task(old, list(range(40)))
    now = Service.over(SETTINGS, old.table.store, old.queues.store, old.payloads.store)
    for index in range(40):
        claim = now.lifecycle.start(RunMessage(task_id, index), QUEUE, 1)
        assert claim is not None
        assert now.lifecycle.complete(claim, index)
    assert writer_rows(now, task_id) == []
    task = now.table.get_task(task_id)
    assert task is not None
    assert task.counters == "shards"
    assert task.completion.number == 1
    assert counts(now, task_id)[JobStatus.COMPLETED] == 40
