"""The jobs table. A task's partition (PartitionKey = task id) holds three kinds of row:

- ``task``: what was submitted and how far its setup got;
- ``shard-NN``: counters of its jobs by status, spread over ``COUNTER_SHARDS`` rows so that
  concurrent workers rarely touch the same one; a job always counts in shard ``index % N``;
- ``job-NNNNNNNN``: one job, the seed's fields plus what dispatch needs.

Every status change writes the job row and its shard in one entity-group transaction, both
ETag-guarded, so the counts can never drift from the rows whatever is retried or redelivered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from jobs.blobs import Blobs
from jobs.errors import JobsError
from jobs.models import Counts, Job, JobStatus, Task, TaskState
from jobs.settings import COUNTER_SHARDS

TASK_ROW = "task"
SHARD_PREFIX = "shard-"
JOB_PREFIX = "job-"
# A table property holds 64 KiB (32K UTF-16 characters); longer JSON goes to a blob.
INLINE_LIMIT = 30_000

Operation = tuple[Any, ...]


class ConcurrentUpdate(JobsError):
    """Someone else changed a row between our read and our write: read again and decide again."""


class AlreadyExists(JobsError):
    """A create found the row there already."""


def job_key(index: int) -> str:
    return f"{JOB_PREFIX}{index:08d}"


def shard_of(index: int) -> int:
    return index % COUNTER_SHARDS


def shard_key(shard: int) -> str:
    return f"{SHARD_PREFIX}{shard:02d}"


@dataclass
class Shard:
    number: int
    counts: Counts
    cancelled: bool = False
    etag: str | None = None  # None: the row does not exist yet


class JobsTable:
    def __init__(self, table: TableClient, blobs: Blobs):
        self.table = table
        self.blobs = blobs

    # -- tasks ---------------------------------------------------------------------------

    def get_task(self, task_id: str) -> Task | None:
        entity = self._get(task_id, TASK_ROW)
        return None if entity is None else _task_from(entity)

    def create_task(self, task: Task) -> None:
        try:
            self.table.create_entity(_task_entity(task))
        except ResourceExistsError:
            raise AlreadyExists(task.task_id) from None

    def update_task(self, task_id: str, **fields: Any) -> None:
        entity = {"PartitionKey": task_id, "RowKey": TASK_ROW, **_task_props(fields)}
        self.table.update_entity(entity, mode=UpdateMode.MERGE)

    def read_counts(self, task_id: str) -> tuple[Task, Counts] | None:
        """The task and its counts in one query: its row and its shards, whatever its size."""
        rows = self.table.query_entities(
            "PartitionKey eq @pk and RowKey ge @lo",
            parameters={"pk": task_id, "lo": SHARD_PREFIX},
        )
        task, counts, updated = None, Counts(), ""
        for entity in rows:
            if entity["RowKey"] == TASK_ROW:
                task = _task_from(entity)
            elif entity["RowKey"].startswith(SHARD_PREFIX):
                counts += _shard_from(entity).counts
                updated = max(updated, entity.get("Updated") or "")
        if task is None:
            return None
        # Every job's move stamps its shard, so the newest shard says when the task last moved.
        return replace(task, updated_at=max(task.updated_at, updated)), counts

    def cancel_task(self, task_id: str, now: str) -> None:
        """Flag the task and every shard cancelled in one transaction: a worker that read a
        shard before this sees its ETag change and reads the flag on its next try."""
        operations: list[Operation] = [
            ("upsert", {"PartitionKey": task_id, "RowKey": shard_key(s), "TaskCancelled": True},
             {"mode": UpdateMode.MERGE})
            for s in range(COUNTER_SHARDS)
        ]  # fmt: skip
        task_row = {"PartitionKey": task_id, "RowKey": TASK_ROW, "Cancelled": True, "Updated": now}
        operations.append(("update", task_row, {"mode": UpdateMode.MERGE}))
        self.table.submit_transaction(operations)

    # -- jobs and shards -----------------------------------------------------------------

    def get_job(self, task_id: str, index: int) -> Job | None:
        entity = self._get(task_id, job_key(index))
        return None if entity is None else self._job_from(entity)

    def get_shard(self, task_id: str, number: int) -> Shard:
        entity = self._get(task_id, shard_key(number))
        return Shard(number, Counts()) if entity is None else _shard_from(entity)

    def jobs(
        self, task_id: str, status: JobStatus | None = None, *, with_values: bool = False
    ) -> Iterator[Job]:
        """Every job of the task in index order (optionally of one status)."""
        yield from self.job_page(task_id, status, None, None, with_values=with_values)[0]

    def job_page(
        self,
        task_id: str,
        status: JobStatus | None,
        limit: int | None,
        continuation: str | None,
        *,
        with_values: bool = False,
    ) -> tuple[list[Job], str | None]:
        """Up to ``limit`` jobs after ``continuation`` (a job row key), and the next one's key."""
        query = "PartitionKey eq @pk and RowKey gt @after and RowKey lt @end"
        parameters = {"pk": task_id, "after": continuation or JOB_PREFIX, "end": "job."}
        if status is not None:
            query += " and Status eq @status"
            parameters["status"] = status.value
        select = None if with_values else _SUMMARY_FIELDS
        rows = self.table.query_entities(
            query, parameters=parameters, select=select, results_per_page=min(limit or 1000, 1000)
        )
        jobs: list[Job] = []
        for entity in rows:
            jobs.append(self._job_from(entity, load_values=with_values))
            if limit is not None and len(jobs) >= limit:
                return jobs, job_key(jobs[-1].index)
        return jobs, None

    def create_jobs(self, task_id: str, jobs: Sequence[Job]) -> None:
        """Insert a chunk of new job rows atomically (at most 100, all in the task's partition)."""
        try:
            self.table.submit_transaction(
                [("create", self.job_entity(job, with_item=True)) for job in jobs]
            )
        except TableTransactionError as error:
            if _code(error) == "EntityAlreadyExists":
                raise AlreadyExists(task_id) from None
            raise

    def write(self, task_id: str, jobs: Sequence[Job], shard: Shard, now: str) -> list[str]:
        """Store ``jobs`` (each guarded by its ETag when it has one) and ``shard`` in one
        transaction; returns the new ETags, shard last. ConcurrentUpdate when any guard fails."""
        operations: list[Operation] = [
            self._guarded(self.job_entity(job), job.etag) for job in jobs
        ]
        shard_entity = {
            "PartitionKey": task_id,
            "RowKey": shard_key(shard.number),
            "InProgress": shard.counts.in_progress,
            "Completed": shard.counts.completed,
            "Failed": shard.counts.failed,
            "Cancelled": shard.counts.cancelled,
            "TaskCancelled": shard.cancelled,
            "Updated": now,
        }
        operations.append(
            self._guarded(shard_entity, shard.etag) if shard.etag else ("create", shard_entity)
        )
        try:
            results = self.table.submit_transaction(operations)
        except TableTransactionError as error:
            if _code(error) in ("UpdateConditionNotSatisfied", "EntityAlreadyExists"):
                raise ConcurrentUpdate(task_id) from None
            raise
        return [str(result["etag"]) for result in results]

    def update_job(self, job: Job) -> str:
        """Store a job's own fields (no status change), guarded by its ETag."""
        try:
            result = self.table.update_entity(
                self.job_entity(job),
                mode=UpdateMode.MERGE,
                etag=job.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except HttpResponseError as error:
            if error.status_code == 412:
                raise ConcurrentUpdate(job.task_id) from None
            raise
        return str(result["etag"])

    # -- mapping ---------------------------------------------------------------------------

    def job_entity(self, job: Job, *, with_item: bool = False) -> dict[str, Any]:
        """The row for ``job``. The item is written once, at creation; writes after that merge."""
        entity: dict[str, Any] = {
            "PartitionKey": job.task_id,
            "RowKey": job_key(job.index),
            "Index": job.index,
            "Status": job.status.value,
            "RetryCount": job.attempts,
            "Generation": job.generation,
            "NextIndex": -1 if job.next_index is None else job.next_index,
            "NextSent": job.next_sent,
            # A merge ignores None, so a cleared value is written as "" and read back as None.
            "ErrorMessage": job.error or "",
            "Started": job.started_at or "",
            "Updated": job.updated_at or "",
            "Kind": job.kind,
        }
        if with_item:
            entity.update(self._value(job, "JobDetail", job.item))
        if job.result is not None:
            entity.update(self._value(job, "JobResult", job.result))
        return entity

    def _value(self, job: Job, name: str, value: Any) -> dict[str, Any]:
        text = json.dumps(value, separators=(",", ":"))
        if len(text) <= INLINE_LIMIT:
            return {name: text, f"{name}Blob": None}
        path = f"{job.task_id}/{name.lower()}/{job.job_id}.json"
        self.blobs.put_payload(path, text.encode())
        return {name: None, f"{name}Blob": path}

    def _job_from(self, entity: dict[str, Any], *, load_values: bool = True) -> Job:
        def value(name: str) -> Any:
            if not load_values:
                return None
            if entity.get(f"{name}Blob"):
                return json.loads(self.blobs.get_payload(entity[f"{name}Blob"]))
            raw = entity.get(name)
            return None if raw is None else json.loads(raw)

        next_index = int(entity.get("NextIndex", -1))
        return Job(
            task_id=entity["PartitionKey"],
            index=int(entity["Index"]),
            status=JobStatus(entity["Status"]),
            attempts=int(entity.get("RetryCount") or 0),
            generation=int(entity.get("Generation") or 0),
            next_index=None if next_index < 0 else next_index,
            next_sent=bool(entity.get("NextSent")),
            error=entity.get("ErrorMessage") or None,
            started_at=entity.get("Started") or None,
            updated_at=entity.get("Updated") or None,
            kind=entity.get("Kind", ""),
            item=value("JobDetail"),
            result=value("JobResult"),
            etag=entity.metadata["etag"] if hasattr(entity, "metadata") else None,
        )

    def _get(self, partition: str, row: str) -> Any:
        try:
            return self.table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None

    @staticmethod
    def _guarded(entity: dict[str, Any], etag: str | None) -> Operation:
        if etag is None:
            return ("upsert", entity, {"mode": UpdateMode.MERGE})
        return (
            "update",
            entity,
            {
                "mode": UpdateMode.MERGE,
                "etag": etag,
                "match_condition": MatchConditions.IfNotModified,
            },
        )


_SUMMARY_FIELDS = [
    "PartitionKey", "RowKey", "Index", "Status", "RetryCount", "Generation", "NextIndex",
    "NextSent", "ErrorMessage", "Started", "Updated", "Kind",
]  # fmt: skip

_TASK_FIELDS = {
    "kind": "Kind",
    "queue": "Queue",
    "total": "Total",
    "window": "Window",
    "created_at": "Created",
    "updated_at": "Updated",
    "request_hash": "RequestHash",
    "state": "State",
    "cancelled": "Cancelled",
    "error": "ErrorMessage",
}


def _task_props(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        _TASK_FIELDS[name]: value.value if isinstance(value, TaskState) else value
        for name, value in fields.items()
    }


def _task_entity(task: Task) -> dict[str, Any]:
    fields = {name: getattr(task, name) for name in _TASK_FIELDS}
    return {"PartitionKey": task.task_id, "RowKey": TASK_ROW, **_task_props(fields)}


def _task_from(entity: dict[str, Any]) -> Task:
    return Task(
        task_id=entity["PartitionKey"],
        kind=entity["Kind"],
        queue=entity["Queue"],
        total=int(entity["Total"]),
        window=int(entity["Window"]),
        created_at=entity["Created"],
        updated_at=entity["Updated"],
        request_hash=entity["RequestHash"],
        state=TaskState(entity["State"]),
        cancelled=bool(entity.get("Cancelled")),
        error=entity.get("ErrorMessage"),
    )


def _shard_from(entity: Any) -> Shard:
    return Shard(
        number=int(entity["RowKey"].removeprefix(SHARD_PREFIX)),
        counts=Counts(
            in_progress=int(entity.get("InProgress") or 0),
            completed=int(entity.get("Completed") or 0),
            failed=int(entity.get("Failed") or 0),
            cancelled=int(entity.get("Cancelled") or 0),
        ),
        cancelled=bool(entity.get("TaskCancelled")),
        etag=entity.metadata["etag"],
    )


def _code(error: HttpResponseError) -> str | None:
    code = getattr(error, "error_code", None)
    return None if code is None else str(code)
