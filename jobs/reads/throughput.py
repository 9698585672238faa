"""Jobs completed and failed per minute, at no cost to any job's path.

On the sweep's schedule (once a minute in Azure) ``sample`` reads the counters of every task
the index lists as running (jobs.reads.task_index), adds up how far each task's completed and failed
counts moved since the sample before, and adds the sums to the row of the minute. A task
keeps the counts last taken on its index row; once it has finished and its last jobs are
counted, its running rows are retired. Cost per sample: one small query per running task,
one write per task whose counts moved, and two writes for the minute.

The minutes are a ring of 60 rows (``minute-00`` … ``minute-59``, by minute of the hour) in
their own partition, each stamped with its minute, so the table holds an hour and no more.
A sample's counts go to the minute half-way between it and the sample before: with samples a
minute apart, the minute they cover. A retry's reset lowers a task's failed count; a minute
then shows only the failures beyond it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jobs.core import logs
from jobs.core.clock import stamp
from jobs.core.models import JobStatus, TaskSummary
from jobs.reads import task_index
from jobs.storage import ConcurrentUpdate, EntityExists, Rows, TableStore, Write
from jobs.storage.jobs_table import JobsTable
from jobs.storage.keys import CLOCK_ROW, MINUTE_ROWS, MINUTES_PARTITION, minute_key, prefix_end

HOUR = 60
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Minute:
    start: datetime
    completed: int = 0
    failed: int = 0


def sample(
    table: JobsTable,
    now: datetime | None = None,
    settle: Callable[[str], object] = lambda task_id: None,
) -> Minute:
    """Count what every running task did since the last sample; the minute it went to. A task
    whose jobs have all ended but whose end nobody recorded (a writer's check can miss it when
    many jobs end at once across instances: jobs.lifecycle.counters) is handed to ``settle``
    first, so its end is recorded within a sample."""
    moment = now or datetime.now(UTC)
    completed = failed = 0
    for entry in task_index.running(table):
        counted = table.read_counts(entry.task_id)
        if counted is None:
            continue
        summary = TaskSummary.of(*counted)
        seen = (summary.counts[JobStatus.COMPLETED], summary.counts[JobStatus.FAILED])
        completed += max(0, seen[0] - entry.seen[0])
        failed += max(0, seen[1] - entry.seen[1])  # below: a retry reset some
        if summary.status.finished:
            if summary.task.completion.finished_at is None:
                settle(entry.task_id)
            task_index.retire(table, entry, summary, seen)
            continue
        task_index.heal(table, entry, summary)
        if seen != entry.seen:
            task_index.note_seen(table, entry, seen)
    minute = Minute(_bucket(table.store, moment), completed, failed)
    if completed or failed:
        _add(table.store, minute)
    table.store.transact(MINUTES_PARTITION, [Write("upsert", CLOCK_ROW, {"At": stamp(moment)})])
    logs.event("throughput_sampled", completed=completed, failed=failed)
    return minute


def last_hour(table: JobsTable, now: datetime | None = None) -> list[Minute]:
    store = table.store
    """The last 60 minutes, oldest first, this one last; minutes without a row count 0."""
    current = _floor(now or datetime.now(UTC))
    first = current - (HOUR - 1) * MINUTE
    stored: dict[datetime, Minute] = {}
    for entity in store.query(
        MINUTES_PARTITION, Rows(start=MINUTE_ROWS, end=prefix_end(MINUTE_ROWS))
    ):
        start = datetime.fromisoformat(entity.props["Minute"])
        if first <= start <= current:
            props = entity.props
            stored[start] = Minute(start, int(props["Completed"]), int(props["Failed"]))
    return [stored.get(first + n * MINUTE, Minute(first + n * MINUTE)) for n in range(HOUR)]


def _bucket(store: TableStore, now: datetime) -> datetime:
    clock = store.get(MINUTES_PARTITION, CLOCK_ROW)
    if clock is None:
        return _floor(now)
    last = datetime.fromisoformat(clock.props["At"])
    if not now - HOUR * MINUTE < last <= now:  # no sample for an hour, or a clock that jumped
        return _floor(now)
    return _floor(last + (now - last) / 2)


def _add(store: TableStore, minute: Minute) -> None:
    row = minute_key(minute.start.minute)
    at = stamp(minute.start)
    while True:
        entity = store.get(MINUTES_PARTITION, row)
        completed, failed = minute.completed, minute.failed
        if entity is not None and entity.props.get("Minute") == at:
            completed += int(entity.props["Completed"])
            failed += int(entity.props["Failed"])
        props = {"Minute": at, "Completed": completed, "Failed": failed}
        write = (
            Write("create", row, props)
            if entity is None
            else Write("merge", row, props, entity.etag)
        )
        try:
            store.transact(MINUTES_PARTITION, [write])
            return
        except (ConcurrentUpdate, EntityExists):
            continue  # another sampler wrote it meanwhile: add to what it wrote


def _floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)
