"""The retention index: one small row per finished task, in a partition per day of its end
(``retention-YYYYMMDD``, row key the task id, ``FinishedAt``), so the daily retention run reads
only the days before its cutoff instead of scanning the table.

Written when a task's end is followed up (jobs.task_end.completion), which every end gets once; a
retried task that ends again gets a row under its new day, and the run drops rows whose task
ended again since, or is gone. A purge deletes its task's row."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs.core.clock import stamp
from jobs.core.models import Task
from jobs.storage import EntityMissing, Write
from jobs.storage.jobs_table import JobsTable
from jobs.storage.keys import RETENTION_PREFIX, retention_partition


@dataclass(frozen=True)
class Finished:
    task_id: str
    finished_at: str


partition = retention_partition


def record(table: JobsTable, task: Task) -> None:
    """Index the task's recorded end (idempotent)."""
    finished_at = task.completion.finished_at
    if finished_at is None:
        return
    write = Write("upsert", task.task_id, {"FinishedAt": finished_at})
    table.store.transact(partition(finished_at), [write])


def forget(table: JobsTable, task_id: str, finished_at: str) -> None:
    with contextlib.suppress(EntityMissing):
        table.store.transact(partition(finished_at), [Write("delete", task_id)])


def before(table: JobsTable, cutoff: datetime) -> Iterator[Finished]:
    """Every indexed end before ``cutoff`` (UTC), oldest day first: the partitions of the days
    before it, and the cutoff's own day filtered by time."""
    before = stamp(cutoff)
    end = partition((cutoff + timedelta(days=1)).strftime("%Y-%m-%d"))
    for entity in table.store.query_partitions(RETENTION_PREFIX, end):
        finished_at = str(entity.props.get("FinishedAt", ""))
        if finished_at and finished_at < before:
            yield Finished(entity.row, finished_at)
