"""The job lifecycle on the in-memory twin of storage: the move table, and every race the design
claims to survive, each forced at the exact point it matters. Milliseconds each."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest

from composition import Service
from jobs.control.cancel import cancel_pending, request_cancel
from jobs.control.handlers import handle
from jobs.control.retry import request_retry, run_retry
from jobs.core.messages import RetryMessage, RunMessage, parse_message
from jobs.core.models import Job, JobStatus, TaskStatus
from jobs.core.resources import CONTROL_QUEUE, DEFAULT_QUEUE, SMALL_QUEUE, all_queues
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.lifecycle.moves import MOVES, Change, Event, decide
from jobs.reads.tasks import status
from jobs.storage import ALL_ROWS, Entity, Rows, TableStore, Write
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore

QUEUE = DEFAULT_QUEUE
RUN_QUEUES = (DEFAULT_QUEUE, SMALL_QUEUE)
NOW = "2026-01-01T00:00:00.000Z"


class Crash(Exception):
    """Stands for the process dying at that line."""


class Delegating:
    """A table that hands every call to ``store``: subclasses change what they need."""

    def __init__(self, store: TableStore) -> None:
        self.store = store

    def get(self, partition: str, row: str) -> Entity | None:
        return self.store.get(partition, row)

    def query(self, partition: str, rows: Rows = ALL_ROWS) -> Iterator[Entity]:
        return self.store.query(partition, rows)

    def query_partitions(self, start: str, end: str, **options: Any) -> Iterator[Entity]:
        return self.store.query_partitions(start, end, **options)

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        return self.store.transact(partition, writes)

    def ping(self) -> None:
        self.store.ping()


class Interfering(Delegating):
    """The twin's table, with a hook run just before the next transaction that ``when`` picks:
    another party's write lands between this party's read and its write."""

    def __init__(self, store: TableStore) -> None:
        super().__init__(store)
        self.hooks: list[tuple[Callable[[Sequence[Write]], bool], Callable[[], object]]] = []
        self.transactions: list[list[str]] = []  # the rows of each transaction sent, in order

    def before(self, when: Callable[[Sequence[Write]], bool], act: Callable[[], object]) -> None:
        self.hooks.append((when, act))

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        for hook in list(self.hooks):
            when, act = hook
            if when(writes):
                self.hooks.remove(hook)
                act()
        self.transactions.append(sorted(write.row for write in writes))
        return self.store.transact(partition, writes)


def moving(status: JobStatus, index: int | None = None) -> Callable[[Sequence[Write]], bool]:
    """Picks a transaction that writes a job row with ``status`` (and ``index``)."""

    def picks(writes: Sequence[Write]) -> bool:
        return any(
            w.row.startswith("job-")
            and w.props.get("Status") == status.value
            and (index is None or w.props.get("Index") == index)
            for w in writes
        )

    return picks


@pytest.fixture
def table() -> Interfering:
    return Interfering(MemoryTableStore())


@pytest.fixture(params=[True, False], ids=["grouped", "single"])
def service(table: Interfering, request: pytest.FixtureRequest) -> Service:
    """A worker that writes its moves grouped (jobs.lifecycle.group_commit), or one at a time."""
    settings = Settings(test_kinds=True, dispatch_window=32, group_commit=request.param)
    return Service.over(settings, table, MemoryQueueStore(all_queues()), MemoryBlobStore())


def new_task(service: Service, kind: str, items: list[Any]) -> str:
    """A task submitted and fanned out, its first window on the job queue."""
    task = submit(service, json.dumps({"kind": kind, "items": items}).encode()).task
    fan_out(service, task.task_id)
    return task.task_id


def queued(service: Service, queue: str | None = None) -> list[RunMessage]:
    """The run messages on ``queue``, or on every queue jobs run from (a small task's go on
    jobs-small, a larger one's and the successors these tests send as QUEUE's on jobs)."""
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    texts = [t for q in ((queue,) if queue else RUN_QUEUES) for t in store.texts(q)]
    messages = [parse_message(base64.b64decode(t).decode()) for t in texts]
    return [m for m in messages if isinstance(m, RunMessage)]


def counts(service: Service, task_id: str) -> Mapping[JobStatus, int]:
    return status(service, task_id).counts


def control(service: Service) -> list[object]:
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    return [parse_message(base64.b64decode(t).decode()) for t in store.texts(CONTROL_QUEUE)]


def run_queue(service: Service, queue: str | None = None) -> int:
    """Deliver a queue's messages (by default, those of every queue jobs run from) as the host
    would, until it is empty; how many."""
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    delivered = 0
    while True:
        batches = [(q, store.receive(q, 32, timedelta(minutes=10)))
                   for q in ((queue,) if queue else RUN_QUEUES)]  # fmt: skip
        if not any(batch for _, batch in batches):
            return delivered
        for name, batch in batches:
            for received in batch:
                body = base64.b64decode(received.text).decode()
                handle(service, name, body, received.dequeue_count, received.id)
                store.delete(name, received.id, received.receipt)
                delivered += 1


# -- the table ---------------------------------------------------------------------------


@pytest.mark.parametrize("event", list(Event))
@pytest.mark.parametrize("stored", list(JobStatus))
def test_a_change_moves_a_job_only_from_the_statuses_its_row_of_the_table_lists(
    event: Event, stored: JobStatus
) -> None:
    job = Job("t", 0, "echo", status=stored, generation=3)
    decided = decide(job, Change(event, 3), cancelled=False, now=NOW)
    if stored in MOVES[event].sources:
        assert decided is not None
        assert decided[0] is event
        assert decided[1].status is MOVES[event].target
    else:
        assert decided is None


def test_a_change_for_an_older_generation_does_nothing() -> None:
    job = Job("t", 0, "echo", status=JobStatus.PENDING, generation=2)
    for event in Event:
        assert decide(job, Change(event, 1), cancelled=False, now=NOW) is None


def test_a_newer_generation_finds_a_failed_job_already_reset_and_starts_it() -> None:
    failed = Job("t", 0, "echo", status=JobStatus.FAILED, generation=1, attempts=5, error="x")
    decided = decide(failed, Change(Event.START, 2, attempt=1), cancelled=False, now=NOW)
    assert decided is not None
    _, started = decided
    assert (started.status, started.generation, started.attempts, started.error) == (
        JobStatus.IN_PROGRESS, 2, 1, None,
    )  # fmt: skip
    completed = Job("t", 0, "echo", status=JobStatus.COMPLETED, generation=1)
    assert decide(completed, Change(Event.START, 2), cancelled=False, now=NOW) is None


def test_starting_a_job_of_a_cancelled_task_skips_it() -> None:
    for stored in (JobStatus.PENDING, JobStatus.IN_PROGRESS):
        decided = decide(Job("t", 0, "echo", status=stored), Change(Event.START, 0),
                         cancelled=True, now=NOW)  # fmt: skip
        assert decided is not None
        assert (decided[0], decided[1].status) == (Event.SKIP, JobStatus.CANCELLED)


# -- races -------------------------------------------------------------------------------


def test_a_write_landing_between_read_and_write_is_decided_again_and_counted_once(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", list(range(64)))  # jobs 0 and 32 share shard 0
    lifecycle = service.lifecycle
    other: list[object] = []
    table.before(
        moving(JobStatus.IN_PROGRESS, 0),
        lambda: other.append(lifecycle.start(RunMessage(task_id, 32), QUEUE, 1)),
    )

    claim = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)

    assert claim is not None
    assert other  # the interloper's start landed first
    assert other[0] is not None
    assert counts(service, task_id)[JobStatus.IN_PROGRESS] == 2


def test_a_duplicate_message_while_the_first_runs_finishes_the_job_once(
    service: Service,
) -> None:
    task_id = new_task(service, "echo", ["a"])
    lifecycle = service.lifecycle
    first = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    duplicate = lifecycle.start(RunMessage(task_id, 0), QUEUE, 2)
    assert first is not None
    assert duplicate is not None

    assert lifecycle.complete(first, "first") is True
    assert lifecycle.complete(duplicate, "second") is False

    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert service.payloads.decode(job.result) == "first"
    assert counts(service, task_id)[JobStatus.COMPLETED] == 1
    assert counts(service, task_id)[JobStatus.IN_PROGRESS] == 0


def test_after_a_retry_the_old_generation_neither_runs_nor_fails_the_job(
    service: Service,
) -> None:
    task_id = new_task(service, "fail", [{"permanent": True}])
    run_queue(service)
    assert status(service, task_id).status is TaskStatus.COMPLETED_WITH_FAILURES
    assert request_retry(service, task_id) == 1
    run_queue(service, CONTROL_QUEUE)

    assert service.lifecycle.start(RunMessage(task_id, 0, 0), QUEUE, 1) is None
    assert service.lifecycle.poison(RunMessage(task_id, 0, 0), QUEUE) is None
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert (job.status, job.generation, job.attempts) == (JobStatus.PENDING, 1, 0)
    assert counts(service, task_id)[JobStatus.PENDING] == 1
    assert [m.generation for m in queued(service)] == [1]


def test_a_retry_pass_that_dies_half_way_resumes_and_sends_its_first_window_once(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "fail", [{"permanent": True}] * 100)
    run_queue(service)

    def crash() -> None:
        raise Crash

    assert request_retry(service, task_id) == 100
    assert request_retry(service, task_id) == 100  # a second retry during the first: no-op
    [message] = [m for m in control(service) if isinstance(m, RetryMessage)]
    table.before(moving(JobStatus.PENDING, 40), crash)  # dies on the second page
    with pytest.raises(Crash):
        run_retry(service, message)
    assert queued(service) == []  # nothing dispatched before every page is reset
    assert 0 < counts(service, task_id)[JobStatus.PENDING] < 100

    run_retry(service, message)  # the message comes back
    run_retry(service, message)  # and once more: the round is over, nothing changes

    assert sorted(m.index for m in queued(service)) == list(range(32))  # the first window
    assert {m.generation for m in queued(service)} == {1}
    assert counts(service, task_id)[JobStatus.PENDING] == 100
    chained = {job.index: job.next_index for job in service.table.jobs(task_id)}
    assert chained == {i: i + 32 if i + 32 < 100 else None for i in range(100)}

    assert run_queue(service) == 100  # every job runs once more, each from one message
    jobs = list(service.table.jobs(task_id))
    assert {(job.status, job.generation, job.attempts) for job in jobs} == {
        (JobStatus.FAILED, 1, 1)
    }
    assert counts(service, task_id)[JobStatus.FAILED] == 100


def test_a_cancel_landing_during_a_start_skips_the_job_and_passes_on_its_successor(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", list(range(40)))  # job 0's successor is job 32
    table.before(moving(JobStatus.IN_PROGRESS, 0), lambda: request_cancel(service, task_id))
    before = len(queued(service, QUEUE))

    assert service.lifecycle.start(RunMessage(task_id, 0), QUEUE, 1) is None

    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert (job.status, job.next_sent) == (JobStatus.CANCELLED, True)
    assert queued(service, QUEUE)[before:] == [RunMessage(task_id, 32)]  # where 0's came from
    assert counts(service, task_id)[JobStatus.CANCELLED] == 1
    assert counts(service, task_id)[JobStatus.IN_PROGRESS] == 0


@pytest.mark.parametrize("sweep_first", [True, False], ids=["sweep-first", "success-first"])
def test_the_sweep_racing_a_late_success_ends_the_job_once(
    service: Service, sweep_first: bool
) -> None:
    task_id = new_task(service, "echo", ["late"])
    claim = service.lifecycle.start(RunMessage(task_id, 0), QUEUE, 5)
    assert claim is not None

    if sweep_first:
        assert service.lifecycle.poison(RunMessage(task_id, 0), QUEUE) is not None
        assert service.lifecycle.complete(claim, "late") is False
        expected = JobStatus.FAILED
    else:
        assert service.lifecycle.complete(claim, "late") is True
        assert service.lifecycle.poison(RunMessage(task_id, 0), QUEUE) is None
        expected = JobStatus.COMPLETED

    found = counts(service, task_id)
    assert found[expected] == 1
    assert sum(found.values()) == found[expected] == 1


def test_a_crash_between_successor_and_finishing_write_duplicates_but_never_loses(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", list(range(40)))

    def crash() -> None:
        raise Crash

    table.before(moving(JobStatus.COMPLETED, 0), crash)
    claim = service.lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    assert claim is not None
    with pytest.raises(Crash):
        service.lifecycle.complete(claim, 0)
    assert queued(service).count(RunMessage(task_id, 32)) == 1  # sent before the crash
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.status is JobStatus.IN_PROGRESS  # the finishing write never landed

    # The host delivers job 0's message again; it runs again and sends job 32 again.
    handle(service, QUEUE, RunMessage(task_id, 0).to_json(), 2)
    assert queued(service).count(RunMessage(task_id, 32)) == 2
    run_queue(service)

    found = counts(service, task_id)
    assert found[JobStatus.COMPLETED] == 40
    assert sum(found.values()) == 40
    assert {job.status for job in service.table.jobs(task_id)} == {JobStatus.COMPLETED}


def test_a_cancel_pass_cancels_only_jobs_that_have_not_started(service: Service) -> None:
    task_id = new_task(service, "echo", list(range(200)))
    running = service.lifecycle.start(RunMessage(task_id, 5), QUEUE, 1)
    assert running is not None

    request_cancel(service, task_id)
    assert cancel_pending(service, task_id) == 199
    assert cancel_pending(service, task_id) == 0  # again: nothing left to do
    assert service.lifecycle.complete(running, "done") is True  # running ones finish

    summary = status(service, task_id)
    assert summary.status is TaskStatus.CANCELLED
    assert summary.counts[JobStatus.CANCELLED] == 199
    assert summary.counts[JobStatus.COMPLETED] == 1
