"""Phase 8's status polls: what ``jobs.reads.tasks.status`` costs on a running task of 100,000
jobs against one of 100, in this process against Azurite.

Each task is submitted and fanned out here (its rows written, its first window sent to a
private queue nobody reads), then STARTED of its jobs are started through the lifecycle by
WRITERS services (as that many instances would) and each reports progress, so the task has
jobs running, counter rows and progress rows as a busy task has. Then the polls, interleaved
between the sizes: each timed, and its storage requests counted (bench.meter: the SDK's sends
in this process, where nothing else runs meanwhile)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from bench.floor import PrivateQueue, service_in_process
from bench.meter import metered
from bench.report import median
from bench.stack import poll
from composition import Service
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus
from jobs.dispatch.fanout import spread
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage import Rows
from jobs.storage.keys import SHARD_PREFIX

STARTED = 64  # jobs of each task started and reporting progress
WRITERS = 4  # services that start them, 16 each: four instances' writers
FRACTION = 0.5  # what each started job reports
SLEEP_SECONDS = 600  # the items' sleep: they never run here, it only makes them sleep jobs


@dataclass(frozen=True)
class PollCost:
    """``polls`` status polls of one task."""

    jobs: int
    seconds: list[float]
    requests: int  # storage requests, all polls together
    rows: int  # rows in the range a poll reads (task, counter and progress rows)
    reported: float  # the progress the last poll showed, added up over the running jobs

    @property
    def median_seconds(self) -> float:
        return median(self.seconds)

    @property
    def requests_per_poll(self) -> float:
        return self.requests / len(self.seconds)


def status_costs(
    connection_string: str, layout: str, sizes: Sequence[int], polls: int
) -> dict[int, PollCost]:
    """For each of ``sizes``, a running sleep task of that many jobs counted by ``layout``,
    and ``polls`` status polls of it."""
    queue = PrivateQueue(connection_string, "bench-status")
    try:
        services = [service_in_process(connection_string, queue.name, layout)[0]
                    for _ in range(WRITERS)]  # fmt: skip
        tasks = {size: _running_task(services, queue.name, size) for size in sizes}
        reader = services[0]
        expected = STARTED * FRACTION
        for task_id in tasks.values():  # every writer's progress row written in full

            def all_reported(task_id: str = task_id) -> bool:
                return abs(status(reader, task_id).reported - expected) < 1e-6

            poll(all_reported, timeout=60, interval=0.2, what="the running jobs' progress")
        seconds: dict[int, list[float]] = {size: [] for size in sizes}
        requests = dict.fromkeys(sizes, 0)
        reported = dict.fromkeys(sizes, 0.0)
        for _ in range(polls):
            for size, task_id in tasks.items():  # interleaved: drift hits both sizes alike
                with metered() as meter:
                    started = time.perf_counter()
                    summary = status(reader, task_id)
                    seconds[size].append(time.perf_counter() - started)
                requests[size] += meter.requests
                reported[size] = summary.reported
                if summary.counts[JobStatus.IN_PROGRESS] != STARTED or summary.task.total != size:
                    raise RuntimeError(f"the {size:,}-job task reads {summary.counts}")
        rows = {size: _rows(reader, task_id) for size, task_id in tasks.items()}
        return {
            size: PollCost(size, seconds[size], requests[size], rows[size], reported[size])
            for size in sizes
        }
    finally:
        queue.delete()


def sleep_body(items: int, seconds: float) -> bytes:
    return json.dumps({"kind": "sleep", "items": [{"seconds": seconds}] * items}).encode()


def _running_task(services: Sequence[Service], queue: str, size: int) -> str:
    """A sleep task of ``size`` jobs submitted and fanned out here, STARTED of its jobs started
    (one share per service) and reporting FRACTION each."""
    task = submit(services[0], sleep_body(size, SLEEP_SECONDS)).task
    items = [{"seconds": SLEEP_SECONDS}] * size
    spread(services[0], replace(task, queue=queue), items, claim="bench")

    def start(index: int) -> None:
        service = services[index % len(services)]
        claim = service.lifecycle.start(RunMessage(task.task_id, index), queue, 1)
        if claim is None:
            raise RuntimeError(f"job {index} of {task.task_id} did not start")
        service.lifecycle.progress.report(task.task_id, index, FRACTION)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(start, range(STARTED)))
    return task.task_id


def _rows(service: Service, task_id: str) -> int:
    """The rows a status poll's query returns: from the counter rows to the task row."""
    found = service.table.store.query(task_id, Rows(start=SHARD_PREFIX))
    return sum(1 for _ in found)
