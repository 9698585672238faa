"""Group commit, on the in-memory twin: concurrent moves of one task's jobs written in one
transaction, each caller told how its own move went, and the rules of the lifecycle kept
whatever joins a group (a conflicting member, duplicates, two tasks, a crash either side of
the write)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

import pytest

from composition import Service
from harness.polling import wait_until
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus
from jobs.core.resources import all_queues
from jobs.core.settings import Settings
from jobs.lifecycle.group_commit import GroupCommit
from jobs.lifecycle.moves import Change, Event, Successor
from jobs.lifecycle.running import run_job
from jobs.lifecycle.writer import Claim, Entry
from jobs.storage import TableStore, Write
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore
from tests.jobs.lifecycle.test_writer import (
    QUEUE,
    Crash,
    Delegating,
    Interfering,
    counts,
    new_task,
    queued,
    run_queue,
)

DEADLINE = 10.0


# -- the gatherer on its own ---------------------------------------------------------------


class Recorder:
    """A commit that records each group and, while ``hold`` is clear, keeps the first call
    waiting: callers arriving meanwhile gather for the next one."""

    def __init__(self) -> None:
        self.groups: list[tuple[str, list[int]]] = []
        self.hold = threading.Event()
        self.entered = threading.Event()
        self.fail: BaseException | None = None

    def __call__(self, key: str, entries: list[int]) -> list[int]:
        self.groups.append((key, list(entries)))
        self.entered.set()
        assert self.hold.wait(DEADLINE)
        if self.fail is not None:
            raise self.fail
        return [entry * 10 for entry in entries]


def gather(
    group: GroupCommit[int, int],
    recorder: Recorder,
    calls: Sequence[tuple[str, int]],
    running: int = 1,
) -> list[Future[int]]:
    """Start the first call, wait until it is being written, then start the rest and wait
    until all but ``running`` (calls being written) have gathered."""
    pool = ThreadPoolExecutor(len(calls))
    first = pool.submit(group, *calls[0])
    assert recorder.entered.wait(DEADLINE)
    rest = [pool.submit(group, *call) for call in calls[1:]]
    keys = {key for key, _ in calls[1:]}
    wait_until(
        lambda: sum(group.waiting(key) for key in keys) == len(calls) - running,
        timeout=DEADLINE,
        interval=0.001,
        message="gathered",
    )
    recorder.hold.set()
    pool.shutdown(wait=False)
    return [first, *rest]


def test_callers_arriving_during_a_write_are_written_together_each_getting_its_own_result() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder, wait=0.0, limit=64)
    futures = gather(group, recorder, [("t", 1), ("t", 2), ("t", 3), ("t", 4)])

    assert [f.result(DEADLINE) for f in futures] == [10, 20, 30, 40]
    assert recorder.groups[0] == ("t", [1])
    assert sorted(recorder.groups[1][1]) == [2, 3, 4]
    assert len(recorder.groups) == 2


def test_a_group_never_holds_more_than_its_limit() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder, wait=0.0, limit=2)
    futures = gather(group, recorder, [("t", n) for n in range(1, 6)])

    assert [f.result(DEADLINE) for f in futures] == [10, 20, 30, 40, 50]
    assert max(len(entries) for _, entries in recorder.groups) == 2
    assert sorted(e for _, entries in recorder.groups for e in entries) == [1, 2, 3, 4, 5]


def test_keys_are_written_apart() -> None:
    recorder = Recorder()
    group = GroupCommit(recorder, wait=0.0, limit=64)
    # a's first call is being written; b's first is written at once, beside it.
    futures = gather(group, recorder, [("a", 1), ("b", 2), ("a", 3), ("b", 4)], running=2)

    assert [f.result(DEADLINE) for f in futures] == [10, 20, 30, 40]
    written = {key: sorted(e for k, es in recorder.groups if k == key for e in es)
               for key in ("a", "b")}  # fmt: skip
    assert written == {"a": [1, 3], "b": [2, 4]}


def test_every_member_of_a_failed_group_gets_its_error() -> None:
    recorder = Recorder()
    recorder.fail = Crash("storage went away")
    group = GroupCommit(recorder, wait=0.0, limit=64)
    futures = gather(group, recorder, [("t", 1), ("t", 2), ("t", 3)])

    for future in futures:
        with pytest.raises(Crash):
            future.result(DEADLINE)


def test_a_lone_caller_is_not_kept_waiting_for_company() -> None:
    calls: list[list[int]] = []

    def commit(key: str, entries: list[int]) -> list[int]:
        calls.append(entries)
        return entries

    group: GroupCommit[int, int] = GroupCommit(commit, wait=60.0, limit=64)

    assert group("t", 7) == 7  # expected() says one caller works on the key: no 60 s wait
    assert calls == [[7]]


# -- the lifecycle, grouped ----------------------------------------------------------------
# Over a task counted by shards, where a group's jobs count in several rows that other
# instances write too (tests/jobs/lifecycle/test_counters.py: counted by writers).
SHARDS = Settings(test_kinds=True, dispatch_window=32, group_commit=True, counter_layout="shards")


@pytest.fixture
def table() -> Interfering:
    return Interfering(MemoryTableStore())


@pytest.fixture
def service(table: Interfering) -> Service:
    settings = Settings(
        test_kinds=True, dispatch_window=32, group_commit=True, counter_layout="shards"
    )
    return Service.over(settings, table, MemoryQueueStore(all_queues()), MemoryBlobStore())


def another_worker(service: Service) -> Service:
    """A second worker process over the same storage: its own lifecycle, its own caches."""
    return Service.over(
        service.settings, service.table.store, service.queues.store, service.payloads.store
    )


def starts(service: Service, task_id: str, indexes: Sequence[int]) -> list[Entry]:
    rows = service.table.get_jobs(task_id, indexes)
    return [Entry(i, Change(Event.START, 0, attempt=1), QUEUE, row=rows[i]) for i in indexes]


def test_a_batch_with_one_conflicting_member_lands_the_others_and_counts_exactly(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", ["a", "b", "c"])
    other = another_worker(service).lifecycle

    def finish_job_1_elsewhere() -> None:  # a duplicate message of job 1, run on another worker
        claim = other.start(RunMessage(task_id, 1), QUEUE, 1)
        assert claim is not None
        assert other.complete(claim, "elsewhere")

    table.before(lambda writes: len(writes) > 3, finish_job_1_elsewhere)  # our group's write
    written = service.lifecycle.apply(task_id, starts(service, task_id, [0, 1, 2]), cached=True)

    assert [job.status if job else None for job, _ in written] == [
        JobStatus.IN_PROGRESS, None, JobStatus.IN_PROGRESS,
    ]  # fmt: skip
    assert counts(service, task_id) == {
        JobStatus.PENDING: 0, JobStatus.IN_PROGRESS: 2, JobStatus.COMPLETED: 1,
        JobStatus.FAILED: 0, JobStatus.CANCELLED: 0,
    }  # fmt: skip


def test_a_group_that_lost_a_race_is_written_again_shard_by_shard(
    service: Service, table: Interfering
) -> None:
    """Workers of several instances moving one task at once must not keep racing each other's
    whole groups: after a lost race each part collides only with writers of its own shard."""
    task_id = new_task(service, "echo", list(range(33)))  # job 32 counts in shard 0
    other = another_worker(service).lifecycle

    def start_job_32_elsewhere() -> None:
        assert other.start(RunMessage(task_id, 32), QUEUE, 1) is not None

    table.before(lambda writes: len(writes) > 3, start_job_32_elsewhere)
    written = service.lifecycle.apply(task_id, starts(service, task_id, [0, 1, 2]), cached=True)

    assert all(job is not None for job, _ in written)
    # the group (3 jobs, 3 shards) lost; then its retry is written shard by shard
    theirs, group, *retry = table.transactions[-5:]  # theirs lands first, in our write's way
    assert group == ["job-00000000", "job-00000001", "job-00000002",
                     "shard-00", "shard-01", "shard-02"]  # fmt: skip
    assert theirs == ["job-00000032", "shard-00"]
    assert retry == [["job-00000000", "shard-00"], ["job-00000001", "shard-01"],
                     ["job-00000002", "shard-02"]]  # fmt: skip
    assert counts(service, task_id)[JobStatus.IN_PROGRESS] == 4


def test_duplicates_in_one_group_move_the_job_once_as_if_one_after_the_other(
    service: Service,
) -> None:
    task_id = new_task(service, "echo", ["a"])
    entries = [*starts(service, task_id, [0]), *starts(service, task_id, [0])]
    (first, _), (second, _) = service.lifecycle.apply(task_id, entries, cached=True)
    assert first is not None
    assert second is not None
    assert counts(service, task_id)[JobStatus.IN_PROGRESS] == 1

    done = service.lifecycle.apply(
        task_id,
        [
            Entry(0, Change(Event.COMPLETE, 0), QUEUE, row=first),
            Entry(0, Change(Event.COMPLETE, 0), QUEUE, row=second),
        ],
        cached=True,
    )
    assert [job is not None for job, _ in done] == [True, False]
    assert counts(service, task_id)[JobStatus.COMPLETED] == 1
    assert counts(service, task_id)[JobStatus.IN_PROGRESS] == 0


def test_a_duplicate_started_in_the_group_that_finished_the_job_cannot_finish_it_again(
    service: Service,
) -> None:
    """A duplicate message's start lands in the same group as the job's finish, before it:
    its claim must not carry the finished row's ETag, or its own finish would count twice."""
    task_id = new_task(service, "echo", ["a"])
    ((first, _),) = service.lifecycle.apply(task_id, starts(service, task_id, [0]), cached=True)
    assert first is not None
    (duplicate, _), (finished, _) = service.lifecycle.apply(
        task_id,
        [
            Entry(0, Change(Event.START, 0, attempt=2), QUEUE),
            Entry(0, Change(Event.COMPLETE, 0), QUEUE, row=first),
        ],
        cached=True,
    )
    assert duplicate is not None
    assert duplicate.status is JobStatus.IN_PROGRESS
    assert finished is not None
    assert finished.status is JobStatus.COMPLETED

    assert not service.lifecycle.complete(Claim(duplicate, QUEUE), "again")
    assert counts(service, task_id) == {
        JobStatus.PENDING: 0, JobStatus.IN_PROGRESS: 0, JobStatus.COMPLETED: 1,
        JobStatus.FAILED: 0, JobStatus.CANCELLED: 0,
    }  # fmt: skip


class HeldTable(Delegating):
    """The twin's table, holding the first transaction on each named partition until
    released: every caller arriving meanwhile gathers for the next group."""

    def __init__(self, store: TableStore, partitions: set[str]) -> None:
        super().__init__(store)
        self.held = set(partitions)
        self.entered: dict[str, threading.Event] = {p: threading.Event() for p in partitions}
        self.release = threading.Event()
        self.writes: list[tuple[str, int]] = []  # (partition, job rows) of each transaction

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        if partition in self.held:
            self.held.discard(partition)
            self.entered[partition].set()
            assert self.release.wait(DEADLINE)
        self.writes.append((partition, sum(w.row.startswith("job-") for w in writes)))
        return self.store.transact(partition, writes)


def test_moves_of_two_tasks_at_once_are_grouped_per_task_and_each_caller_learns_its_own() -> None:
    store = MemoryTableStore()
    queues = MemoryQueueStore(all_queues())
    settings = Settings(
        test_kinds=True, dispatch_window=32, group_commit=True, counter_layout="shards"
    )
    setup = Service.over(settings, store, queues, MemoryBlobStore())
    tasks = [new_task(setup, "echo", list("abcd")) for _ in range(2)]
    held = HeldTable(store, set(tasks))
    service = Service.over(settings, held, queues, setup.payloads.store)
    lifecycle = service.lifecycle
    assert lifecycle.group is not None
    group = lifecycle.group

    def start(task_id: str, index: int) -> Claim | None:
        return lifecycle.start(RunMessage(task_id, index), QUEUE, 1)

    with ThreadPoolExecutor(8) as pool:
        firsts = [pool.submit(start, task_id, 0) for task_id in tasks]
        for task_id in tasks:
            assert held.entered[task_id].wait(DEADLINE)
        rest = [pool.submit(start, t, i) for t in tasks for i in (1, 2, 3)]
        wait_until(
            lambda: all(group.waiting(t) == 3 for t in tasks),
            timeout=DEADLINE,
            interval=0.001,
            message="gathered",
        )
        held.release.set()
        claims = [f.result(DEADLINE) for f in [*firsts, *rest]]

    assert all(claim is not None and claim.job.status is JobStatus.IN_PROGRESS for claim in claims)
    assert sorted(held.writes) == sorted([(t, 1) for t in tasks] + [(t, 3) for t in tasks])
    for task_id in tasks:
        assert counts(setup, task_id)[JobStatus.IN_PROGRESS] == 4


class Crashing(Delegating):
    """The twin's table, dying once just before (or just after) a transaction that writes
    more than one job row: a grouped write."""

    def __init__(self, store: TableStore, *, after: bool) -> None:
        super().__init__(store)
        self.after = after
        self.crashed = False

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        grouped = sum(w.row.startswith("job-") for w in writes) > 1
        if grouped and not self.crashed and not self.after:
            self.crashed = True
            raise Crash("before the write")
        etags = self.store.transact(partition, writes)
        if grouped and not self.crashed and self.after:
            self.crashed = True
            raise Crash("after the write")
        return etags


@pytest.mark.parametrize("after", [False, True], ids=["crash-before", "crash-after"])
def test_a_crash_either_side_of_a_grouped_write_loses_no_job_and_counts_exactly(
    after: bool,
) -> None:
    store = MemoryTableStore()
    queues = MemoryQueueStore(all_queues())
    settings = Settings(
        test_kinds=True, dispatch_window=32, group_commit=True, counter_layout="shards"
    )
    setup = Service.over(settings, store, queues, MemoryBlobStore())
    task_id = new_task(setup, "echo", list("abc"))
    crashing = Crashing(store, after=after)
    service = Service.over(settings, crashing, queues, setup.payloads.store)

    entries = starts(service, task_id, [0, 1, 2])
    with pytest.raises(Crash):  # every caller of the group is told: the host retries each
        service.lifecycle.apply(task_id, entries, cached=True)
    assert crashing.crashed

    # The host redelivers the three messages (attempt 2), then the rest of the queue runs.
    for index in range(3):
        run_job(Service.over(settings, store, queues, setup.payloads.store), QUEUE, RunMessage(
            task_id, index), 2)  # fmt: skip
    run_queue(setup)

    assert counts(setup, task_id) == {
        JobStatus.PENDING: 0, JobStatus.IN_PROGRESS: 0, JobStatus.COMPLETED: 3,
        JobStatus.FAILED: 0, JobStatus.CANCELLED: 0,
    }  # fmt: skip
    jobs = list(setup.table.jobs(task_id))
    assert [job.status for job in jobs] == [JobStatus.COMPLETED] * 3
    assert [job.attempts for job in jobs] == [2, 2, 2]


def test_the_shards_kept_between_writes_are_read_again_after_another_worker_moved_them(
    service: Service,
) -> None:
    task_id = new_task(service, "echo", list(range(33)))  # jobs 0 and 32 count in shard 0
    other = another_worker(service).lifecycle
    mine = service.lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)  # keeps the shards
    theirs = other.start(RunMessage(task_id, 32), QUEUE, 1)
    assert mine is not None
    assert theirs is not None
    assert other.complete(theirs, "b")  # shard 0 moved behind our cache's back
    assert service.lifecycle.complete(mine, "a")

    assert counts(service, task_id)[JobStatus.COMPLETED] == 2
    assert counts(service, task_id)[JobStatus.IN_PROGRESS] == 0


def test_a_stale_finish_in_the_group_does_not_stand_for_the_new_generations_successor(
    service: Service,
) -> None:
    """Review: ``sent`` was keyed by job index alone. A handler of an old generation (its job
    failed, was retried and started again meanwhile) finishes: ``_finish`` sends the *old*
    generation's successor and hands its entry over marked sent. In the same group the sweep
    poisons the job's new generation, whose successor is another message (the retry's). Keyed
    by index, the group took it as sent already: the retried successor never went out, so
    that job stayed Pending and the task never ended."""
    task_id = new_task(service, "echo", list(range(33)))  # job 0's successor is job 32
    lifecycle = service.lifecycle
    stale = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)  # its handler runs on and on
    assert stale is not None
    # Meanwhile the job is given up on, and so is job 32; a retry sends both round again,
    # job 0 to dispatch job 32's new generation when it finishes.
    assert lifecycle.poison(RunMessage(task_id, 0), QUEUE) is not None
    assert lifecycle.poison(RunMessage(task_id, 32), QUEUE) is not None
    failed = [service.table.get_job(task_id, index) for index in (0, 32)]
    assert lifecycle.reset([j for j in failed if j], {0: Successor(32, 1)}) == 2
    assert lifecycle.start(RunMessage(task_id, 0, 1), QUEUE, 1) is not None
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    while batch := store.receive(QUEUE, 32, timedelta(minutes=10)):  # what went out so far
        for received in batch:
            store.delete(QUEUE, received.id, received.receipt)

    # The old generation's handler returns (its _finish sends job 32's generation-0 message)
    # and the sweep poisons generation 1: both land in one group.
    lifecycle.queues.send(QUEUE, RunMessage(task_id, 32, 0))
    stale_finish = Entry(0, Change(Event.COMPLETE, 0), QUEUE, row=stale.job, sent=True)
    poison = Entry(0, Change(Event.POISON, 1), QUEUE)
    (finished, _), (poisoned, _) = lifecycle.apply(task_id, [stale_finish, poison], cached=True)
    assert finished is None  # stale
    assert poisoned is not None
    assert poisoned.status is JobStatus.FAILED

    assert RunMessage(task_id, 32, 1) in queued(service, QUEUE)
    run_queue(service)
    assert counts(service, task_id)[JobStatus.PENDING] == 0
