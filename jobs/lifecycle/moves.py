"""How a job moves between statuses: the one place that decides it.

Callers say what happened (a worker started the job, its handler returned, the host gave up on
its message, the task was cancelled, a retry was asked for); ``MOVES`` says which statuses
that may move a job from and to; ``decide`` applies it to the row as stored. Pure: writing the
move, and the counters that follow from it, is jobs.lifecycle.writer's.

Rules around the table:

- **Staleness.** Every change names the generation it acts on (a message's, or the row's as the
  caller read it). A retry raises a failed job's generation, so changes for an older one are
  stale and do nothing. A change for a newer generation that finds the job Failed is a retry's
  message that overtook the retry's reset: the job is taken as reset.
- **Cancelled tasks.** A worker that starts a job of a cancelled task skips it instead.
- **Grown starts.** A job may be started by its task's growing window (a ``grown`` message)
  instead of by its predecessor's message, never by both: a grown start applies to a pending
  job and marks it grown (or restarts a grown one, its message delivered again); a
  predecessor's start finds a grown job stale.
- **Attempts.** A start records its message's dequeue count. A duplicate copy of the message
  may start the job again while the first copy runs, so the row's count is the last start's;
  a worker's finish (complete, fail) writes its own run's count again, so a finished job shows
  the attempt of the run that ended it, whichever copy started last."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from jobs.core.models import Job, JobStatus, Payload

POISONED = "the job did not finish within the allowed attempts"


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
    attempt: int = 0  # START, COMPLETE, FAIL: the run's attempt (its message's dequeue count)
    result: Payload | None = None  # COMPLETE
    error: str | None = None  # FAIL; POISON keeps the last error a failed attempt recorded
    successor: Successor | None = None  # RESET: the retried job this one dispatches
    grown: bool = False  # START: from a grown message (jobs.dispatch.growth)


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
    if seen is None or not _starts_this_way(seen, change):
        return None
    event = Event.SKIP if change.event is Event.START and cancelled else change.event
    move = MOVES[event]
    if seen.status not in move.sources:
        return None
    moved = replace(seen, status=move.target, updated_at=now)
    if event is Event.START:
        moved = replace(moved, attempts=change.attempt, started_at=seen.started_at or now,
                        grown=seen.grown or change.grown)  # fmt: skip
    elif event is Event.COMPLETE:
        moved = replace(moved, result=change.result, error=None, attempts=_run(seen, change))
    elif event is Event.FAIL:
        moved = replace(moved, error=change.error, attempts=_run(seen, change))
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


def _run(seen: Job, change: Change) -> int:
    """The attempt a finished job keeps: that of the run that finished it (a late copy's start
    may have recorded its own meanwhile); the row's when the caller names none."""
    return change.attempt or seen.attempts


def _starts_this_way(job: Job, change: Change) -> bool:
    """Whether a start may apply to ``job`` coming the way ``change`` came: a grown start only
    to a pending job or a grown one, a predecessor's only to a job not grown."""
    if change.event is not Event.START:
        return True
    if change.grown:
        return job.grown or job.status is JobStatus.PENDING
    return not job.grown
