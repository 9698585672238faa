"""The task index on the in-memory twin: newest first, paged, filtered by state and kind, at a
cost that follows the page; the moves a task's rows make (submit, finish, retry, retire), and
a listing that puts right whatever move was missed."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from composition import Service
from jobs.control.handlers import handle
from jobs.control.purge import request_purge
from jobs.control.retry import request_retry
from jobs.core.models import Counts, Task, TaskStatus, TaskSummary
from jobs.core.resources import LISTENED_QUEUES, all_queues
from jobs.core.settings import Settings
from jobs.dispatch.submit import submit
from jobs.reads import task_index, throughput
from jobs.reads.task_index import RUNNING, partition
from jobs.storage import ALL_ROWS, Entity, Rows, TableStore, Write
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore


class Counting:
    """The twin's table, counting the rows each partition's queries hand out."""

    def __init__(self, store: TableStore) -> None:
        self.store = store
        self.rows: dict[str, int] = {}

    def get(self, partition: str, row: str) -> Entity | None:
        return self.store.get(partition, row)

    def query(self, partition: str, rows: Rows = ALL_ROWS) -> Iterator[Entity]:
        for entity in self.store.query(partition, rows):
            self.rows[partition] = self.rows.get(partition, 0) + 1
            yield entity

    def query_partitions(self, start: str, end: str, **options: Any) -> Iterator[Entity]:
        return self.store.query_partitions(start, end, **options)

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        return self.store.transact(partition, writes)

    def ping(self) -> None:
        self.store.ping()


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each submit a millisecond after the one before, as they would be."""
    ticks = itertools.count()
    monkeypatch.setattr(
        "jobs.dispatch.submit.utcnow", lambda: f"2026-01-01T00:00:00.{next(ticks):03d}Z"
    )


@pytest.fixture
def table() -> Counting:
    return Counting(MemoryTableStore())


@pytest.fixture
def service(table: Counting) -> Service:
    settings = Settings(test_kinds=True, dispatch_window=32)
    return Service.over(settings, table, MemoryQueueStore(all_queues()), MemoryBlobStore())


def new(service: Service, kind: str = "echo", items: list[Any] | None = None) -> Task:
    body = {"kind": kind, "items": items if items is not None else [1]}
    return submit(service, json.dumps(body).encode()).task


def run(service: Service) -> None:
    """Deliver every message as the host would, until every queue is empty."""
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    while True:
        batches = [(q, store.receive(q, 32, timedelta(minutes=10))) for q in LISTENED_QUEUES]
        if not any(batch for _, batch in batches):
            return
        for queue, batch in batches:
            for received in batch:
                body = base64.b64decode(received.text).decode()
                handle(service, queue, body, received.dequeue_count, received.id)
                store.delete(queue, received.id, received.receipt)


def ids(page: task_index.TaskPage) -> list[str]:
    return [summary.task.task_id for summary in page.tasks]


def listed(service: Service, state: TaskStatus | None = None, kind: str | None = None) -> list[str]:
    """Every page, followed to the end."""
    found: list[str] = []
    after = None
    while True:
        page = task_index.page(service.table, state, kind, 2, after)
        found += ids(page)
        if page.continuation is None:
            return found
        after = page.continuation


def rows(service: Service, part: str) -> list[str]:
    return [entity.row for entity in service.table.store.query(part)]


# -- listing -------------------------------------------------------------------------------


def test_tasks_list_newest_first_with_their_live_summaries_page_by_page(
    service: Service,
) -> None:
    tasks = [new(service, items=[1, 2, 3]) for _ in range(5)]
    newest_first = [t.task_id for t in reversed(tasks)]

    first = task_index.page(service.table, None, None, 2, None)
    assert ids(first) == newest_first[:2]
    assert first.continuation is not None
    assert [s.counts for s in first.tasks] == [TaskSummary.of(tasks[0], Counts()).counts] * 2
    assert listed(service) == newest_first
    last = task_index.page(service.table, None, None, 5, None)
    assert (ids(last), last.continuation) == (newest_first, None)


def test_tasks_submitted_in_the_same_millisecond_are_all_listed_in_one_order(
    service: Service,
) -> None:
    made = []
    for n in (3, 1, 2, 0):
        task = Task(_uuid(n), "echo", "jobs", 1, 32, _at(0), _at(0), "h")
        service.table.create_task(task)
        task_index.record_submitted(service.table, task)
        made.append(task.task_id)

    assert listed(service) == sorted(made)  # by id, the same on every page


def test_a_finished_task_is_found_by_its_state_before_anyone_records_it(
    service: Service,
) -> None:
    done = new(service, items=[1, 2])
    failing = new(service, "fail", [{"permanent": True}])
    run(service)
    still = new(service, "sleep", [{"seconds": 0}])  # submitted, not run

    assert listed(service, TaskStatus.COMPLETED) == [done.task_id]
    assert listed(service, TaskStatus.COMPLETED_WITH_FAILURES) == [failing.task_id]
    assert listed(service, TaskStatus.RUNNING) == [still.task_id]
    assert listed(service, TaskStatus.CANCELLED) == []
    assert listed(service) == [still.task_id, failing.task_id, done.task_id]
    # The listing recorded what it found: the finished tasks' rows are in their partitions.
    assert len(rows(service, partition(TaskStatus.COMPLETED))) == 2
    assert len(rows(service, partition(TaskStatus.COMPLETED_WITH_FAILURES))) == 2


def test_record_finished_lists_a_task_under_its_final_state_and_repeats_harmlessly(
    service: Service,
) -> None:
    task = new(service, items=[1])
    run(service)
    for _ in range(2):
        task_index.record_finished(
            service.table, task, TaskStatus.COMPLETED, "2026-01-01T00:00:09Z"
        )

    [entity, _] = service.table.store.query(partition(TaskStatus.COMPLETED))
    assert entity.props["Finished"] == "2026-01-01T00:00:09Z"
    assert {e.props["State"] for e in service.table.store.query(RUNNING)} == {"completed"}
    assert task_index.running_count(service.table) == 0
    assert listed(service, TaskStatus.COMPLETED) == [task.task_id]
    assert listed(service) == [task.task_id]  # in two partitions until retired, listed once
    with pytest.raises(ValueError, match="not a final state"):
        task_index.record_finished(service.table, task, TaskStatus.RUNNING, "x")


def test_a_retry_lists_the_task_as_running_again(service: Service) -> None:
    failing = new(service, "fail", [{"permanent": True}])
    run(service)
    assert listed(service, TaskStatus.COMPLETED_WITH_FAILURES) == [failing.task_id]

    request_retry(service, failing.task_id)

    assert listed(service, TaskStatus.COMPLETED_WITH_FAILURES) == []
    assert listed(service, TaskStatus.RUNNING) == [failing.task_id]
    assert rows(service, partition(TaskStatus.COMPLETED_WITH_FAILURES)) == []
    run(service)
    assert listed(service, TaskStatus.COMPLETED_WITH_FAILURES) == [failing.task_id]
    assert listed(service, TaskStatus.RUNNING) == []


def test_a_listing_mends_a_task_listed_twice_by_a_move_cut_short(service: Service) -> None:
    task = new(service, "fail", [{"permanent": True}])
    run(service)
    task_index.record_finished(service.table, task, TaskStatus.COMPLETED_WITH_FAILURES, "t")
    request_retry(service, task.task_id)
    # A reopen that died after its running rows: the finished ones are still there.
    task_index.record_finished(service.table, task, TaskStatus.COMPLETED_WITH_FAILURES, "t")
    for entity in list(service.table.store.query(RUNNING)):
        service.table.store.transact(RUNNING, [Write("merge", entity.row, {"State": "running"})])

    assert listed(service) == [task.task_id]
    assert listed(service, TaskStatus.COMPLETED_WITH_FAILURES) == []  # it runs: mended
    assert rows(service, partition(TaskStatus.COMPLETED_WITH_FAILURES)) == []
    assert listed(service, TaskStatus.RUNNING) == [task.task_id]


def test_the_kind_filter_never_mixes_kinds_whose_names_share_a_beginning(
    service: Service,
) -> None:
    made: dict[str, str] = {}
    for kind in ("a", "a-b", "a%2Db", "ab"):
        task = Task(_uuid(len(made)), kind, "jobs", 1, 32, _at(len(made)), _at(0), "h")
        service.table.create_task(task)
        task_index.record_submitted(service.table, task)
        made[kind] = task.task_id

    for kind, task_id in made.items():
        assert listed(service, kind=kind) == [task_id]
    assert listed(service, TaskStatus.RUNNING, "a-b") == [made["a-b"]]
    assert len(listed(service)) == 4


@pytest.mark.usefixtures("fan_out_path")
def test_a_page_reads_rows_for_the_page_whatever_the_number_of_tasks(
    service: Service, table: Counting
) -> None:
    for _ in range(60):
        new(service)
    table.rows.clear()
    page = task_index.page(service.table, None, None, 5, None)
    assert len(page.tasks) == 5
    index_rows = sum(n for part, n in table.rows.items() if part.startswith("tasks-"))
    assert index_rows <= 6
    counted = sum(n for part, n in table.rows.items() if not part.startswith("tasks-"))
    assert counted == 5  # one task row per task: its counters were never written


@pytest.mark.usefixtures("fan_out_path")
def test_a_state_filter_ends_a_page_early_rather_than_read_past_many_others(
    service: Service, table: Counting
) -> None:
    done = new(service)
    run(service)
    for _ in range(30):
        new(service)  # newer, running
    table.rows.clear()

    page = task_index.page(service.table, TaskStatus.COMPLETED, None, 5, None)

    assert ids(page) == []
    assert page.continuation is not None
    assert sum(table.rows.values()) <= 2 * 6 + 5
    assert listed(service, TaskStatus.COMPLETED) == [done.task_id]


def test_a_task_being_purged_is_not_listed(service: Service) -> None:
    kept, purged = new(service), new(service)
    run(service)

    request_purge(service, purged.task_id)  # flagged; its purge steps have not run yet

    assert listed(service) == [kept.task_id]
    assert listed(service, TaskStatus.COMPLETED) == [kept.task_id]
    assert listed(service, kind="echo") == [kept.task_id]


def test_a_position_is_a_continuation_and_nothing_else_is() -> None:
    task_id = "5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c"
    task = Task(task_id, "echo", "jobs", 1, 32, "2026-01-01T00:00:00.000Z", "", "")
    assert task_index.is_position(task_index.position(task))
    assert task_index.position(task) == f"{10**13 - 1 - 1767225600000:013d}-{task.task_id}"
    for text in ("", "1234", task_index.position(task).upper(), task_index.position(task) + "x",
                 "0000000000000-not-a-uuid-at-all-but-36-characters",
                 "\u0660" + task_index.position(task)[1:]):  # fmt: skip
        assert not task_index.is_position(text)


def _uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _at(n: int) -> str:
    return f"2026-01-01T00:00:{n:02d}.000Z"


def test_a_task_recorded_finished_then_retried_unrecorded_is_running_again_after_a_sample(
    service: Service,
) -> None:
    task = new(service, "fail", [{"permanent": True}])
    run(service)
    task_index.record_finished(service.table, task, TaskStatus.COMPLETED_WITH_FAILURES, "t")
    # A retry whose reopen was never recorded (a listing healed in between, say).
    task_index.record_reopened(service.table, task, TaskStatus.COMPLETED_WITH_FAILURES)
    task_index.record_finished(service.table, task, TaskStatus.COMPLETED_WITH_FAILURES, "t")
    request_retry(service, task.task_id)
    task_index.record_finished(service.table, task, TaskStatus.COMPLETED_WITH_FAILURES, "t")
    assert task_index.running_count(service.table) == 0  # the index is wrong now

    throughput.sample(service.table)

    assert task_index.running_count(service.table) == 1
    assert listed(service, TaskStatus.RUNNING) == [task.task_id]
