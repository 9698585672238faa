"""Throughput without the service: the same storage operations a job needs, driven the way the
host drives them, in this process, against the same Azurite.

The driver is the host's queue loop in miniature: receive up to 16 messages (10 minutes
invisible), hand each to a pool of 32 threads, receive again once no more than 16 are in
flight (batchSize 16 + newBatchThreshold 16), delete each message after its work. Each run
seeds one window of messages (the dispatch window, 128) and every job sends its successor's,
so the queue stays as deep as the service keeps it.

Workloads:

- ``floor``: per job get the job row, get its counter row, one transaction of both (InProgress),
  send the successor's message, one transaction of both (Completed): the service's storage
  work with nothing else, and no ETag conditions (so no lost races to retry).
- ``bare``: per job upsert the job row, send the successor's message, upsert the job row: plain
  single-entity writes, no counters.
- ``inproc``: the service's own ``jobs.control.handlers.handle`` in this process (no host, no
  IPC), with a table that counts lost races.
- ``seed``: the design the product grew from (docs/seed), as a plain script: every job row
  inserted and every job's message sent up front, then per job two single-entity merges
  (InProgress, then Completed with its result) and the message's delete; its counts come from
  a query over the partition's job rows, run beside it at the cadence the service is polled.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from azure.data.tables import TableClient, UpdateMode
from azure.storage.queue import QueueClient, QueueMessage, QueueServiceClient

from api.wire import state_name
from bench.meter import metered
from bench.polls import Poller, Polls
from bench.stack import Deadline
from composition import Service
from jobs.control.handlers import handle
from jobs.core.clock import utcnow
from jobs.core.messages import Message, RunMessage, parse_message
from jobs.core.models import JobStatus
from jobs.core.resources import JOBS_TABLE
from jobs.core.settings import COUNTER_LAYOUT, COUNTER_SHARDS, STORAGE_CONNECTION
from jobs.dispatch.fanout import spread
from jobs.dispatch.submit import submit
from jobs.storage import (
    ALL_ROWS,
    ConcurrentUpdate,
    Entity,
    QueueStore,
    Received,
    Rows,
    Sent,
    TableStore,
    Write,
)
from jobs.storage.azure import AzureQueueStore
from jobs.storage.connection import StorageConnection
from jobs.storage.keys import job_key, shard_key
from jobs.storage.queues import JobQueues

BATCH = 16
THRESHOLD = 16
THREADS = BATCH + THRESHOLD
WINDOW = 128  # jobs.core.settings.Settings.dispatch_window's default, which the host runs with


@dataclass(frozen=True)
class Run:
    jobs: int
    seconds: float
    requests: int  # sent from this process, setup excluded
    connections: int  # new TCP connections opened during the run
    conflicts: int = 0  # lost ETag races (inproc only)
    storage_busy: float = 0.0  # Azurite's CPU seconds per second of the run (1.0 = one core)
    client_busy: float = 0.0  # the same for the process running the jobs
    setup_seconds: float = 0.0  # writing the rows and messages, before ``seconds`` (seed only)

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def end_to_end_rate(self) -> float:
        """Jobs a second from the first row written to the last job done."""
        return self.jobs / (self.setup_seconds + self.seconds)

    @property
    def requests_per_job(self) -> float:
        return self.requests / self.jobs


StorageCpu = Callable[[], float]  # Azurite's CPU seconds so far


def measured(
    queue: QueueClient,
    work: Callable[[QueueMessage], None],
    expected: int,
    timeout: float,
    storage_cpu: StorageCpu,
    beside: contextlib.AbstractContextManager[Any] | None = None,
) -> tuple[float, int, int, float, float]:
    """``drive`` with the meter on (and ``beside`` entered for the drive): seconds, requests,
    new connections, Azurite's and this process's CPU per second."""
    storage, client = storage_cpu(), time.process_time()
    with metered() as meter, beside or contextlib.nullcontext():
        seconds = drive(queue, work, expected, timeout)
    storage_busy = (storage_cpu() - storage) / seconds
    client_busy = (time.process_time() - client) / seconds
    return seconds, meter.requests, meter.connections, storage_busy, client_busy


def drive(
    queue: QueueClient, work: Callable[[QueueMessage], None], expected: int, timeout: float
) -> float:
    """Run ``work`` on messages as the host would until ``expected`` have been handled; the
    seconds that took. A message whose work fails is made visible again at once (the host's
    retry, visibilityTimeout 0); more than ``expected / 20`` failures abort the run."""
    cond = threading.Condition()
    state = {"in_flight": 0, "done": 0}
    errors: list[BaseException] = []

    def one(message: QueueMessage) -> None:
        finished = False
        try:
            work(message)
            queue.delete_message(message.id, message.pop_receipt)
            finished = True
        except Exception as error:
            errors.append(error)
            with contextlib.suppress(Exception):
                queue.update_message(message.id, message.pop_receipt, visibility_timeout=0)
        finally:
            with cond:
                state["in_flight"] -= 1
                state["done"] += finished
                cond.notify_all()

    def failed() -> bool:
        return len(errors) > max(5, expected // 20)

    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(THREADS, thread_name_prefix="floor") as pool:
        while True:
            with cond:
                if failed():
                    raise errors[-1]
                if state["done"] >= expected:
                    break
            if time.monotonic() > deadline:
                raise Deadline(f"{state['done']} of {expected} messages after {timeout:.0f}s")
            pager = queue.receive_messages(
                messages_per_page=BATCH, max_messages=BATCH, visibility_timeout=600
            )
            messages = next((list(page) for page in pager.by_page()), [])
            if not messages:
                with cond:  # wake early if a job finishes (the last one, say)
                    cond.wait(0.05)
                continue
            with cond:
                state["in_flight"] += len(messages)
            for message in messages:
                pool.submit(one, message)
            with cond:
                cond.wait_for(lambda: state["in_flight"] <= THRESHOLD or failed(), 300)
        elapsed = time.perf_counter() - started
    if errors:
        print(f"    ({len(errors)} failed attempts retried: {errors[-1]!r:.120})", flush=True)
    return elapsed


def _decode(message: QueueMessage) -> Message:
    return parse_message(base64.b64decode(str(message.content)).decode())


class PrivateQueue:
    """A private queue for one run, deleted afterwards."""

    def __init__(self, connection_string: str, prefix: str) -> None:
        self.name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        service = QueueServiceClient.from_connection_string(connection_string)
        self.reader = service.get_queue_client(self.name)
        self.reader.create_queue()
        self.service = service

    def delete(self) -> None:
        self.reader.delete_queue()


def storage_floor(
    connection_string: str, jobs: int, *, bare: bool, timeout: float, storage_cpu: StorageCpu
) -> Run:
    """The ``floor`` (or ``bare``) workload over ``jobs`` jobs in a fresh partition of the jobs
    table; rows and the first window are written before the clock starts."""
    # The service's own clients (pool, transport), used directly.
    connection = StorageConnection.from_env(STORAGE_CONNECTION, {"JobsStorage": connection_string})
    table: TableClient = connection.table_service().get_table_client(JOBS_TABLE)
    queue = PrivateQueue(connection_string, "bench-bare" if bare else "bench-floor")
    sender = JobQueues(AzureQueueStore(queue.service, ping_queue=queue.name))
    partition = str(uuid.uuid4())  # a task id: parse_message refuses anything else
    try:
        _seed_rows(table, partition, jobs)
        for index in range(min(WINDOW, jobs)):
            sender.send(queue.name, RunMessage(partition, index))

        def job_row(index: int, status: JobStatus, now: str, result: Any = None) -> dict[str, Any]:
            row = {
                "PartitionKey": partition,
                "RowKey": job_key(index),
                "Status": status.value,
                "RetryCount": 1,
                "NextSent": status is JobStatus.COMPLETED,
                "ErrorMessage": "",
                "Started": now,
                "Updated": now,
            }
            if result is not None:
                row["JobResult"] = result
            return row

        def successor(index: int) -> None:
            if index + WINDOW < jobs:
                sender.send(queue.name, RunMessage(partition, index + WINDOW))

        def floor_job(message: QueueMessage) -> None:
            run = _decode(message)
            assert isinstance(run, RunMessage)
            table.get_entity(partition, job_key(run.index))
            shard = table.get_entity(partition, shard_key(run.index % COUNTER_SHARDS))
            key = shard_key(run.index % COUNTER_SHARDS)
            merge = {"mode": UpdateMode.MERGE}
            now = utcnow()
            counts = {"PartitionKey": partition, "RowKey": key, "Updated": now}
            table.submit_transaction(
                [
                    ("update", job_row(run.index, JobStatus.IN_PROGRESS, now), merge),
                    ("update", {**counts, "InProgress": int(shard["InProgress"]) + 1}, merge),
                ]
            )
            successor(run.index)
            now = utcnow()
            table.submit_transaction(
                [
                    ("update", job_row(run.index, JobStatus.COMPLETED, now, str(run.index)), merge),
                    ("update", {**counts, "Completed": int(shard["Completed"]) + 1}, merge),
                ]
            )

        def bare_job(message: QueueMessage) -> None:
            run = _decode(message)
            assert isinstance(run, RunMessage)
            now = utcnow()
            table.upsert_entity(job_row(run.index, JobStatus.IN_PROGRESS, now), UpdateMode.MERGE)
            successor(run.index)
            now = utcnow()
            table.upsert_entity(
                job_row(run.index, JobStatus.COMPLETED, now, str(run.index)), UpdateMode.MERGE
            )

        seconds, requests, connections, storage, client = measured(
            queue.reader, bare_job if bare else floor_job, jobs, timeout, storage_cpu
        )
        return Run(jobs, seconds, requests, connections, 0, storage, client)
    finally:
        queue.delete()


def seed_floor(
    connection_string: str, jobs: int, *, poll_every: float, timeout: float, storage_cpu: StorageCpu
) -> tuple[Run, Polls]:
    """The ``seed`` workload over ``jobs`` jobs in a fresh partition; rows and messages are
    written first, timed apart (``setup_seconds``: the seed's submit, which ours includes). Its
    requests exclude the polls' (``Polls.requests``) and the setup's."""
    connection = StorageConnection.from_env(STORAGE_CONNECTION, {"JobsStorage": connection_string})
    table: TableClient = connection.table_service().get_table_client(JOBS_TABLE)
    polls_table: TableClient = connection.table_service().get_table_client(JOBS_TABLE)
    queue = PrivateQueue(connection_string, "bench-seed")
    partition = f"seed-{uuid.uuid4()}"
    try:
        setup = time.perf_counter()
        _seed_rows(table, partition, jobs, counters=False)
        with ThreadPoolExecutor(THREADS) as pool:  # one message per job, all up front
            list(pool.map(lambda i: queue.reader.send_message(str(i)), range(jobs)))
        setup_seconds = time.perf_counter() - setup

        def seed_job(message: QueueMessage) -> None:
            key = {"PartitionKey": partition, "RowKey": job_key(int(str(message.content)))}
            now = utcnow()
            started = {"Status": "InProgress", "Started": now, "Updated": now,
                       "RetryCount": message.dequeue_count or 1}  # fmt: skip
            table.update_entity({**key, **started}, UpdateMode.MERGE)
            now = utcnow()
            result = {"n": int(str(message.content)), "ok": True}
            done = {"Status": "Completed", "Updated": now, "JobResult": json.dumps(result)}
            table.update_entity({**key, **done}, UpdateMode.MERGE)

        def status() -> tuple[Counter[str], int, int]:
            """The seed's status poll: count the partition's job rows by status."""
            counts: Counter[str] = Counter()
            pages = 0
            rows = polls_table.query_entities(
                "PartitionKey eq @p", parameters={"p": partition}, select=["Status"]
            )
            for page in rows.by_page():
                pages += 1
                counts.update(state_name(JobStatus(str(row["Status"]))) for row in page)
            return counts, counts.total(), pages

        poller = Poller(status, jobs, poll_every)
        seconds, requests, connections, storage, client = measured(
            queue.reader, seed_job, jobs, timeout, storage_cpu, beside=poller
        )
        if poller.error is not None:
            raise poller.error
        last, _, _ = status()
        poller.polls.finish(last)
        jobs_requests = requests - poller.polls.requests
        run = Run(jobs, seconds, jobs_requests, connections, 0, storage, client, setup_seconds)
        return run, poller.polls
    finally:
        queue.delete()


def _seed_rows(table: TableClient, partition: str, jobs: int, *, counters: bool = True) -> None:
    rows = [
        {"PartitionKey": partition, "RowKey": job_key(i), "Index": i, "Status": "Pending",
         "JobDetail": str(i), "Kind": "echo"}
        for i in range(jobs)
    ]  # fmt: skip
    rows += [
        {"PartitionKey": partition, "RowKey": shard_key(s), "InProgress": 0, "Completed": 0}
        for s in range(COUNTER_SHARDS if counters else 0)
    ]
    for start in range(0, len(rows), 100):
        table.submit_transaction([("create", row) for row in rows[start : start + 100]])


class RedirectedQueues:
    """Sends everything to one private queue, so the host never sees this process's work."""

    def __init__(self, store: QueueStore, target: str) -> None:
        self.store = store
        self.target = target

    def send(self, queue: str, text: str, *, delay: timedelta | None = None) -> Sent:
        return self.store.send(self.target, text, delay=delay)

    def receive(self, queue: str, count: int, visibility: timedelta) -> list[Received]:
        return self.store.receive(queue, count, visibility)

    def delete(self, queue: str, message_id: str, receipt: str) -> None:
        self.store.delete(queue, message_id, receipt)

    def depth(self, queue: str) -> int:
        return self.store.depth(queue)

    def oldest(self, queue: str) -> datetime | None:
        return self.store.oldest(queue)

    def ping(self) -> None:
        self.store.ping()


class CountingTable:
    """The service's table, counting the writes that lost an ETag race."""

    def __init__(self, store: TableStore) -> None:
        self.store = store
        self.conflicts = 0
        self._lock = threading.Lock()

    def get(self, partition: str, row: str) -> Entity | None:
        return self.store.get(partition, row)

    def query(self, partition: str, rows: Rows = ALL_ROWS) -> Iterator[Entity]:
        return self.store.query(partition, rows)

    def query_partitions(self, start: str, end: str, **options: Any) -> Iterator[Entity]:
        return self.store.query_partitions(start, end, **options)

    def transact(self, partition: str, writes: Sequence[Write]) -> list[str]:
        try:
            return self.store.transact(partition, writes)
        except ConcurrentUpdate:
            with self._lock:
                self.conflicts += 1
            raise

    def ping(self) -> None:
        self.store.ping()


def service_in_process(
    connection_string: str, queue: str, layout: str | None = None
) -> tuple[Service, CountingTable]:
    """The service as the worker builds it, its messages redirected to ``queue``; ``layout``
    sets JOBS_COUNTER_LAYOUT (the default's when None)."""
    env = {"JobsStorage": connection_string, "JOBS_TEST_KINDS": "true"}
    if layout is not None:
        env[COUNTER_LAYOUT] = layout
    base = Service.from_env(env)
    table = CountingTable(base.table.store)
    queues = RedirectedQueues(base.queues.store, queue)
    return Service.over(base.settings, table, queues, base.payloads.store), table


def seeded_task(service: Service, queue: str, items: int) -> str:
    """Submit an echo task and fan it out here: its rows written, its first window queued."""
    body = f'{{"kind":"echo","items":[{",".join(str(i) for i in range(items))}]}}'
    task = submit(service, body.encode()).task
    # Spread here, onto the bench's private queue, instead of through the control queue.
    spread(service, replace(task, queue=queue), list(range(items)), claim="bench")
    return task.task_id


def in_process(
    connection_string: str,
    jobs: int,
    timeout: float,
    storage_cpu: StorageCpu,
    workers: int = 1,
    layout: str | None = None,
) -> Run:
    """``jobs.control.handlers.handle`` at the host's concurrency, without the host. With
    ``workers`` above one, each message goes to one of that many services (as many instances'
    workers, each with its own group commit and what it knows of the counters) working the
    same task. ``layout``: the task's counter layout (JOBS_COUNTER_LAYOUT)."""
    queue = PrivateQueue(connection_string, "bench-inproc")
    try:
        built = [service_in_process(connection_string, queue.name, layout) for _ in range(workers)]
        seeded_task(built[0][0], queue.name, jobs)  # its fan-out message is in the queue too

        def work(message: QueueMessage) -> None:
            body = base64.b64decode(str(message.content)).decode()
            service = built[hash(message.id) % workers][0]
            handle(service, queue.name, body, message.dequeue_count or 1)

        seconds, requests, connections, storage, client = measured(
            queue.reader, work, jobs + 1, timeout, storage_cpu
        )
        conflicts = sum(table.conflicts for _, table in built)
        return Run(jobs, seconds, requests, connections, conflicts, storage, client)
    finally:
        queue.delete()
