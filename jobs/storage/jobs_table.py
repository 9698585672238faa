"""The jobs table. A task's partition (PartitionKey = task id) holds three kinds of row:

- ``task``: what was submitted and how far its setup got;
- ``shard-NN``: counters of its jobs by status, spread over ``COUNTER_SHARDS`` rows so that
  concurrent workers rarely touch the same one; a job always counts in shard ``index % N``;
- ``job-NNNNNNNN``: one job, the seed's fields plus what dispatch needs.

Rows map to models and back here, and nowhere else; the mappers are pure (large values were
spilled by jobs.storage.payloads before a write is attempted). Which writes go together, and
when, is jobs.lifecycle.writer's business."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from jobs.core.clock import stamp
from jobs.core.models import (
    Completion,
    Counts,
    Job,
    JobStatus,
    Notification,
    Payload,
    RetryRound,
    Setup,
    Task,
)
from jobs.core.settings import COUNTER_SHARDS
from jobs.storage import ConcurrentUpdate, Entity, EntityExists, EntityMissing, TableStore, Write
from jobs.storage.contracts import MAX_WRITES, Rows
from jobs.storage.keys import (
    JOB_PREFIX,
    JOBS_END,
    KEY_ROW,
    PROGRESS_PREFIX,
    SHARD_PREFIX,
    TASK_ROW,
    WRITER_PREFIX,
    is_counter,
    job_key,
    key_partition,
    prefix_end,
    progress_key,
    shard_key,
)

# A writer's progress row older than this is read as nothing (its writer died, or its jobs
# went quiet for that long).
PROGRESS_TTL = timedelta(minutes=2)
# A read of many jobs reads past up to this many rows it does not need rather than ask again.
NEARBY = 8


@dataclass(frozen=True)
class TaskWrite:
    """A change to the task row that must land with a move, or not at all."""

    props: dict[str, Any]
    etag: str | None


class AlreadyExists(EntityExists):
    """A create found the task or a job of the chunk there already."""


def shard_of(index: int) -> int:
    return index % COUNTER_SHARDS


@dataclass
class Shard:
    """A counter row: a shard (``shard-NN``) or a writer's (``shard-w-…``)."""

    key: str
    counts: Counts
    cancelled: bool = False
    size: int | None = None  # how many of the task's jobs count here (None: an older task)
    started: str | None = None  # when its first job started
    updated: str | None = None  # when a job last moved here
    etag: str | None = None  # None: the row does not exist yet

    @property
    def closed(self) -> bool:
        """Every job counted here has finished."""
        counts = self.counts
        finished = counts.completed + counts.failed + counts.cancelled
        return self.size is not None and counts.in_progress == 0 and finished >= self.size


def shard_size(total: int, number: int) -> int:
    return len(range(number, total, COUNTER_SHARDS))


class JobsTable:
    """The gateway to the ``jobs`` table: the rows of a task's partition and idempotency keys,
    mapped here. The task index, minute, retention and schedule rows are mapped by the modules
    that own them, over ``store`` and with the keys of jobs.storage.keys."""

    def __init__(self, store: TableStore):
        self.store = store

    def ping(self) -> None:
        self.store.ping()

    # -- tasks ---------------------------------------------------------------------------

    def get_task(self, task_id: str) -> Task | None:
        entity = self.store.get(task_id, TASK_ROW)
        return None if entity is None else _task_from(entity)

    def create_task(self, task: Task) -> None:
        try:
            self.store.transact(task.task_id, [Write("create", TASK_ROW, _task_props(task))])
        except EntityExists:
            raise AlreadyExists(task.task_id) from None

    def update_task(
        self,
        task_id: str,
        *,
        etag: str | None = None,
        retry: RetryRound | None = None,
        completion: Completion | None = None,
        notification: Notification | None = None,
        **fields: Any,
    ) -> str:
        """Merge the named fields into the task row; with ``etag``, only if it is unchanged
        since (ConcurrentUpdate otherwise). Returns the new ETag."""
        props = {_TASK_FIELDS[name]: _stored(value) for name, value in fields.items()}
        if retry is not None:
            props.update(retry_props(retry))
        if completion is not None:
            props.update(completion_props(completion))
        if notification is not None:
            props.update(notification_props(notification))
        return self.store.transact(task_id, [Write("merge", TASK_ROW, props, etag)])[0]

    def claim_key(
        self, key_hash: str, task_id: str, request_hash: str, now: str
    ) -> tuple[str, str]:
        """Record that the key made ``task_id`` from a request of ``request_hash``, unless an
        earlier request recorded its own first; the task id and request hash on record."""
        partition = key_partition(key_hash)
        props = {"TaskId": task_id, "RequestHash": request_hash, "Created": now}
        try:
            self.store.transact(partition, [Write("create", KEY_ROW, props)])
        except EntityExists:
            entity = self.store.get(partition, KEY_ROW)
            if entity is None:  # deleted in between: nothing to agree with
                raise
            return str(entity.props["TaskId"]), str(entity.props["RequestHash"])
        return task_id, request_hash

    def read_counts(self, task_id: str) -> tuple[Task, Counts] | None:
        """The task and its counts in one query: its row and its shards, whatever its size."""
        found = self.read_shards(task_id)
        return None if found is None else _with_shards(*found)

    def cancel_task(self, task_id: str, now: str) -> None:
        """Flag the task and every counter row cancelled: a worker that read a counter row
        before this sees its ETag change and reads the flag on its next try. A task counted by
        shards has all 32 flagged in one transaction with the task row; one counted by writers
        has the rows that exist flagged first and the task row last, and a writer creating its
        row guards the creation with the task row's ETag, so none starts a job unflagged."""
        task_write = Write("merge", TASK_ROW, {"Cancelled": True, "Updated": now})
        task = self.get_task(task_id)
        if task is None or task.counters == "shards":
            writes = [
                Write("upsert", shard_key(number), {"TaskCancelled": True})
                for number in range(COUNTER_SHARDS)
            ]
            self.store.transact(task_id, [*writes, task_write])
            return
        writers = Rows(start=WRITER_PREFIX, end=prefix_end(WRITER_PREFIX), select=[])
        rows = [entity.row for entity in self.store.query(task_id, writers)]
        for at in range(0, len(rows), MAX_WRITES):
            flag = {"TaskCancelled": True}
            flags = [Write("merge", row, flag) for row in rows[at : at + MAX_WRITES]]
            with contextlib.suppress(EntityMissing):
                self.store.transact(task_id, flags)
        self.store.transact(task_id, [task_write])

    # -- jobs and shards -----------------------------------------------------------------

    def get_job(self, task_id: str, index: int) -> Job | None:
        entity = self.store.get(task_id, job_key(index))
        return None if entity is None else _job_from(entity)

    def get_jobs(self, task_id: str, indexes: Iterable[int]) -> dict[int, Job]:
        """The named jobs that exist, by index, in as few reads as their spread allows: one
        range query for each run of indexes with gaps of at most ``NEARBY`` rows between."""
        found: dict[int, Job] = {}
        wanted = sorted(set(indexes))
        for first, last in _runs(wanted, NEARBY):
            if first == last:
                job = self.get_job(task_id, first)
                if job is not None:
                    found[first] = job
                continue
            rows = self.store.query(
                task_id,
                Rows(start=job_key(first), end=job_key(last + 1), page_size=last - first + 1),
            )
            for entity in rows:
                job = _job_from(entity)
                found[job.index] = job
        return {index: found[index] for index in wanted if index in found}

    def get_shard(self, task_id: str, key: str) -> Shard:
        entity = self.store.get(task_id, key)
        return Shard(key, Counts()) if entity is None else _shard_from(entity)

    def jobs(
        self, task_id: str, status: JobStatus | None = None, *, with_values: bool = False
    ) -> Iterator[Job]:
        """Every job of the task in index order (optionally of one status)."""
        rows = self.store.query(
            task_id,
            Rows(
                start=JOB_PREFIX,
                end=JOBS_END,
                equals=None if status is None else {"Status": status.value},
                select=None if with_values else _SUMMARY_FIELDS,
            ),
        )
        for entity in rows:
            yield _job_from(entity)

    def job_page(
        self, task_id: str, status: JobStatus | None, limit: int, after: int | None
    ) -> tuple[list[Job], bool]:
        """Up to ``limit`` jobs with an index above ``after``; True when more may follow."""
        rows = self.store.query(
            task_id,
            Rows(
                start=JOB_PREFIX,
                after=None if after is None else job_key(after),
                end=JOBS_END,
                equals=None if status is None else {"Status": status.value},
                select=_SUMMARY_FIELDS,
            ),
        )
        jobs: list[Job] = []
        for entity in rows:
            jobs.append(_job_from(entity))
            if len(jobs) >= limit:
                return jobs, True
        return jobs, False

    def create_jobs(self, task_id: str, jobs: Sequence[Job]) -> None:
        """Insert a chunk of new job rows atomically (at most 100, all in the task's partition)."""
        try:
            self.store.transact(
                task_id,
                [
                    Write("create", job_key(job.index), job_props(job, with_item=True))
                    for job in jobs
                ],
            )
        except EntityExists:
            raise AlreadyExists(task_id) from None

    def write(
        self,
        task_id: str,
        jobs: Sequence[Job],
        shards: Sequence[Shard],
        now: str,
        task: TaskWrite | None = None,
    ) -> list[str]:
        """Store ``jobs`` and ``shards`` (each guarded by its ETag) and, when given, a change
        to the task row (guarded by its ETag) in one transaction; returns the new ETags, jobs
        first, then the shards'. ConcurrentUpdate when any guard fails."""
        writes = [Write("merge", job_key(job.index), job_props(job), job.etag) for job in jobs]
        for shard in shards:
            props = {
                "InProgress": shard.counts.in_progress,
                "Completed": shard.counts.completed,
                "Failed": shard.counts.failed,
                "Cancelled": shard.counts.cancelled,
                "TaskCancelled": shard.cancelled,
                "Started": shard.started,
                "Updated": now,
            }
            row = shard.key
            guarded = Write("merge", row, props, shard.etag)
            writes.append(guarded if shard.etag else Write("create", row, props))
        if task is not None:
            writes.append(Write("merge", TASK_ROW, task.props, task.etag))
        try:
            etags = self.store.transact(task_id, writes)
            return etags[: len(jobs) + len(shards)]
        except EntityExists:  # another worker created the shard first: same as a lost race
            raise ConcurrentUpdate(task_id) from None

    def write_task(self, task_id: str, write: TaskWrite) -> str:
        """Merge ``write`` into the task row, guarded by its ETag."""
        return self.store.transact(task_id, [Write("merge", TASK_ROW, write.props, write.etag)])[0]

    def size_shards(self, task_id: str, total: int) -> None:
        """Tell every counter shard how many jobs count in it, so the move that finishes a
        shard's last job knows it did (idempotent: only the sizes are merged)."""
        writes = [
            Write("upsert", shard_key(number), {"Size": shard_size(total, number)})
            for number in range(COUNTER_SHARDS)
        ]
        self.store.transact(task_id, writes)

    def read_shards(self, task_id: str) -> tuple[Task, list[Shard]] | None:
        """The task row and every counter shard, in one query."""
        found = self._status_rows(task_id)
        return None if found is None else (found[0], found[1])

    def read_status(self, task_id: str, now: datetime) -> tuple[Task, Counts, float] | None:
        """What a status poll needs, in one query whatever the task's size: the task as
        ``read_counts`` has it, its counts, and the progress its running jobs reported, added
        up over the writers' progress rows that are not stale (see ``write_progress``)."""
        found = self._status_rows(task_id)
        if found is None:
            return None
        task, shards, progress = found
        fresh = stamp(now - PROGRESS_TTL)
        reported = sum(value for value, at in progress if at >= fresh)
        task, counts = _with_shards(task, shards)
        return task, counts, min(reported, float(counts.in_progress))

    def write_progress(self, task_id: str, writer: str, reported: float, at: str) -> None:
        """Record what ``writer``'s running jobs of the task reported, added up. A row older
        than PROGRESS_TTL is read as nothing: its writer died or its jobs went quiet."""
        props = {"Reported": round(reported, 4), "At": at}
        self.store.transact(task_id, [Write("upsert", progress_key(writer), props)])

    def _status_rows(
        self, task_id: str
    ) -> tuple[Task, list[Shard], list[tuple[float, str]]] | None:
        task, shards, progress = None, [], []
        for entity in self.store.query(task_id, Rows(start=SHARD_PREFIX)):
            if entity.row == TASK_ROW:
                task = _task_from(entity)
            elif is_counter(entity.row):
                shards.append(_shard_from(entity))
            elif entity.row.startswith(PROGRESS_PREFIX):
                props = entity.props
                progress.append((float(props.get("Reported") or 0), str(props.get("At") or "")))
        return None if task is None else (task, shards, progress)

    def report_progress(self, job: Job, progress: str) -> str:
        """Store a running job's progress report; no guard, no counter: it changes only that.
        Returns the row's new ETag."""
        write = Write("merge", job_key(job.index), {"Progress": progress})
        return self.store.transact(job.task_id, [write])[0]

    def save_checkpoint(self, job: Job, state: Payload, at: str) -> str:
        """Store a running job's checkpoint, guarded by ``job.etag`` (ConcurrentUpdate when the
        row moved since); returns the row's new ETag."""
        write = Write("merge", job_key(job.index), _checkpoint_props(state, at), job.etag)
        return self.store.transact(job.task_id, [write])[0]

    # -- what a purge deletes ---------------------------------------------------------------

    def owned_rows(self, task_id: str) -> Iterator[str]:
        """The keys of every row of the task's partition but the task row itself."""
        rows = (entity.row for entity in self.store.query(task_id, Rows(select=[])))
        return (row for row in rows if row != TASK_ROW)

    def delete_rows(self, task_id: str, rows: Sequence[str]) -> None:
        """Delete ``rows`` (at most one transaction's worth) of the task's partition, those
        already gone included."""
        try:
            self.store.transact(task_id, [Write("delete", row) for row in rows])
        except EntityMissing:  # a twin step deleted some of them: the rest one by one
            for row in rows:
                with contextlib.suppress(EntityMissing):
                    self.store.transact(task_id, [Write("delete", row)])

    def delete_task(self, task_id: str) -> None:
        self.store.transact(task_id, [Write("delete", TASK_ROW)])

    def forget_key(self, key_hash: str, task_id: str) -> None:
        """Delete the idempotency key's row if it still names ``task_id`` (a key reused after an
        earlier purge names a newer task)."""
        partition = key_partition(key_hash)
        entity = self.store.get(partition, KEY_ROW)
        if entity is None or entity.props.get("TaskId") != task_id:
            return
        with contextlib.suppress(EntityMissing, ConcurrentUpdate):
            self.store.transact(partition, [Write("delete", KEY_ROW, etag=entity.etag)])

    def update_job(self, job: Job) -> str:
        """Store a job's own fields (no status change), guarded by its ETag."""
        write = Write("merge", job_key(job.index), job_props(job), job.etag)
        return self.store.transact(job.task_id, [write])[0]


def _runs(indexes: Sequence[int], gap: int) -> Iterator[tuple[int, int]]:
    """Sorted ``indexes`` as (first, last) runs, a new run after any gap wider than ``gap``."""
    if not indexes:
        return
    first = last = indexes[0]
    for index in indexes[1:]:
        if index - last > gap:
            yield first, last
            first = index
        last = index
    yield first, last


def job_props(job: Job, *, with_item: bool = False) -> dict[str, Any]:
    """A job's row. The item is written once, at creation, and the result when the job carries
    one; other writes merge and leave them as they are."""
    props: dict[str, Any] = {
        "Index": job.index,
        "Status": job.status.value,
        "RetryCount": job.attempts,
        "Generation": job.generation,
        "NextIndex": -1 if job.next_index is None else job.next_index,
        "NextGeneration": job.next_generation,
        "NextSent": job.next_sent,
        # A merge ignores None, so a cleared value is written as "" and read back as None.
        "ErrorMessage": job.error or "",
        "Started": job.started_at or "",
        "Updated": job.updated_at or "",
        "Kind": job.kind,
        "Grown": job.grown,
    }
    if with_item and job.item is not None:  # a new row: nothing to clear
        props.update({"JobDetail": job.item.text, "JobDetailBlob": job.item.blob})
    if job.result is not None:
        # The other of the pair is cleared ("" reads back as absent), so a result written
        # again after a retry never leaves a stale twin behind.
        props.update({"JobResult": job.result.text or "", "JobResultBlob": job.result.blob or ""})
    if job.status.finished:  # an ended job keeps no checkpoint; only save_checkpoint sets one
        props.update(_checkpoint_props(None, None))
    return props


def _checkpoint_props(state: Payload | None, at: str | None) -> dict[str, Any]:
    return {
        "Checkpoint": "" if state is None else state.text or "",
        "CheckpointBlob": "" if state is None else state.blob or "",
        "CheckpointAt": at or "",
    }


def _payload_from(props: Any, name: str) -> Payload | None:
    text, blob = props.get(name) or None, props.get(f"{name}Blob") or None
    return None if text is None and blob is None else Payload(text=text, blob=blob)


def _job_from(entity: Entity) -> Job:
    props = entity.props
    next_index = int(props.get("NextIndex", -1))
    return Job(
        task_id=entity.partition,
        index=int(props["Index"]),
        status=JobStatus(props["Status"]),
        attempts=int(props.get("RetryCount") or 0),
        generation=int(props.get("Generation") or 0),
        next_index=None if next_index < 0 else next_index,
        next_generation=int(props.get("NextGeneration") or 0),
        next_sent=bool(props.get("NextSent")),
        error=props.get("ErrorMessage") or None,
        started_at=props.get("Started") or None,
        updated_at=props.get("Updated") or None,
        kind=props.get("Kind", ""),
        item=_payload_from(props, "JobDetail"),
        result=_payload_from(props, "JobResult"),
        progress=props.get("Progress") or None,
        grown=bool(props.get("Grown")),
        checkpoint=_payload_from(props, "Checkpoint"),
        checkpoint_at=props.get("CheckpointAt") or None,
        etag=entity.etag,
    )


_SUMMARY_FIELDS = [
    "Index", "Status", "RetryCount", "Generation", "NextIndex", "NextGeneration", "NextSent",
    "ErrorMessage", "Started", "Updated", "Kind", "Progress", "CheckpointAt", "Grown",
]  # fmt: skip

_TASK_FIELDS = {
    "kind": "Kind",
    "queue": "Queue",
    "total": "Total",
    "window": "Window",
    "created_at": "Created",
    "updated_at": "Updated",
    "request_hash": "RequestHash",
    "setup": "State",
    "cancelled": "Cancelled",
    "error": "ErrorMessage",
    "dispatcher": "Dispatcher",
    "metadata": "Metadata",
    "callback_url": "CallbackUrl",
    "not_before": "NotBefore",
    "key_hash": "KeyHash",
    "source": "Source",
    "purging": "Purging",
    "counters": "Counters",
    "grow_next": "GrowNext",
    "then": "Then",
    "previous": "Previous",
    "next_task": "NextTask",
    "stage_for": "StageFor",
    "stage_error": "StageError",
    "priority": "Priority",
}
_RETRY_FIELDS = {"number": "RetryRound", "done": "RetryDone", "after": "RetryAfter",
                 "head": "RetryHead", "page": "RetryPage"}  # fmt: skip


def _stored(value: Any) -> Any:
    return value.value if isinstance(value, Setup) else value


def _task_props(task: Task) -> dict[str, Any]:
    props = {column: _stored(getattr(task, name)) for name, column in _TASK_FIELDS.items()}
    return {
        **props,
        **retry_props(task.retry),
        **completion_props(task.completion),
        **notification_props(task.notification),
    }


def retry_props(retry: RetryRound) -> dict[str, Any]:
    return {column: getattr(retry, name) for name, column in _RETRY_FIELDS.items()}


def completion_props(completion: Completion) -> dict[str, Any]:
    return {
        "Completions": completion.number,
        # "" reads back as None: a merge ignores None, so an open task is written as "".
        "FinishedAt": completion.finished_at or "",
        "FinalStatus": completion.status or "",
    }


def notification_props(notification: Notification) -> dict[str, Any]:
    return {
        "NotifyFor": notification.completion,
        "NotifyState": notification.state or "",
        "NotifyAttempts": notification.attempts,
        "NotifyError": notification.last_error or "",
    }


def _task_from(entity: Entity) -> Task:
    props = entity.props
    return Task(
        task_id=entity.partition,
        kind=props["Kind"],
        queue=props["Queue"],
        total=int(props["Total"]),
        window=int(props["Window"]),
        created_at=props["Created"],
        updated_at=props["Updated"],
        request_hash=props["RequestHash"],
        setup=Setup(props["State"]),
        cancelled=bool(props.get("Cancelled")),
        error=props.get("ErrorMessage"),
        dispatcher=props.get("Dispatcher") or None,
        metadata=props.get("Metadata") or None,
        callback_url=props.get("CallbackUrl") or None,
        not_before=props.get("NotBefore") or None,
        key_hash=props.get("KeyHash") or None,
        source=props.get("Source") or None,
        purging=bool(props.get("Purging")),
        counters=props.get("Counters") or "shards",
        grow_next=None if props.get("GrowNext") is None else int(props["GrowNext"]),
        then=props.get("Then") or None,
        previous=props.get("Previous") or None,
        next_task=props.get("NextTask") or None,
        stage_for=int(props.get("StageFor") or 0),
        stage_error=props.get("StageError") or None,
        priority=props.get("Priority") or "normal",  # absent: a task from before priorities
        completion=Completion(
            number=int(props.get("Completions") or 0),
            finished_at=props.get("FinishedAt") or None,
            status=props.get("FinalStatus") or None,
        ),
        notification=Notification(
            completion=int(props.get("NotifyFor") or 0),
            state=props.get("NotifyState") or None,
            attempts=int(props.get("NotifyAttempts") or 0),
            last_error=props.get("NotifyError") or None,
        ),
        retry=RetryRound(
            number=int(props.get("RetryRound") or 0),
            done=int(props.get("RetryDone") or 0),
            after=int(props.get("RetryAfter", -1)),
            head=props.get("RetryHead") or "",
            page=props.get("RetryPage") or "",
        ),
        etag=entity.etag,
    )


def _with_shards(task: Task, shards: Sequence[Shard]) -> tuple[Task, Counts]:
    counts = sum((shard.counts for shard in shards), Counts())
    # Every job's move stamps its shard, so the newest shard says when the task last moved,
    # and the earliest shard start is the task's.
    updated = max([task.updated_at, *(s.updated for s in shards if s.updated)])
    starts = [s.started for s in shards if s.started]
    return replace(task, updated_at=updated, started_at=min(starts, default=None)), counts


def _shard_from(entity: Entity) -> Shard:
    props = entity.props
    return Shard(
        key=entity.row,
        counts=Counts(
            in_progress=int(props.get("InProgress") or 0),
            completed=int(props.get("Completed") or 0),
            failed=int(props.get("Failed") or 0),
            cancelled=int(props.get("Cancelled") or 0),
        ),
        cancelled=bool(props.get("TaskCancelled")),
        size=None if props.get("Size") is None else int(props["Size"]),
        started=props.get("Started") or None,
        updated=props.get("Updated") or None,
        etag=entity.etag,
    )
