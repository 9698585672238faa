"""Jobs completed and failed per minute on the in-memory twin: what a sample counts, which
minute it goes to, an hour kept and no more, tasks retired once counted, nothing counted twice
when a retry reopens a task; and the stats a caller reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from composition import Service
from jobs.control.retry import request_retry
from jobs.core.models import TaskStatus
from jobs.core.settings import Settings
from jobs.reads import stats, task_index, throughput
from jobs.reads.task_index import RUNNING, partition
from jobs.storage import Write, keys
from tests.jobs.reads.test_task_index import new, run

T0 = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def service() -> Service:
    return Service.in_memory(Settings(test_kinds=True, dispatch_window=32))


def per_minute(service: Service, now: datetime) -> dict[str, tuple[int, int]]:
    return {
        m.start.strftime("%H:%M"): (m.completed, m.failed)
        for m in throughput.last_hour(service.table, now)
        if m.completed or m.failed
    }


def test_a_sample_counts_what_running_tasks_did_since_the_last_one(service: Service) -> None:
    new(service, items=[1, 2, 3])
    new(service, "fail", [{"permanent": True}, {"permanent": True}])
    first = throughput.sample(service.table, T0)
    assert (first.completed, first.failed) == (0, 0)

    run(service)
    second = throughput.sample(service.table, T0 + MINUTE)
    third = throughput.sample(service.table, T0 + 2 * MINUTE)

    # Half-way between 12:00:30 and 12:01:30.
    assert (second.start, second.completed, second.failed) == (T0.replace(minute=1, second=0), 3, 2)
    assert (third.completed, third.failed) == (0, 0)
    assert per_minute(service, T0 + 2 * MINUTE) == {"12:01": (3, 2)}


def test_finished_tasks_are_retired_once_counted_and_stay_listed(service: Service) -> None:
    task = new(service, items=[1])
    run(service)
    task_index.record_finished(service.table, task, TaskStatus.COMPLETED, "2026-01-01T12:00:01Z")

    throughput.sample(service.table, T0)

    assert list(service.table.store.query(RUNNING)) == []
    [row, _] = service.table.store.query(partition(TaskStatus.COMPLETED))
    assert (row.props["Finished"], row.props["SeenCompleted"]) == ("2026-01-01T12:00:01Z", 1)
    assert [s.task.task_id for s in task_index.page(service.table, None, None, 5, None).tasks] == [
        task.task_id
    ]


def test_a_task_that_finishes_between_samples_is_counted_once(service: Service) -> None:
    new(service, items=[1, 2])
    throughput.sample(service.table, T0)
    run(service)
    assert throughput.sample(service.table, T0 + MINUTE).completed == 2  # and retired
    assert throughput.sample(service.table, T0 + 2 * MINUTE).completed == 0


def test_a_retried_task_counts_only_its_new_results(service: Service) -> None:
    task = new(service, "fail", [{"permanent": True}])
    run(service)
    assert throughput.sample(service.table, T0).failed == 1  # and retired
    assert list(service.table.store.query(RUNNING)) == []

    request_retry(service, task.task_id)
    run(service)  # fails again
    again = throughput.sample(service.table, T0 + MINUTE)

    assert (again.completed, again.failed) == (0, 0)  # failed before, failed again: net 0
    assert per_minute(service, T0 + MINUTE) == {"12:00": (0, 1)}  # the first sample's


def test_a_sample_goes_to_the_minute_it_covers(service: Service) -> None:
    task = new(service, items=[1])
    throughput.sample(service.table, T0.replace(second=0, microsecond=50_000))
    run(service)
    # A minute later, as the timer runs: the jobs belong to the minute that just ended.
    late = throughput.sample(service.table, T0.replace(minute=1, second=0, microsecond=80_000))
    assert (late.start, late.completed) == (T0.replace(second=0), 1)
    assert task.task_id


def test_the_hour_is_kept_in_sixty_rows_and_older_minutes_read_as_nothing(
    service: Service,
) -> None:
    for minute in range(70):
        service.table.store.transact(
            keys.MINUTES_PARTITION,
            [Write("upsert", f"minute-{minute % 60:02d}", {
                "Minute": f"2026-01-01T{11 + minute // 60:02d}:{minute % 60:02d}:00.000Z",
                "Completed": minute, "Failed": 1,
            })],
        )  # fmt: skip
    now = datetime(2026, 1, 1, 12, 9, 40, tzinfo=UTC)

    hour = throughput.last_hour(service.table, now)

    assert len(list(service.table.store.query(keys.MINUTES_PARTITION))) == 60
    assert len(hour) == 60
    assert hour[0].start == datetime(2026, 1, 1, 11, 10, tzinfo=UTC)
    assert hour[-1].start == datetime(2026, 1, 1, 12, 9, tzinfo=UTC)
    assert [m.completed for m in hour] == list(range(10, 70))


def test_stats_show_queue_depths_running_tasks_and_the_hour(service: Service) -> None:
    new(service, items=[1, 2])
    new(service, items=[3])
    service.queues.store.send("jobs-long-poison", "x")

    read = stats.read(service, T0)

    depths = {q.queue: (q.depth, q.poison) for q in read.queues}
    assert depths == {
        "jobs": (0, 0), "jobs-small": (3, 0), "jobs-long": (0, 1), "jobs-control": (0, 0),
        "jobs-high": (0, 0), "jobs-low": (0, 0),
    }  # fmt: skip
    assert read.running_tasks == 2
    assert len(read.minutes) == 60
    run(service)
    throughput.sample(service.table, T0)
    after = stats.read(service, T0)
    assert after.running_tasks == 0
    assert (after.minutes[-1].completed, after.minutes[-1].failed) == (3, 0)
