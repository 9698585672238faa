"""The poison sweep: every message the host gave up on becomes a Failed job.

A job's message reaches ``<queue>-poison`` after its last allowed attempt (or, after crashes,
without one). The sweep marks the job Failed with the last error the runner recorded and its
attempt count, and deletes the poison message only after that is stored; other messages are
handled as jobs.control.handlers routes them. A message it cannot read, or fails on five sweeps
running, is moved to ``<queue>-unreadable`` and logged, never looped on. Every step tolerates
a second sweep doing the same at the same time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from jobs.collaborators import Everything
from jobs.control.handlers import Swept, route_of
from jobs.core import logs
from jobs.core.resources import LISTENED_QUEUES
from jobs.storage import QueueMissing
from jobs.storage.queues import PoisonMessage

MAX_PER_QUEUE = 1000  # per sweep; the rest wait for the next one
MAX_TRIES = 5  # sweeps that may fail on one message before it is set aside


@dataclass
class SweepReport:
    failed: int = 0  # jobs this sweep marked Failed
    discarded: int = 0  # messages that were stale: their jobs had finished or been retried
    set_aside: int = 0  # messages moved to <queue>-unreadable
    by_queue: dict[str, int] = field(default_factory=dict)


def sweep(service: Everything) -> SweepReport:
    report = SweepReport()
    for queue in LISTENED_QUEUES:
        seen = 0
        try:
            for message in service.queues.poison(queue, MAX_PER_QUEUE):
                seen += 1
                _sweep_one(service, message, report)
        except QueueMissing:
            pass  # no poison queue yet: the host creates it on first use
        report.by_queue[queue] = seen
    return report


def _sweep_one(service: Everything, poison: PoisonMessage, report: SweepReport) -> None:
    """Deal with one poison message, whatever it holds: one the sweep cannot read, or keeps
    failing on, is set aside where people can see it, never left in the way of the others."""
    if poison.message is None:
        logs.event("poison_unreadable", logging.WARNING, queue=poison.queue, body=poison.raw[:200])
        service.queues.set_aside(poison)
        report.set_aside += 1
        return
    try:
        _handle(service, poison, report)
    except Exception as error:
        gave_up = poison.dequeue_count >= MAX_TRIES
        logs.event(
            "poison_set_aside" if gave_up else "poison_sweep_failed",
            logging.ERROR if gave_up else logging.WARNING,
            queue=poison.queue,
            attempt=poison.dequeue_count,
            error=f"{type(error).__name__}: {error}",
        )
        if gave_up:
            service.queues.set_aside(poison)
            report.set_aside += 1
        return  # otherwise it comes back for the next sweep
    service.queues.delete_poison(poison)


def _handle(service: Everything, poison: PoisonMessage, report: SweepReport) -> None:
    assert poison.message is not None
    swept = route_of(poison.message).poisoned(service, poison.message, poison.queue)
    if swept is Swept.JOB_FAILED:
        report.failed += 1
    elif swept is Swept.STALE:
        report.discarded += 1
