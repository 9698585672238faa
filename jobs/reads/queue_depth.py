"""How much work is waiting: each queue's approximate depth and the age of its oldest waiting
message, logged as ``queue_depth`` events (poison queues included). The workbook draws them and
the "work waiting too long" alert reads them.

Every sample accounts for every queue, so the charts and the alert have a figure for each queue
each minute; but a queue with work (messages, or a message waiting) gets a line of its own, and
the idle ones share one line, ``queue=<name>,<name>,... depth=0 oldest_age_s=0``, which the
``QueueDepth`` workspace function splits back into a row per queue. An idle service thus logs
one line a sample, not one per queue, and a console shows the queues that hold work.

A sample costs one storage request per queue, plus a peek where the queue is not empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from jobs.core import logs
from jobs.core.resources import all_queues
from jobs.storage import QueueMissing
from jobs.storage.queues import JobQueues

EVENT = "queue_depth"
# Between the idle queues' names in their shared line; queue names never contain it.
IDLE_SEPARATOR = ","


class Queued(Protocol):
    """The queues: all a sample reads."""

    queues: JobQueues


@dataclass(frozen=True)
class DepthSample:
    queue: str
    # Storage's approximate count: messages being processed (invisible) are included.
    depth: int
    # Seconds since the first visible message was enqueued; 0 when none is visible. A peek
    # skips messages a function is running, so this is how long work has waited to start.
    oldest_age_s: int

    @property
    def idle(self) -> bool:
        """Nothing in the queue, nothing waiting."""
        return self.depth == 0 and self.oldest_age_s == 0


def sample(queues: JobQueues, now: datetime | None = None) -> list[DepthSample]:
    """One sample of every queue the app uses. A queue that does not exist yet (the host
    creates a poison queue on first use) is left out."""
    moment = now or datetime.now(UTC)
    samples = []
    for name in all_queues():
        try:
            depth = queues.depth(name)
            oldest = queues.oldest(name) if depth else None
        except QueueMissing:
            continue
        age = max(0, int((moment - oldest).total_seconds())) if oldest else 0
        samples.append(DepthSample(name, depth, age))
    return samples


def report(service: Queued, now: datetime | None = None) -> list[DepthSample]:
    """Sample every queue and log it: a ``queue_depth`` event for each queue with work, and
    one for all the idle ones together (their names comma-separated)."""
    samples = sample(service.queues, now)
    idle = [item.queue for item in samples if item.idle]
    if idle:
        logs.event(EVENT, queue=IDLE_SEPARATOR.join(idle), depth=0, oldest_age_s=0)
    for item in samples:
        if not item.idle:
            logs.event(EVENT, queue=item.queue, depth=item.depth, oldest_age_s=item.oldest_age_s)
    return samples
