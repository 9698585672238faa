"""Whether a job may start now, decided before it starts: its lane's priority, then its kind's
concurrency, then its kind's rate. A job that may not is **held back**: the runner sends its
message again, delayed, and returns normally, so the host deletes the old one; the job stays
Pending and no attempt is recorded (jobs.lifecycle.running).

- **Priority.** The default queue has a lane per priority (jobs.core.resources.LANE_PRIORITY).
  A job of the normal lanes (`jobs`, `jobs-small`) is held back while `jobs-high` has messages;
  one of `jobs-low` while `jobs-high`, `jobs` or `jobs-small` has any. Each process looks at a
  lane's depth at most once a second (``LOOK_EVERY``). A job held back for priority
  ``MAX_PRIORITY_HOLDS`` times runs anyway (the count travels in its message), so low work is
  never starved: under a constant flood of higher work, each of its jobs waits about a minute
  at most.
- **Concurrency and rate** (jobs.lifecycle.limits): a slot claimed for the job, held until it
  ends; a start counted in this second. A slot claimed for a job the rate then holds back is
  given back at once.

Finding a job's kind takes its task row, read once per task and process (``KNOWN_TASKS``),
and only where some kind has limits."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

from jobs.core.messages import RunMessage
from jobs.core.models import job_id
from jobs.core.resources import DEFAULT_QUEUE, HIGH_QUEUE, LANE_PRIORITY, SMALL_QUEUE
from jobs.kinds import Kind, Kinds
from jobs.lifecycle.limits import Clock, Limits, Renewal
from jobs.storage import QueueMissing
from jobs.storage.jobs_table import JobsTable
from jobs.storage.queues import JobQueues

MAX_PRIORITY_HOLDS = 20
LOOK_EVERY = 1.0  # seconds a lane's depth is taken as known
KNOWN_TASKS = 4096  # tasks whose kind a process remembers
# How long a held-back job's message stays hidden: at least the first figure, plus a random part
# up to the second, which spreads jobs held back together over the seconds that follow (Azure
# hides a message for whole seconds, rounding up: 1 or 2 s for a limit, 2 or 3 for priority).
PRIORITY_DELAY = (1.0, 2.0)  # higher work drains for a few seconds before it looks again
LIMIT_DELAY = (0.2, 1.8)  # a slot may come free at any moment
RATE_SPREAD = 1.0  # a second's turn: back in the next second or the one after
# A process that holds back many jobs of one kind in one second sends them back over the
# seconds that follow, about a limit's worth a second (the k-th waits k // limit seconds more,
# at most MAX_SPREAD): a backlog then comes back at the pace the limit lets it through instead
# of all at once, every second, each time costing a send and a delete.
MAX_SPREAD = 30
# Jobs held back for priority are spread the same way, this many a second per process and lane:
# holding back a cheap job costs about what running it does, so the lower lanes must look
# again only slowly while higher work runs.
PRIORITY_PACE = 8
# The lanes whose waiting work holds back a job of a lane of each priority.
ABOVE: dict[str, tuple[str, ...]] = {
    "normal": (HIGH_QUEUE,),
    "low": (HIGH_QUEUE, DEFAULT_QUEUE, SMALL_QUEUE),
}


@dataclass(frozen=True)
class Hold:
    """The job may not start now: why, and when its message should come back."""

    reason: str  # priority, concurrency, rate
    delay: timedelta


class Ticket:
    """What an admitted job holds while it runs (a slot's lease, kept renewed), given back
    when it ends, however it ends: use it as a context manager around the run."""

    def __init__(self, renewal: Renewal | None = None):
        self._renewal = renewal

    def __enter__(self) -> Ticket:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._renewal is not None:
            self._renewal.release()


class Admission:
    def __init__(
        self,
        table: JobsTable,
        queues: JobQueues,
        kinds: Kinds,
        *,
        clock: Clock = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.table = table
        self.queues = queues
        self.kinds = kinds
        self.limits = Limits(table.store, clock)
        self._monotonic = monotonic
        self._limited = any(kind.limited for kind in kinds.values())
        self._task_kinds: OrderedDict[str, str] = OrderedDict()
        self._depths: dict[str, tuple[float, int]] = {}
        self._held: dict[str, tuple[int, int]] = {}  # kind: (second, jobs held back in it)
        self._lock = threading.Lock()
        self.holder = uuid.uuid4().hex[:12]  # this process, in the slots it holds

    def admit(self, queue: str, message: RunMessage) -> Ticket | Hold:
        """A ticket to run the job now, or why it must wait."""
        if self._outranked(queue, message):
            later = self._spread(f"priority {queue}", PRIORITY_PACE)
            return Hold("priority", _delay((PRIORITY_DELAY[0] + later, PRIORITY_DELAY[1])))
        kind = self._kind_of(message.task_id) if self._limited else None
        if kind is None or not kind.limited:
            return Ticket()
        renewal = None
        if kind.concurrency is not None:
            job = f"{message.task_id}/{job_id(message.index)}"
            lease = self.limits.claim(kind.name, kind.concurrency, self.holder, job)
            if lease is None:
                later = self._spread(kind.name, kind.concurrency)
                return Hold("concurrency", _delay((LIMIT_DELAY[0] + later, LIMIT_DELAY[1])))
            renewal = Renewal(self.limits, lease)
        if kind.rate is not None:
            wait = self.limits.count_start(kind.name, kind.rate)
            if wait is not None:
                if renewal is not None:
                    renewal.release()
                later = self._spread(kind.name, kind.rate)
                return Hold("rate", _delay((wait + later, RATE_SPREAD)))
        return Ticket(renewal)

    def _spread(self, kind: str, limit: int) -> int:
        """Whole seconds to add to this hold: the jobs of ``kind`` (or a lane, for priority)
        this process has held back in this second so far, over ``limit``."""
        second = int(self.limits.clock())
        with self._lock:
            seen, count = self._held.get(kind, (second, 0))
            count = count if seen == second else 0
            self._held[kind] = (second, count + 1)
        return min(count // limit, MAX_SPREAD)

    # -- priority ---------------------------------------------------------------------------

    def _outranked(self, queue: str, message: RunMessage) -> bool:
        priority = LANE_PRIORITY.get(queue)
        above = ABOVE.get(priority or "", ())
        if not above or message.holds >= MAX_PRIORITY_HOLDS:
            return False
        return any(self.waiting(lane) for lane in above)

    def waiting(self, queue: str) -> bool:
        """Whether ``queue`` holds messages, as last seen at most ``LOOK_EVERY`` ago. One
        caller looks while the others take the value seen before."""
        now = self._monotonic()
        with self._lock:
            seen = self._depths.get(queue)
            if seen is not None and now - seen[0] < LOOK_EVERY:
                return seen[1] > 0
            self._depths[queue] = (now, seen[1] if seen else 0)  # others: the old value
        try:
            depth = self.queues.depth(queue)
        except QueueMissing:
            depth = 0
        except Exception:  # storage slow or away: not a reason to fail the job; look again
            return seen is not None and seen[1] > 0
        with self._lock:
            self._depths[queue] = (now, depth)
        return depth > 0

    # -- kinds ------------------------------------------------------------------------------

    def _kind_of(self, task_id: str) -> Kind | None:
        with self._lock:
            name = self._task_kinds.get(task_id)
            if name is not None:
                self._task_kinds.move_to_end(task_id)
        if name is None:
            task = self.table.get_task(task_id)
            if task is None:
                return None  # gone: the lifecycle finds nothing to run
            name = task.kind
            with self._lock:
                self._task_kinds[task_id] = name
                while len(self._task_kinds) > KNOWN_TASKS:
                    self._task_kinds.popitem(last=False)
        return self.kinds.get(name)


def _delay(shape: tuple[float, float]) -> timedelta:
    first, spread = shape
    return timedelta(seconds=max(0.0, first) + random.uniform(0.0, spread))
