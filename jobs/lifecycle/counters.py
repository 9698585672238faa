"""Where a task's moves are counted, and what a writer keeps of it between writes.

Two layouts, recorded on the task row when the task is created (``Task.counters``):

- **writers** (the default): each writer (a worker process, or one of its threads for writes
  outside the group commit) counts the moves it writes in a row of its own,
  ``shard-w-<writer>``, as changes: a job started by one writer and finished by another adds
  +1 in progress to the first's row, and -1 in progress, +1 completed to the second's. The sum
  of the rows is exact, and no writer ever writes another's row, so instances moving one task
  never collide on its counters. The task's end is found by reading every row (one query)
  whenever a process has no job of the task running any more (jobs.lifecycle.writer
  ``working``): the process that ends the last job always does, after its write. The
  per-minute sampler settles any task whose end a crash kept unrecorded.
- **shards** (tasks created before writers' rows, or with JOBS_COUNTER_LAYOUT=shards): 32
  rows, a job counting in shard ``index % 32``; each shard knows how many jobs count in it, so
  the move that ends a shard's last job knows it did and checks the others.

A writer keeps what it last read or wrote of a task (``Known``), guarded by the rows' ETags: a
row another writer moved (a shard, a cancel's flag on a writer's row) fails the next write,
which reads everything again. A writer reads a task's rows again at least every REFRESH even
so."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum

from jobs.core.models import Counts, Task
from jobs.core.settings import COUNTER_SHARDS
from jobs.storage.jobs_table import JobsTable, Shard
from jobs.storage.keys import shard_key, shard_number, writer_key

REFRESH = 1.0  # seconds a writer trusts what it read of a task's rows


class Layout(StrEnum):
    WRITERS = "writers"
    SHARDS = "shards"


@dataclass
class Known:
    """What one writer knows of one task's counters."""

    task: Task  # as last read: its ETag guards the creation of a writer's row
    rows: dict[str, Shard]  # the counter rows as last read or written, by row key
    read_at: float = field(default_factory=time.monotonic)

    @property
    def layout(self) -> Layout:
        return Layout(self.task.counters)

    def counter(self, index: int, writer: str) -> str:
        """The row that counts a move of job ``index`` written by ``writer``."""
        if self.layout is Layout.SHARDS:
            return shard_key(index % COUNTER_SHARDS)
        return writer_key(writer)

    def row(self, key: str) -> Shard:
        return self.rows.get(key) or Shard(key, Counts(), cancelled=self.task.cancelled)

    def cancelled(self, key: str) -> bool:
        return self.task.cancelled or self.row(key).cancelled

    def stale(self) -> bool:
        return time.monotonic() - self.read_at > REFRESH


def read(table: JobsTable, task_id: str) -> Known | None:
    """The task's row and every counter row, in one query; None when there is no task."""
    found = table.read_shards(task_id)
    if found is None:
        return None
    task, shards = found
    rows = {shard.key: shard for shard in shards}
    if task.counters == Layout.SHARDS:
        for number in range(COUNTER_SHARDS):
            rows.setdefault(shard_key(number), Shard(shard_key(number), Counts()))
        rows = {key: row for key, row in rows.items() if shard_number(key) is not None}
    return Known(task, rows)


class CounterCache:
    """What each writer of this process knows of the tasks it moved last."""

    def __init__(self, entries: int = 1024) -> None:
        self._entries = entries
        self._known: OrderedDict[tuple[str, str], Known] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, task_id: str, writer: str) -> Known | None:
        with self._lock:
            return self._known.get((task_id, writer))

    def put(self, task_id: str, writer: str, known: Known) -> None:
        with self._lock:
            self._known[(task_id, writer)] = known
            self._known.move_to_end((task_id, writer))
            while len(self._known) > self._entries:
                self._known.popitem(last=False)

    def forget(self, task_id: str, writer: str) -> None:
        with self._lock:
            self._known.pop((task_id, writer), None)
