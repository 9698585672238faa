"""How a job moves between statuses: the one place that decides it, and the one place that
keeps the counters true.

Callers say what happened (a worker started the job, its handler returned, the host gave up on
its message, the task was cancelled, a retry was asked for); ``MOVES`` says which statuses
that may move a job from and to; ``decide`` applies it to the row as stored. Each move is
written with the job's counter shard in one ETag-guarded transaction. When the race is lost (a
duplicate message, another worker, a cancel, the sweep) the rows are read again and every move
decided again, so counts move exactly once per job whoever wins.

Rules around the table:

- **Staleness.** Every change names the generation it acts on (a message's, or the row's as the
  caller read it). A retry raises a failed job's generation, so changes for an older one are
  stale and do nothing. A change for a newer generation that finds the job Failed is a retry's
  message that overtook the retry's reset: the job is taken as reset.
- **Cancelled tasks.** A worker that starts a job of a cancelled task skips it instead.
- **Successors.** A job that finishes through a worker or the sweep sends its successor's
  message (the job ``window`` places on) *before* the finishing write: a crash in between sends
  it again, and the duplicate is absorbed like any other. The cancel pass reaches every pending
  job itself. A retry chains the jobs it resets the same way (jobs.retry), so they go back
  through the window like new ones."""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from jobs import logs
from jobs.errors import JobsError
from jobs.models import (
    Completion,
    Counts,
    FinishedMessage,
    Job,
    JobStatus,
    JsonValue,
    Payload,
    RunMessage,
    Task,
    TaskSummary,
    job_id,
    utcnow,
)
from jobs.payloads import Payloads
from jobs.queues import JobQueues
from jobs.resources import CONTROL_QUEUE
from jobs.settings import COUNTER_SHARDS
from jobs.storage import ConcurrentUpdate
from jobs.store import JobsTable, Shard, TaskWrite, completion_props, shard_of

MAX_RACES = 50
GROUP = 99  # job rows per transaction, leaving room for the shard row
POISONED = "the job did not finish within the allowed attempts"
FOLLOW_UP = -1  # in a move's ``sent`` set: the task's follow-up message went out


class Contention(JobsError):
    """Lost too many races in a row; the caller's retry (the host's, for a job) tries later."""


class Event(StrEnum):
    START = "start"  # a worker takes the job up (again, after a crash or a failed attempt)
    SKIP = "skip"  # a worker finds the job's task cancelled
    COMPLETE = "complete"  # the handler returned
    FAIL = "fail"  # the handler failed for good: a permanent error, a bad item, no such kind
    POISON = "poison"  # the host gave up on the job's message; the sweep found it
    CANCEL = "cancel"  # the cancel pass reached a job that had not started
    RESET = "reset"  # a retry sends a failed job round again


@dataclass(frozen=True)
class Move:
    sources: frozenset[JobStatus]
    target: JobStatus
    dispatches: bool  # sends the job's successor before the write


_P, _R = JobStatus.PENDING, JobStatus.IN_PROGRESS
_C, _F, _X = JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED

MOVES: Final[Mapping[Event, Move]] = {
    #                     from                    to   sends successor
    Event.START:    Move(frozenset({_P, _R}),     _R,  False),
    Event.SKIP:     Move(frozenset({_P, _R}),     _X,  True),
    Event.COMPLETE: Move(frozenset({_R}),         _C,  True),
    Event.FAIL:     Move(frozenset({_R}),         _F,  True),
    Event.POISON:   Move(frozenset({_P, _R}),     _F,  True),
    Event.CANCEL:   Move(frozenset({_P}),         _X,  False),
    Event.RESET:    Move(frozenset({_F}),         _P,  False),
}  # fmt: skip


@dataclass(frozen=True)
class Change:
    """What happened to one job, as its caller tells it."""

    event: Event
    generation: int  # the generation acted on: a message's, or the row's as the caller read it
    attempt: int = 0  # START: the message's dequeue count
    result: Payload | None = None  # COMPLETE
    error: str | None = None  # FAIL; POISON keeps the last error a failed attempt recorded
    successor: Successor | None = None  # RESET: the retried job this one dispatches


@dataclass(frozen=True)
class Successor:
    index: int
    generation: int


def current(job: Job, generation: int) -> Job | None:
    """``job`` as a change for ``generation`` must see it; None when the change is stale."""
    if generation < job.generation:
        return None  # superseded by a retry
    if generation > job.generation:
        if job.status is not JobStatus.FAILED:
            return None  # only a failed job is ever sent round again
        # A retry's message overtook the retry's reset: take the reset as done.
        return replace(job, status=_P, generation=generation, attempts=0, error=None)
    return job


def decide(job: Job, change: Change, *, cancelled: bool, now: str) -> tuple[Event, Job] | None:
    """The event that applies and the row ``job`` becomes through ``change``, or None when the
    change no longer applies to it. Pure: the counters follow from the stored row's status."""
    seen = current(job, change.generation)
    if seen is None:
        return None
    event = Event.SKIP if change.event is Event.START and cancelled else change.event
    move = MOVES[event]
    if seen.status not in move.sources:
        return None
    moved = replace(seen, status=move.target, updated_at=now)
    if event is Event.START:
        moved = replace(moved, attempts=change.attempt, started_at=seen.started_at or now)
    elif event is Event.COMPLETE:
        moved = replace(moved, result=change.result, error=None)
    elif event is Event.FAIL:
        moved = replace(moved, error=change.error)
    elif event is Event.POISON:
        moved = replace(moved, error=seen.error or POISONED)
    elif event is Event.RESET:
        after = change.successor
        moved = replace(
            moved,
            generation=seen.generation + 1,
            attempts=0,
            error=None,
            next_index=None if after is None else after.index,
            next_generation=0 if after is None else after.generation,
            next_sent=after is None,
        )
    return event, moved


@dataclass(frozen=True)
class Claim:
    """A job a worker has started: what it must hand back to finish it."""

    job: Job
    shard: Shard  # as the start left it, which saves a read when the job finishes quickly
    queue: str


class Lifecycle:
    def __init__(self, table: JobsTable, queues: JobQueues, payloads: Payloads):
        self.table = table
        self.queues = queues
        self.payloads = payloads

    # -- what callers say happened ---------------------------------------------------------

    def start(self, message: RunMessage, queue: str, attempt: int) -> Claim | None:
        """Mark the job InProgress for this attempt; None when there is nothing to run (stale,
        finished, its task cancelled, or no such job)."""
        job = self.table.get_job(message.task_id, message.index)
        if job is None:
            logs.event(
                "job_missing",
                logging.WARNING,
                task_id=message.task_id,
                job_id=job_id(message.index),
            )
            return None
        change = Change(Event.START, message.generation, attempt=attempt)
        moved, shard = self._apply(job.task_id, queue, {job.index: change}, {job.index: job})
        if not moved or moved[0].status is not JobStatus.IN_PROGRESS:
            return None
        return Claim(moved[0], shard, queue)

    def complete(self, claim: Claim, result: JsonValue) -> bool:
        """The handler returned ``result``; True when this call finished the job."""
        job = claim.job
        stored = self.payloads.encode(job.task_id, "JobResult", job.job_id, result)
        return self._finish(claim, Change(Event.COMPLETE, job.generation, result=stored))

    def fail(self, claim: Claim, error: str) -> bool:
        """The job cannot succeed; True when this call finished it."""
        return self._finish(claim, Change(Event.FAIL, claim.job.generation, error=error))

    def note_error(self, claim: Claim, error: str) -> None:
        """A failed attempt the host will retry: keep its error on the row for the caller and
        for the sweep. Losing a race here loses only the note."""
        with contextlib.suppress(ConcurrentUpdate):
            self.table.update_job(replace(claim.job, error=error, updated_at=utcnow()))

    def poison(self, message: RunMessage, queue: str) -> Job | None:
        """The host gave up on ``message``; the failed job, or None when it had finished (or
        the message is stale)."""
        job = self.table.get_job(message.task_id, message.index)
        if job is None:
            return None
        change = Change(Event.POISON, message.generation)
        moved, _ = self._apply(job.task_id, queue, {job.index: change}, {job.index: job})
        return moved[0] if moved else None

    def cancel(self, jobs: Sequence[Job]) -> int:
        """Cancel those of ``jobs`` (one task's, as read) that are still pending; how many."""
        return self._apply_all(jobs, lambda job: Change(Event.CANCEL, job.generation))

    def reset(self, jobs: Sequence[Job], successors: Mapping[int, Successor]) -> int:
        """Send failed ``jobs`` (one task's, as read) round again, each to dispatch its entry
        in ``successors`` when it finishes; how many this call reset."""
        return self._apply_all(
            jobs,
            lambda job: Change(Event.RESET, job.generation, successor=successors.get(job.index)),
        )

    # -- the one optimistic loop -----------------------------------------------------------

    def _apply_all(self, jobs: Sequence[Job], change: Callable[[Job], Change]) -> int:
        """Apply a change to many jobs of one task: per shard, GROUP rows a transaction."""
        by_shard: dict[int, list[Job]] = defaultdict(list)
        for job in jobs:
            by_shard[shard_of(job.index)].append(job)
        moved = 0
        for group in by_shard.values():
            for start in range(0, len(group), GROUP):
                chunk = group[start : start + GROUP]
                changes = {job.index: change(job) for job in chunk}
                written, _ = self._apply(chunk[0].task_id, "", changes, {j.index: j for j in chunk})
                moved += len(written)
        return moved

    def _finish(self, claim: Claim, change: Change) -> bool:
        job = claim.job
        moved, _ = self._apply(job.task_id, claim.queue, {job.index: change}, {job.index: job},
                               claim.shard)  # fmt: skip
        return bool(moved)

    def _apply(
        self,
        task_id: str,
        queue: str,
        changes: Mapping[int, Change],
        rows: Mapping[int, Job],
        shard: Shard | None = None,
    ) -> tuple[list[Job], Shard]:
        """Apply ``changes`` (to jobs of one shard) to ``rows`` as read, writing the moved rows
        and their shard together; on a lost race read everything again and decide again.
        Returns the rows written, with their new ETags, and the shard as written."""
        number = shard_of(next(iter(changes)))
        sent: set[int] = set()  # successors already sent: a lost race does not send them twice
        for _ in range(MAX_RACES):
            rows = {**rows, **self._missing(task_id, changes, rows)}
            shard = shard or self.table.get_shard(task_id, number)
            moves = self._decide(task_id, queue, changes, rows, shard, sent)
            if not moves:
                return [], shard
            counts = shard.counts
            for stored, moved in moves:
                counts = counts.moved(stored.status, moved.status)
            now = moves[0][1].updated_at or utcnow()
            started = any(m.status is JobStatus.IN_PROGRESS for _, m in moves)
            written = replace(
                shard, counts=counts, started=shard.started or (now if started else None)
            )
            task = None
            if written.closed and not shard.closed:  # this move ends the shard's last open job
                task = self._closing(task_id, written, now, sent)
            try:
                *etags, etag = self.table.write(task_id, [m for _, m in moves], written, now, task)
            except ConcurrentUpdate:
                rows, shard = {}, None
                continue
            done = [replace(m, etag=e) for (_, m), e in zip(moves, etags, strict=True)]
            return done, replace(written, etag=etag)
        raise Contention(f"task {task_id}: {len(changes)} job(s) lost {MAX_RACES} races")

    def settle(self, task_id: str) -> bool:
        """Record the task's end if every job has ended and nobody recorded it (a setup that
        failed, a retry that found nothing to reset); True when this call did."""
        for _ in range(MAX_RACES):
            found = self.table.read_shards(task_id)
            if found is None:
                return False
            task, shards = found
            summary = TaskSummary.of(task, sum((s.counts for s in shards), Counts()))
            if not summary.status.finished or task.completion.finished_at is not None:
                return False
            write = self._completion(task, summary, utcnow(), set())
            try:
                self.table.write_task(task_id, write)
            except ConcurrentUpdate:
                continue
            return True
        raise Contention(f"task {task_id}: could not record its end")

    def _closing(self, task_id: str, written: Shard, now: str, sent: set[int]) -> TaskWrite:
        """The task row's part in a move that ends a shard's last open job: the task's end when
        every other shard has ended too, else a touch that makes concurrent closers take turns
        (their ETag guard on the task row fails, and they decide again on fresh rows)."""
        found = self.table.read_shards(task_id)
        if found is None:
            raise ConcurrentUpdate(task_id)
        task, shards = found
        others = [s for s in shards if s.number != written.number]
        counts = sum((s.counts for s in others), written.counts)
        summary = TaskSummary.of(task, counts)
        ended = all(s.closed for s in others) and len(others) == COUNTER_SHARDS - 1
        if ended and summary.status.finished and task.completion.finished_at is None:
            return self._completion(task, summary, now, sent)
        return TaskWrite({"Updated": now}, task.etag)

    def _completion(self, task: Task, summary: TaskSummary, now: str, sent: set[int]) -> TaskWrite:
        """The write that records the task's next end, its follow-up message sent first (a
        crash in between sends it again, or leaves a message whose end never landed, which
        its handler drops)."""
        number = task.completion.number + 1
        if FOLLOW_UP not in sent:
            self.queues.send(CONTROL_QUEUE, FinishedMessage(task.task_id, number))
            sent.add(FOLLOW_UP)
        completion = Completion(number, now, summary.status.value)
        return TaskWrite({**completion_props(completion), "Updated": now}, task.etag)

    def _missing(
        self, task_id: str, changes: Mapping[int, Change], rows: Mapping[int, Job]
    ) -> dict[int, Job]:
        found = {i: self.table.get_job(task_id, i) for i in changes if i not in rows}
        return {i: job for i, job in found.items() if job is not None}

    def _decide(
        self,
        task_id: str,
        queue: str,
        changes: Mapping[int, Change],
        rows: Mapping[int, Job],
        shard: Shard,
        sent: set[int],
    ) -> list[tuple[Job, Job]]:
        """Each job's move as (stored row, row to write), successors sent first."""
        now = utcnow()
        moves = []
        for index, change in changes.items():
            stored = rows.get(index)
            if stored is None:
                continue  # no such row: nothing to move
            decided = decide(stored, change, cancelled=shard.cancelled, now=now)
            if decided is None:
                continue
            event, moved = decided
            if MOVES[event].dispatches and moved.next_index is not None and not moved.next_sent:
                if index not in sent:
                    successor = RunMessage(task_id, moved.next_index, moved.next_generation)
                    self.queues.send(queue, successor)
                    sent.add(index)
                moved = replace(moved, next_sent=True)
            moves.append((stored, moved))
        return moves
