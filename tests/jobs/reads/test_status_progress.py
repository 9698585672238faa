"""A status poll reads one query whatever the task's size: the running jobs' progress comes
added up, one row per writer (a worker process), never by reading the running jobs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from composition import Service
from harness.polling import wait_until
from jobs.core.messages import RunMessage
from jobs.core.models import TaskSummary
from jobs.core.resources import all_queues
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.lifecycle.attempt import Attempt
from jobs.reads.tasks import status
from jobs.storage import Entity
from jobs.storage.jobs_table import PROGRESS_TTL
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore


class CountingTable(MemoryTableStore):
    def __init__(self) -> None:
        super().__init__()
        self.queries = 0
        self.gets = 0

    def query(self, *args: Any, **kwargs: Any) -> Iterator[Entity]:
        self.queries += 1
        return super().query(*args, **kwargs)

    def get(self, partition: str, row: str) -> Entity | None:
        self.gets += 1
        return super().get(partition, row)


@pytest.fixture
def table() -> CountingTable:
    return CountingTable()


@pytest.fixture
def service(table: CountingTable) -> Service:
    settings = Settings(test_kinds=True, dispatch_window=32)
    return Service.over(settings, table, MemoryQueueStore(all_queues()), MemoryBlobStore())


def running_task(service: Service, jobs: int, running: int) -> tuple[str, list[Attempt]]:
    body = {"kind": "echo", "items": list(range(jobs))}
    task = submit(service, json.dumps(body).encode()).task
    fan_out(service, task.task_id)
    attempts = []
    for index in range(running):
        claim = service.lifecycle.start(RunMessage(task.task_id, index), "jobs", 1)
        assert claim is not None
        attempts.append(Attempt(service, claim.job))
    return task.task_id, attempts


def reads(service: Service, task_id: str, reported: float) -> TaskSummary:
    """The task's status once its running jobs' reports have been written (within a second:
    the board writes a task's row at most that often)."""

    def written() -> TaskSummary | None:
        summary = status(service, task_id)
        return summary if summary.reported == pytest.approx(reported) else None

    return wait_until(written, timeout=5, interval=0.05, message=f"progress {reported}")


def poll_cost(service: Service, table: CountingTable, task_id: str) -> tuple[int, int]:
    table.queries = table.gets = 0
    status(service, task_id)
    return table.queries, table.gets


def test_reported_progress_reaches_the_task_without_reading_its_jobs(service: Service) -> None:
    task_id, [first, second, third] = running_task(service, 8, 3)
    first.report(0.5, None)
    second.report(0.25, None)
    third.report(1.0, None)

    summary = reads(service, task_id, 1.75)
    assert summary.progress == pytest.approx(1.75 / 8)


def test_a_poll_costs_the_same_for_a_large_task_as_for_a_small_one(
    service: Service, table: CountingTable
) -> None:
    small, small_running = running_task(service, 4, 2)
    large, large_running = running_task(service, 1000, 200)
    for attempt in [*small_running, *large_running]:
        attempt.report(0.5, None)

    reads(service, large, 100)
    reads(service, small, 1)
    assert poll_cost(service, table, small) == poll_cost(service, table, large) == (1, 0)


def test_a_job_that_stopped_leaves_the_sum(service: Service) -> None:
    task_id, [first, second] = running_task(service, 4, 2)
    first.report(0.5, None)
    second.report(0.25, None)
    first.end()
    reads(service, task_id, 0.25)


def test_a_stale_writers_row_counts_for_nothing(service: Service) -> None:
    """A writer that died keeps its row; once the row is older than PROGRESS_TTL it is read
    as nothing."""
    task_id, [first] = running_task(service, 4, 1)
    first.report(0.5, None)
    long_ago = datetime.now(UTC) - PROGRESS_TTL - timedelta(seconds=1)
    service.table.write_progress(task_id, service.lifecycle.progress.writer, 0.5,
                                 long_ago.isoformat().replace("+00:00", "Z"))  # fmt: skip
    assert status(service, task_id).reported == 0


def test_reported_progress_never_exceeds_the_running_jobs(service: Service) -> None:
    task_id, [first] = running_task(service, 4, 1)
    service.table.write_progress(task_id, "another-writer", 3.0, datetime.now(UTC).isoformat())
    first.report(0.5, None)
    assert status(service, task_id).reported == 1.0
