"""The task index: every task, newest first, by state and by kind, so a listing costs what its
page costs, never the number of tasks or jobs in the table.

Index rows live in the jobs table, in one partition per task state (``tasks-running``,
``tasks-completed``, ``tasks-completed_with_failures``, ``tasks-cancelled``): none can be a
task id (a UUID) or an idempotency key's ``key-…``. A task has two rows in the partition of
its state, always written and removed together in one transaction:

- ``t-<position>``: every task in that state, newest first;
- ``k-<kind>-<position>``: the same, for one kind;

where the position is the inverted submit time in milliseconds and the task id
(``8263540517876-<uuid>``): rows sort newest first, and a position names one task for good, so
it is also the listing's continuation.

How the rows follow a task:

- submit writes them in ``tasks-running``, after the task row (``record_submitted``);
- when the task finishes, ``record_finished`` writes them in the partition of its final state
  and marks its running rows with that state. The running rows stay until the per-minute
  sampler (jobs.reads.throughput) has counted the task's last jobs, then it deletes them
  (``retire``); ``SeenCompleted`` and ``SeenFailed`` are the counts it last took;
- a retry reopens it (``record_reopened``): running rows again, the finished ones deleted.

Every move writes the new rows before it deletes the old ones, so a crash in between lists a
task twice (a page shows it once), never not at all. A listing reads each task's live summary
for its document anyway, and puts right any row its live state contradicts (``heal``), so the
index mends itself wherever a move was missed or never made.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.core.models import Task, TaskStatus, TaskSummary, canonical_task_id
from jobs.storage import (
    ConcurrentUpdate,
    Entity,
    EntityExists,
    EntityMissing,
    Rows,
    TableStore,
    Write,
)
from jobs.storage.jobs_table import JobsTable
from jobs.storage.keys import INDEX_ALL_ROWS, INDEX_KIND_ROWS, index_partition, prefix_end

FINISHED = tuple(state for state in TaskStatus if state.finished)
_LATEST_MS = 10**13 - 1  # positions stay 13 digits until the year 2286
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POSITION = re.compile(r"[0-9]{13}-[0-9a-f-]{36}")  # ASCII digits only, as positions are written
_FIELDS = ["TaskId", "Kind", "State", "Finished", "SeenCompleted", "SeenFailed"]


def partition(state: TaskStatus) -> str:
    return index_partition(state.value)


RUNNING = partition(TaskStatus.RUNNING)


def position(task: Task) -> str:
    """Where the task sorts: newest first, ties broken by id."""
    created = datetime.fromisoformat(task.created_at)
    millis = (created - _EPOCH) // timedelta(milliseconds=1)
    return f"{_LATEST_MS - millis:013d}-{task.task_id}"


def is_position(text: str) -> bool:
    return bool(_POSITION.fullmatch(text)) and canonical_task_id(text[14:]) == text[14:]


@dataclass(frozen=True)
class Entry:
    """One task as an index row has it."""

    partition: str
    position: str
    task_id: str
    kind: str
    state: TaskStatus  # in the running partition: the final state, once recorded
    finished_at: str | None
    seen: tuple[int, int]  # jobs completed and failed when the sampler last counted
    etag: str


@dataclass(frozen=True)
class TaskPage:
    tasks: list[TaskSummary]
    continuation: str | None  # the position to go on after; None at the end


# -- moves ---------------------------------------------------------------------------------


def record_submitted(table: JobsTable, task: Task) -> None:
    """List a new task as running (after its task row exists; repeating it is harmless)."""
    _put(table.store, RUNNING, task, "upsert", {"State": TaskStatus.RUNNING.value})


def record_finished(table: JobsTable, task: Task, status: TaskStatus, finished_at: str) -> None:
    """List the task under its final ``status``. Safe to repeat, and to call for a task whose
    rows the index never had or has moved already."""
    if not status.finished:
        raise ValueError(f"{status} is not a final state")
    props = {"State": status.value, "Finished": finished_at}
    _put(table.store, partition(status), task, "upsert", props)
    with contextlib.suppress(EntityMissing):  # the sampler has retired them already
        _put(table.store, RUNNING, task, "merge", props)


def record_reopened(table: JobsTable, task: Task, was: TaskStatus | None = None) -> None:
    """List a finished task as running again (a retry); ``was`` its final state, when known."""
    store = table.store
    again = {"State": TaskStatus.RUNNING.value, "Finished": ""}
    try:
        _put(store, RUNNING, task, "merge", again)
    except EntityMissing:
        # Retired: the sampler wrote its last counts on the finished rows before deleting
        # these, so the new rows start from them and nothing is counted twice.
        seen = _seen_when_retired(store, task, FINISHED if was is None else (was,))
        try:
            _put(store, RUNNING, task, "create", {**again, **seen})
        except EntityExists:  # a concurrent reopen made them first
            _put(store, RUNNING, task, "merge", again)
    for state in FINISHED if was is None else (was,):
        if state.finished:
            with contextlib.suppress(EntityMissing):
                _put(store, partition(state), task, "delete", {})


def forget(table: JobsTable, task: Task) -> None:
    """Take the task out of the index, whatever states it is listed under (a purge)."""
    place = position(task)
    for state in TaskStatus:
        for row in _rows(task.kind, place):
            with contextlib.suppress(EntityMissing):
                table.store.transact(partition(state), [Write("delete", row)])


def retire(table: JobsTable, entry: Entry, summary: TaskSummary, seen: tuple[int, int]) -> bool:
    """The sampler has counted a finished task's last jobs (``seen``): list it only under its
    final state. False when its running rows changed meanwhile (a retry reopened it)."""
    state = summary.status
    finished_at = entry.finished_at or summary.task.updated_at
    props = {"State": state.value, "Finished": finished_at, **_seen_props(seen)}
    _put(table.store, partition(state), summary.task, "upsert", props)
    all_row, kind_row = _rows(entry.kind, entry.position)
    deletes = [Write("delete", all_row, etag=entry.etag), Write("delete", kind_row)]
    try:
        table.store.transact(RUNNING, deletes)
    except (ConcurrentUpdate, EntityMissing):
        note_seen(table, entry, seen)
        return False
    return True


def note_seen(table: JobsTable, entry: Entry, seen: tuple[int, int]) -> None:
    """Record the counts the sampler has taken, on the task's running row."""
    write = Write("merge", _rows(entry.kind, entry.position)[0], _seen_props(seen))
    with contextlib.suppress(EntityMissing):
        table.store.transact(RUNNING, [write])


def heal(table: JobsTable, entry: Entry, summary: TaskSummary) -> None:
    """Put the entry's rows right when the task's live state contradicts them."""
    live, task = summary.status, summary.task
    if entry.partition == RUNNING:
        if live.finished and entry.state is TaskStatus.RUNNING:
            record_finished(table, task, live, task.updated_at)
        elif live is TaskStatus.RUNNING and entry.state.finished:  # retried, not recorded
            record_reopened(table, task, entry.state)
        return
    if live is entry.state:
        return
    record_reopened(table, task, entry.state)
    if live.finished:  # it finished again, in another state, before anyone looked
        record_finished(table, task, live, task.updated_at)


# -- reading -------------------------------------------------------------------------------


def page(
    table: JobsTable, state: TaskStatus | None, kind: str | None, limit: int, after: str | None
) -> TaskPage:
    """Up to ``limit`` tasks after position ``after``, newest first, each with its live
    summary. Rows that turn out not to match (a task listed as running that has finished,
    say) are put right and passed over; after ``limit`` of those the page ends early with a
    continuation, so one page never reads more than twice ``limit`` tasks."""
    prefix = INDEX_ALL_ROWS if kind is None else f"{INDEX_KIND_ROWS}{_kind_key(kind)}-"
    finished = FINISHED if state is None else tuple(s for s in (state,) if s.finished)
    streams = [_entries(table.store, partition(s), prefix, after, limit) for s in finished]
    # Running tasks, and with a final state asked for, tasks that may have reached it unrecorded.
    streams.append(_entries(table.store, RUNNING, prefix, after, limit, only_running=True))
    found: list[TaskSummary] = []
    passed = 0
    last: str | None = None
    merged = heapq.merge(*streams, key=lambda entry: entry.position)
    for place, group in itertools.groupby(merged, key=lambda entry: entry.position):
        if len(found) >= limit or passed >= limit:
            return TaskPage(found, last)
        last = place
        entries = list(group)
        counted = table.read_counts(entries[0].task_id)
        if counted is None or counted[0].purging:  # gone, or going: a purged task is gone at once
            passed += 1
            continue
        summary = TaskSummary.of(*counted)
        for entry in entries:
            heal(table, entry, summary)
        if state is None or summary.status is state:
            found.append(summary)
        else:
            passed += 1
    return TaskPage(found, None)


def running(table: JobsTable) -> Iterator[Entry]:
    """Every task listed in the running partition, those recorded finished but not yet
    retired included (their ``state`` says so)."""
    return _entries(table.store, RUNNING, INDEX_ALL_ROWS, None, None)


def running_count(table: JobsTable) -> int:
    """Tasks listed as running (one narrow row each)."""
    rows = table.store.query(
        RUNNING,
        Rows(
            start=INDEX_ALL_ROWS,
            end=prefix_end(INDEX_ALL_ROWS),
            equals={"State": TaskStatus.RUNNING.value},
            select=["State"],
        ),
    )
    return sum(1 for _ in rows)


def _entries(
    store: TableStore,
    partition: str,
    prefix: str,
    after: str | None,
    limit: int | None,
    *,
    only_running: bool = False,
) -> Iterator[Entry]:
    rows = store.query(
        partition,
        Rows(
            start=prefix,
            after=None if after is None else f"{prefix}{after}",
            end=prefix_end(prefix),
            equals={"State": TaskStatus.RUNNING.value} if only_running else None,
            select=_FIELDS,
            page_size=None if limit is None else limit + 1,
        ),
    )
    for entity in rows:
        yield _entry(entity, entity.row[len(prefix) :])


def _entry(entity: Entity, place: str) -> Entry:
    props = entity.props
    return Entry(
        partition=entity.partition,
        position=place,
        task_id=str(props["TaskId"]),
        kind=str(props["Kind"]),
        state=TaskStatus(props["State"]),
        finished_at=props.get("Finished") or None,
        seen=(int(props.get("SeenCompleted") or 0), int(props.get("SeenFailed") or 0)),
        etag=entity.etag,
    )


# -- rows ----------------------------------------------------------------------------------


def _put(store: TableStore, partition: str, task: Task, op: Any, props: dict[str, Any]) -> None:
    """The same write to both of the task's rows in ``partition``, in one transaction."""
    base = {} if op in ("merge", "delete") else {"TaskId": task.task_id, "Kind": task.kind}
    writes = [Write(op, row, {**base, **props}) for row in _rows(task.kind, position(task))]
    store.transact(partition, writes)


def _rows(kind: str, place: str) -> tuple[str, str]:
    return f"{INDEX_ALL_ROWS}{place}", f"{INDEX_KIND_ROWS}{_kind_key(kind)}-{place}"


def _seen_props(seen: tuple[int, int]) -> dict[str, int]:
    return {"SeenCompleted": seen[0], "SeenFailed": seen[1]}


def _seen_when_retired(
    store: TableStore, task: Task, states: Iterable[TaskStatus]
) -> dict[str, int]:
    for state in states:
        entity = store.get(partition(state), _rows(task.kind, position(task))[0])
        if entity is not None and "SeenCompleted" in entity.props:
            return _seen_props(_entry(entity, "").seen)
    return {}


def _kind_key(kind: str) -> str:
    """The kind as it goes in a row key: ``-`` (the separator), ``%`` and the characters a key
    cannot hold are escaped, so one kind's rows never fall in another's range."""
    return "".join(
        char if char.isalnum() or char in "_.~" else "".join(f"%{b:02X}" for b in char.encode())
        for char in kind
    )
