"""Writing moves: the one place that keeps the counters true.

Each move (decided by jobs.lifecycle.moves on the row as stored) is written with the counter
row that counts it (jobs.lifecycle.counters: the writer's own, or the job's shard for a task
counted by shards), in one ETag-guarded transaction. When the race is lost (a duplicate
message, a cancel, the sweep) the rows are read again and every move decided again, so counts
move exactly once per job whoever wins. A worker's concurrent moves of one task go through
jobs.lifecycle.group_commit and are written together, under the process's writer row; other
writes (the cancel pass, a retry's resets, ungrouped moves) count in a row of their thread's.

- **Successors.** A job that finishes through a worker or the sweep sends its successor's
  message (the job ``window`` places on) *before* the finishing write: a crash in between sends
  it again, and the duplicate is absorbed like any other. The cancel pass reaches every pending
  job itself. A retry chains the jobs it resets the same way (jobs.control.retry), so they go
  back through the window like new ones.
- **A finish that loses takes its successor back.** A worker's finish that finds the job ended
  by someone else (a duplicate copy of its message, the sweep, a skip) deletes the message it
  sent, so twins do not pass down the chain. Safe because every move that ends a started job
  sends the successor before its own write (``MOVES``), and a move never counts a message
  another caller sent as its own (``apply``): the message of the move that landed stays.
- **A task's end** is recorded once, on the task row guarded by its ETag: by the move that
  ends its last open shard (shards), or by the check a process makes when it has no job of
  the task running any more, which reads every counter row (writers: ``working``, ``settle``).
  The process that ends the last job always checks after its write; checks asked for while one
  runs make it run once more, so none is lost and none piles up. The per-minute sampler
  settles any task whose end a crash kept unrecorded."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

from jobs.core import logs
from jobs.core.clock import utcnow
from jobs.core.errors import JobsError
from jobs.core.messages import FinishedMessage, RunMessage
from jobs.core.models import (
    Completion,
    Counts,
    Job,
    JobStatus,
    JsonValue,
    Task,
    TaskSummary,
    job_id,
)
from jobs.core.resources import CONTROL_QUEUE
from jobs.core.settings import COUNTER_SHARDS
from jobs.lifecycle import counters
from jobs.lifecycle.counters import CounterCache, Known, Layout
from jobs.lifecycle.group_commit import GroupCommit
from jobs.lifecycle.moves import MOVES, Change, Event, Successor, decide
from jobs.lifecycle.progress import ProgressBoard
from jobs.storage import ConcurrentUpdate
from jobs.storage import Sent as SentMessage
from jobs.storage.jobs_table import JobsTable, Shard, TaskWrite, completion_props
from jobs.storage.keys import shard_number
from jobs.storage.payloads import Payloads
from jobs.storage.queues import JobQueues

MAX_RACES = 50
MAX_LOGGED_ERROR = 300  # characters of an error quoted in a log line
GROUP = 98  # job rows per transaction of one row's jobs, leaving room for the counter and task
# Group commit: at most this many moves a transaction (with up to 32 counter rows and the task
# row, inside the 100-row limit), about this many bytes (inside the 4 MiB limit), and a leader
# waits this long at most for the task's other running jobs to join.
GROUP_JOBS = 64
GROUP_BYTES = 2 * 1024 * 1024
GROUP_WAIT = 0.003
ROW_BYTES = 1024  # a job row's properties other than its result, escaped, generously
# A move's ``sent`` set holds (job index, generation): a job's successor is fixed per generation
# (a retry's reset names another), so a successor sent for one generation never stands for
# another's. FOLLOW_UP in it: the task's follow-up message went out.
Sent = set[tuple[int, int]]
FOLLOW_UP = (-1, -1)


class Contention(JobsError):
    """Lost too many races in a row; the caller's retry (the host's, for a job) tries later."""


@dataclass(frozen=True)
class Entry:
    """One change to one job of a task, as its caller hands it over to be written."""

    index: int
    change: Change
    queue: str = ""  # the queue of the job's message, where its successor goes
    row: Job | None = None  # the job as the caller read it (None: read it)
    sent: bool = False  # the caller has sent the job's successor already, for this entry only


@dataclass(frozen=True)
class Claim:
    """A job a worker has started: what it must hand back to finish it."""

    job: Job
    queue: str


Written = tuple[Job | None, Shard | None]  # a change's job as written, and its counter row


class Lifecycle:
    def __init__(
        self, table: JobsTable, queues: JobQueues, payloads: Payloads, *, grouped: bool = True
    ):
        self.table = table
        self.queues = queues
        self.payloads = payloads
        # This process's writer: the counter row its grouped moves count in, and its progress.
        self.writer = uuid.uuid4().hex[:12]
        self.progress = ProgressBoard(table, self.writer)  # what its running jobs reported
        # Grouped: a worker's concurrent moves of one task's jobs are written together. What
        # each writer knows of a task's counter rows is kept between writes (their ETags guard
        # every write, so a row that moved elsewhere fails the write and is read again).
        self._group: GroupCommit[Entry, Written] | None = None
        self._known = CounterCache()
        self._threads = threading.local()
        self._thread_numbers = itertools.count(1)
        self._working: Counter[str] = Counter()
        self._checking: set[str] = set()  # tasks whose end a thread here is checking
        self._check_again: set[str] = set()  # ...and must check once more when done
        self._lock = threading.Lock()
        if grouped:
            self._group = GroupCommit(
                lambda task_id, entries: self.apply(task_id, entries, cached=True),
                wait=GROUP_WAIT,
                limit=GROUP_JOBS,
                size=_entry_size,
                budget=GROUP_BYTES,
                expected=self._working.__getitem__,
            )

    # -- what callers say happened ---------------------------------------------------------

    @property
    def group(self) -> GroupCommit[Entry, Written] | None:
        return self._group

    @contextlib.contextmanager
    def working(self, task_id: str) -> Iterator[None]:
        """Around a worker's run of one job of ``task_id``: a group waits (a few milliseconds
        at most) for the moves of the task's other jobs running in this process. The last run
        of the task here to end checks whether the task has ended (counted by writers)."""
        with self._lock:
            self._working[task_id] += 1
        try:
            yield
        finally:
            with self._lock:
                self._working[task_id] -= 1
                idle = self._working[task_id] <= 0
                if idle:
                    del self._working[task_id]
            known = self._known.get(task_id, self.writer)
            if idle and known is not None and known.layout is Layout.WRITERS:
                self._check_end(task_id)

    def _check_end(self, task_id: str) -> None:
        """Record the task's end if it has come (``settle``). A check asked for while one for
        the task runs here makes that one run again once it is done, so the last end's check
        always sees every end, and checks never pile up."""
        with self._lock:
            if task_id in self._checking:
                self._check_again.add(task_id)
                return
            self._checking.add(task_id)
        try:
            while True:
                self.settle(task_id)
                with self._lock:
                    if task_id not in self._check_again:
                        return
                    self._check_again.discard(task_id)
        finally:
            with self._lock:
                self._checking.discard(task_id)
                self._check_again.discard(task_id)

    def start(self, message: RunMessage, queue: str, attempt: int) -> Claim | None:
        """Mark the job InProgress for this attempt; None when there is nothing to run (stale,
        finished, its task cancelled, or no such job)."""
        change = Change(Event.START, message.generation, attempt=attempt, grown=bool(message.grown))
        moved, _ = self._one(message.task_id, Entry(message.index, change, queue))
        if moved is None or moved.status is not JobStatus.IN_PROGRESS:
            return None
        return Claim(moved, queue)

    def complete(self, claim: Claim, result: JsonValue) -> bool:
        """The handler returned ``result``; True when this call finished the job."""
        job = claim.job
        stored = self.payloads.encode(job.task_id, "JobResult", job.job_id, result)
        change = Change(Event.COMPLETE, job.generation, attempt=job.attempts, result=stored)
        return self._finish(claim, change)

    def fail(self, claim: Claim, error: str) -> bool:
        """The job cannot succeed; True when this call finished it."""
        job = claim.job
        return self._finish(claim, Change(Event.FAIL, job.generation, attempt=job.attempts,
                                          error=error))  # fmt: skip

    def note_error(self, claim: Claim, error: str) -> None:
        """A failed attempt the host will retry: keep its error on the row for the caller and
        for the sweep. Losing a race here loses only the note."""
        with contextlib.suppress(ConcurrentUpdate):
            self.table.update_job(replace(claim.job, error=error, updated_at=utcnow()))

    def poison(self, message: RunMessage, queue: str) -> Job | None:
        """The host gave up on ``message``; the failed job, or None when it had finished (or
        the message is stale)."""
        change = Change(Event.POISON, message.generation)
        return self._one(message.task_id, Entry(message.index, change, queue))[0]

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

    # -- how a change gets written ---------------------------------------------------------

    def _one(self, task_id: str, entry: Entry) -> Written:
        """Write one change, with whatever else this process has waiting for the task when
        grouped; the job as written (None when the change did not apply) and its counter."""
        if self._group is None:
            return self.apply(task_id, [entry])[0]
        return self._group(task_id, entry)

    def _finish(self, claim: Claim, change: Change) -> bool:
        """The successor goes out here, in the caller's thread and before the write, when the
        finish applies to the job as claimed (as every finishing write requires). When the
        finish does not land because the job has ended meanwhile, the message goes back: the
        move that ended it sent its own before writing."""
        job = claim.job
        decided = decide(job, change, cancelled=False, now=job.updated_at or "")
        sent: SentMessage | None = None
        if decided is not None and _dispatches(*decided):
            sent = self.queues.send(claim.queue, _successor(decided[1]))
        entry = Entry(job.index, change, claim.queue, row=job,
                      sent=sent is not None)  # fmt: skip
        finished = self._one(job.task_id, entry)[0] is not None
        if not finished and sent is not None:
            self._withdraw(job, claim.queue, sent)
        return finished

    def _withdraw(self, job: Job, queue: str, sent: SentMessage) -> None:
        """Best effort: a message someone has received meanwhile, or one storage fails to
        delete, runs as a duplicate, which the lifecycle absorbs."""
        try:
            self.queues.withdraw(queue, sent)
        except Exception as error:
            text = f"{type(error).__name__}: {error}"[:MAX_LOGGED_ERROR]
            logs.event("successor_left", logging.WARNING, task_id=job.task_id,
                       job_id=job.job_id, error=text)  # fmt: skip

    def _apply_all(self, jobs: Sequence[Job], change: Callable[[Job], Change]) -> int:
        """Apply a change to many jobs of one task: GROUP rows a transaction (per shard, for a
        task counted by shards)."""
        by_shard: dict[int, list[Job]] = defaultdict(list)
        for job in jobs:
            by_shard[job.index % COUNTER_SHARDS].append(job)
        moved = 0
        for group in by_shard.values():
            for start in range(0, len(group), GROUP):
                chunk = group[start : start + GROUP]
                entries = [Entry(job.index, change(job), row=job) for job in chunk]
                written = self.apply(chunk[0].task_id, entries)
                moved += sum(job is not None for job, _ in written)
        return moved

    # -- the one optimistic loop -----------------------------------------------------------

    def apply(
        self,
        task_id: str,
        entries: Sequence[Entry],
        *,
        cached: bool = False,
        sent: Sent | None = None,
    ) -> list[Written]:
        """Apply ``entries`` in order (one job may appear more than once: each change sees the
        row as the ones before it left it) to the rows as given or read, and write the moved
        rows with the counter rows that count them, and the task row when the task ends, in
        one transaction. On a lost race read everything again and decide again. Returns each
        entry's job as written (with its new ETag), or None where its change did not apply.
        ``cached``: the group commit's call, counted in the process's writer row (any other
        counts in its thread's). ``sent``: the successors (and follow-up) this loop sent
        already, added to as more go out. A successor an entry's caller sent (``Entry.sent``)
        stands for that entry's move only: a caller whose move does not land takes its message
        back (``_finish``), so a move that lands in its place sends its own."""
        sent = set() if sent is None else sent  # what went out is never sent twice
        writer = self.writer if cached else self._thread_writer()
        rows = {e.index: e.row for e in entries if e.row is not None}
        known = self._known.get(task_id, writer)
        for _ in range(MAX_RACES):
            missing = [e.index for e in entries if e.index not in rows]
            if missing:
                rows.update(self.table.get_jobs(task_id, missing))
            if known is None or known.stale():
                known = counters.read(self.table, task_id)
                if known is None:
                    return [(None, None)] * len(entries)
            now = utcnow()
            results, moved = self._decide(task_id, entries, rows, known, writer, sent, now)
            if not moved:
                return [(job, None) for job in results]
            written = self._counted(moved, rows, known, writer, now)
            task = None
            if known.layout is Layout.SHARDS:
                if any(s.closed and not known.row(key).closed for key, s in written.items()):
                    task = self._closing(task_id, written, now, sent)  # a shard's last job ended
            elif any(s.etag is None for s in written.values()):
                # A writer's new row: guarded by the task row as read, so a cancel flagging the
                # rows that existed (then the task row) is never missed by a row made meanwhile.
                task = TaskWrite({"Updated": known.task.updated_at}, known.task.etag)
            try:
                etags = self.table.write(task_id, list(moved.values()), list(written.values()),
                                         now, task)  # fmt: skip
            except ConcurrentUpdate:
                self._known.forget(task_id, writer)
                if known.layout is Layout.SHARDS and len(written) > 1:
                    return self._by_shard(task_id, entries, sent)
                rows, known = {}, None
                continue
            new = dict(zip(moved, etags[: len(moved)], strict=True))
            stored = {key: replace(s, etag=e) for (key, s), e in zip(written.items(),
                                                                     etags[len(moved) :],
                                                                     strict=True)}  # fmt: skip
            known.rows.update(stored)
            if task is not None:
                known.read_at = 0.0  # the task row moved: read it again next time
            self._known.put(task_id, writer, known)
            if known.layout is Layout.WRITERS and _ends(moved.values(), rows):
                with self._lock:
                    idle = not self._working.get(task_id)
                if idle:  # a sweep's, a cancel pass's: no run here checks after it
                    self._check_end(task_id)
            # Only a job's last move in the group gets the row's new ETag. An earlier one (a
            # duplicate's start before the finish) keeps the ETag the write replaced, so any
            # later write from it fails its guard and is decided again on the row as stored.
            last = {job.index: position for position, job in enumerate(results) if job}
            return [
                (None, None) if job is None
                else (replace(job, etag=new[job.index] if last[job.index] == position
                              else rows[job.index].etag),
                      stored[known.counter(job.index, writer)])
                for position, job in enumerate(results)
            ]  # fmt: skip
        raise Contention(f"task {task_id}: {len(entries)} change(s) lost {MAX_RACES} races")

    def _thread_writer(self) -> str:
        """This thread's writer, for writes outside the group commit: its own counter row, so
        they never race the group's writes, nor each other."""
        number = getattr(self._threads, "number", None)
        if number is None:
            number = self._threads.number = next(self._thread_numbers)
        return f"{self.writer}-{number}"

    def _by_shard(self, task_id: str, entries: Sequence[Entry], sent: Sent) -> list[Written]:
        """A group that lost a race on a task counted by shards, written again shard by
        shard: each part can collide only with writers of its own shard, so workers of several
        instances moving one task's jobs at once degrade to ungrouped writes instead of racing
        each other's whole groups. A part that fails raises for the whole group: a member whose
        move landed is then retried by the host, which the lifecycle absorbs like any
        redelivery."""
        parts: dict[int, list[int]] = defaultdict(list)  # shard: positions in ``entries``
        for position, entry in enumerate(entries):
            parts[entry.index % COUNTER_SHARDS].append(position)
        results: list[Written] = [(None, None)] * len(entries)
        for positions in parts.values():
            part = [replace(entries[p], row=None) for p in positions]  # read again
            for position, written in zip(positions, self.apply(task_id, part, sent=sent),
                                         strict=True):  # fmt: skip
                results[position] = written
        return results

    def _decide(
        self,
        task_id: str,
        entries: Sequence[Entry],
        rows: Mapping[int, Job],
        known: Known,
        writer: str,
        sent: Sent,
        now: str,
    ) -> tuple[list[Job | None], dict[int, Job]]:
        """Each entry's job after its move (None where none applies), and the rows to write,
        successors sent first."""
        moved: dict[int, Job] = {}
        results: list[Job | None] = []
        for entry in entries:
            index = entry.index
            row = moved.get(index) or rows.get(index)
            if row is None:  # no such row: nothing to move
                logs.event("job_missing", logging.WARNING, task_id=task_id, job_id=job_id(index))
                results.append(None)
                continue
            cancelled = known.cancelled(known.counter(index, writer))
            decided = decide(row, entry.change, cancelled=cancelled, now=now)
            if decided is None:
                results.append(None)
                continue
            event, job = decided
            if _dispatches(event, job):
                if not entry.sent and (index, entry.change.generation) not in sent:
                    self.queues.send(entry.queue, _successor(job))
                    sent.add((index, entry.change.generation))
                job = replace(job, next_sent=True)
            moved[index] = job
            results.append(job)
        return results, moved

    def _counted(
        self, moved: Mapping[int, Job], rows: Mapping[int, Job], known: Known, writer: str,
        now: str,
    ) -> dict[str, Shard]:  # fmt: skip
        """The counter rows the moves touch, their counters moved (from each row as stored to
        the row as written) and stamped."""
        written: dict[str, Shard] = {}
        for index, job in moved.items():
            key = known.counter(index, writer)
            counter = written.get(key) or known.row(key)
            started = counter.started or (now if job.status is JobStatus.IN_PROGRESS else None)
            counts = counter.counts.moved(rows[index].status, job.status)
            written[key] = replace(counter, counts=counts, started=started)
        return written

    def settle(self, task_id: str) -> bool:
        """Record the task's end if every job has ended and nobody recorded it (the check of a
        writer near the end, a setup that failed, a retry that found nothing to reset, the
        sampler's net); True when this call did."""
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

    def _closing(
        self, task_id: str, written: Mapping[str, Shard], now: str, sent: Sent
    ) -> TaskWrite:
        """For a task counted by shards, the task row's part in a move that ends a shard's
        last open job: the task's end when every other shard has ended too, else a touch that
        makes concurrent closers take turns (their ETag guard on the task row fails, and they
        decide again on fresh rows)."""
        found = self.table.read_shards(task_id)
        if found is None:
            raise ConcurrentUpdate(task_id)
        task, all_rows = found
        shards = [s for s in all_rows if shard_number(s.key) is not None]
        others = [s for s in shards if s.key not in written]
        counts = sum((s.counts for s in others), Counts())
        counts = sum((s.counts for s in written.values()), counts)
        summary = TaskSummary.of(task, counts)
        ended = all(s.closed for s in others) and len(others) + len(written) == COUNTER_SHARDS
        if ended and summary.status.finished and task.completion.finished_at is None:
            return self._completion(task, summary, now, sent)
        return TaskWrite({"Updated": now}, task.etag)

    def _completion(self, task: Task, summary: TaskSummary, now: str, sent: Sent) -> TaskWrite:
        """The write that records the task's next end, its follow-up message sent first (a
        crash in between sends it again, or leaves a message whose end never landed, which
        its handler drops)."""
        number = task.completion.number + 1
        if FOLLOW_UP not in sent:
            self.queues.send(CONTROL_QUEUE, FinishedMessage(task.task_id, number))
            sent.add(FOLLOW_UP)
        completion = Completion(number, now, summary.status.value)
        return TaskWrite({**completion_props(completion), "Updated": now}, task.etag)


def _ends(moved: Iterable[Job], rows: Mapping[int, Job]) -> bool:
    """Whether any of the jobs ``moved`` ended."""
    return any(job.status.finished and not rows[job.index].status.finished for job in moved)


def _dispatches(event: Event, job: Job) -> bool:
    """The move sends the job's successor, not sent yet."""
    return MOVES[event].dispatches and job.next_index is not None and not job.next_sent


def _successor(job: Job) -> RunMessage:
    assert job.next_index is not None
    return RunMessage(job.task_id, job.next_index, job.next_generation)


def _entry_size(entry: Entry) -> int:
    """Roughly what the entry adds to a transaction's body."""
    result = entry.change.result
    return ROW_BYTES + (len(result.text or "") if result is not None else 0)
