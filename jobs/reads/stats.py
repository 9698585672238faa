"""The service at a glance: how much work waits in each queue and its poison queue, how many
tasks run, and jobs completed and failed per minute over the last hour.

A read costs two queue property requests per queue, one narrow query of the running tasks'
index rows, and one query of the 60 minute rows the sampler (jobs.reads.throughput) keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from jobs.core.resources import LISTENED_QUEUES, poison_queue
from jobs.reads import task_index, throughput
from jobs.reads.throughput import Minute
from jobs.storage import QueueMissing
from jobs.storage.jobs_table import JobsTable
from jobs.storage.queues import JobQueues


class Counting(Protocol):
    """The table and the queues: what the statistics read."""

    table: JobsTable
    queues: JobQueues


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    depth: int  # approximate: messages being run count too
    poison: int


@dataclass(frozen=True)
class Stats:
    queues: list[QueueDepth]
    running_tasks: int
    minutes: list[Minute]  # the last 60, oldest first


def read(service: Counting, now: datetime | None = None) -> Stats:
    queues = [
        QueueDepth(name, _depth(service.queues, name), _depth(service.queues, poison_queue(name)))
        for name in LISTENED_QUEUES
    ]  # fmt: skip
    return Stats(
        queues,
        task_index.running_count(service.table),
        throughput.last_hour(service.table, now),
    )


def _depth(queues: JobQueues, name: str) -> int:
    """A queue not there yet (the host makes a poison queue on first use) holds nothing."""
    try:
        return queues.depth(name)
    except QueueMissing:
        return 0
