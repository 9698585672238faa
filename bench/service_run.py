"""One end-to-end run of the service: an echo task submitted over HTTP to a host whose storage
requests pass through the counting proxy, polled until it is done with its counts checked at
every poll; its pace, the host's and worker's CPU, and the storage requests and entity
operations per job, whole run and steady state (between 20% and 80% completed)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.storage.blob import BlobServiceClient

from bench.polls import Polls
from bench.proxy import RunningProxy
from bench.stack import UNAVAILABLE_TRIES, Deadline, Stack, cpu_seconds, poll
from bench.tally import Counts, PerJob
from jobs.core.resources import PAYLOADS_CONTAINER
from jobs.storage.keys import TASK_ROW
from jobs.storage.payloads import results_path

GROUP_COMMIT = "JOBS_GROUP_COMMIT"  # jobs.core.settings reads it once group commit lands
STEADY = (0.2, 0.8)  # the steady state: from this share of the jobs completed to that
POLL_SAMPLES = 10  # status polls on the finished task, to know what one costs


def echo_body(items: int) -> bytes:
    return json.dumps({"kind": "echo", "items": [{"n": i} for i in range(items)]}).encode()


@dataclass(frozen=True)
class Mark:
    """The run at one poll: the proxy's counts, jobs completed, host CPU, polls so far."""

    counts: Counts
    completed: int
    cpu: float
    polls: int


@dataclass(frozen=True)
class ServiceRun:
    group_commit: str
    task_id: str
    jobs: int
    seconds: float  # submit to the poll that saw the task done
    fanout: float  # submit to the task row's dispatched state
    polls: Polls
    cpu: float  # host + worker CPU seconds, submit to done
    steady_cpu: float  # the same between the steady state's marks
    steady_jobs: int  # jobs completed between them
    steady_polls: int  # status polls made between them
    steady: Counts  # requests between them, polls included
    whole: Counts  # submit to done, polls included
    poll_cost: Counts  # POLL_SAMPLES status polls of the finished task
    storage_busy: float  # Azurite's CPU per second of the run
    proxy_cpu: float  # the counting proxy's CPU seconds, submit to done

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_per_job(self) -> float:
        return self.cpu / self.jobs

    @property
    def steady_cpu_per_job(self) -> float:
        return self.steady_cpu / self.steady_jobs

    def steady_per_job(self) -> PerJob:
        """Requests and entity operations per job at steady state, the polls' taken out."""
        return self.steady.per_job(self.steady_jobs, self.poll_cost,
                                   self.steady_polls / POLL_SAMPLES)  # fmt: skip

    def whole_per_job(self) -> PerJob:
        return self.whole.per_job(self.jobs, self.poll_cost, self.polls.count / POLL_SAMPLES)

    def per_poll(self) -> PerJob:
        return self.poll_cost.per_job(POLL_SAMPLES)

    def task_entities_per_job(self) -> float:
        """Entity operations on the task's own partition per job, steady state."""
        return self.steady_per_job().entities.get(self.task_id, 0.0)


def service_run(
    stack: Stack,
    items: int,
    group_commit: str,
    interval: float,
    settings: Mapping[str, str] | None = None,
) -> ServiceRun:
    """A fresh counted host with ``JOBS_GROUP_COMMIT=group_commit`` (and ``settings``); submit
    ``items`` echo items and poll the task every ``interval`` seconds until it is done."""
    stack.start_host({GROUP_COMMIT: group_commit, **(settings or {})}, counted=True)
    proxy = stack.proxy
    assert proxy is not None, "a counted host has a proxy"
    table = stack.table()
    storage, proxy_cpu = cpu_seconds(stack.azurite_pids()), _proxy_cpu(proxy)
    start = Mark(proxy.counts(), 0, cpu_seconds(stack.host_pids()), 0)
    started = time.monotonic()
    task_id, _ = stack.submit(echo_body(items))
    polls, marks = Polls(items), list[Mark]()
    fanout: float | None = None
    deadline = started + max(300, items / 4)
    while True:
        body, seconds = _status(stack, task_id)
        polls.check(body["counts"], seconds)
        if fanout is None and table.get_entity(task_id, TASK_ROW).get("State") == "dispatched":
            fanout = time.monotonic() - started
        completed = int(body["counts"]["completed"])
        if len(marks) < len(STEADY) and completed >= STEADY[len(marks)] * items:
            marks.append(Mark(proxy.counts(), completed, cpu_seconds(stack.host_pids()),
                              polls.count))  # fmt: skip
        if body["status"] != "running":
            break
        if time.monotonic() > deadline:
            raise Deadline(f"the task was not done after {deadline - started:.0f}s: {body}")
        time.sleep(interval)
    done = time.monotonic()
    end = Mark(proxy.counts(), completed, cpu_seconds(stack.host_pids()), polls.count)
    busy = (cpu_seconds(stack.azurite_pids()) - storage) / (done - started)
    used_by_proxy = _proxy_cpu(proxy) - proxy_cpu
    polls.finish(body["counts"])
    if len(marks) < len(STEADY) or marks[1].completed == marks[0].completed:
        raise RuntimeError(f"too few polls to see a steady state: {len(marks)} marks")
    poll_cost = _poll_cost(stack, proxy, task_id)
    stack.stop_host()  # the floors that follow get the machine and Azurite to themselves
    return ServiceRun(
        group_commit=group_commit,
        task_id=task_id,
        jobs=items,
        seconds=done - started,
        fanout=fanout if fanout is not None else float("nan"),
        polls=polls,
        cpu=end.cpu - start.cpu,
        steady_cpu=marks[1].cpu - marks[0].cpu,
        steady_jobs=marks[1].completed - marks[0].completed,
        steady_polls=marks[1].polls - marks[0].polls,
        steady=marks[1].counts - marks[0].counts,
        whole=end.counts - start.counts,
        poll_cost=poll_cost,
        storage_busy=busy,
        proxy_cpu=used_by_proxy,
    )


def _status(stack: Stack, task_id: str) -> tuple[dict[str, Any], float]:
    """GET the task without judging its counts (Polls does). A 503 is what a caller is told
    to retry after Retry-After: so does this, a few times, saying so."""
    for attempt in range(1, UNAVAILABLE_TRIES + 1):
        started = time.perf_counter()
        response = stack.http.get(stack.url(f"tasks/{task_id}"), timeout=120)
        seconds = time.perf_counter() - started
        if response.status_code == 503 and attempt < UNAVAILABLE_TRIES:
            print(f"    (status answered 503 after {seconds:.1f} s; retried)", flush=True)
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code != 200:
            raise RuntimeError(f"status answered {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        return body, seconds
    raise AssertionError("unreachable")


def _poll_cost(stack: Stack, proxy: RunningProxy, task_id: str) -> Counts:
    """The table requests of POLL_SAMPLES status polls, once the task's end has been
    followed up (its results file written), so that nothing else touches the table. The
    idle host's queue polling and lease renewals go on meanwhile; they touch no table."""

    # Straight to Azurite, not through the proxy. (GET /results is no test: it answers 200 from
    # the rows, reading all of them, until the file is there.)
    blobs = BlobServiceClient.from_connection_string(stack.connection_string)
    results = blobs.get_blob_client(PAYLOADS_CONTAINER, results_path(task_id, 1))
    poll(results.exists, timeout=120, interval=0.25, what="the results file")
    before = proxy.counts()
    for _ in range(POLL_SAMPLES):
        _status(stack, task_id)
    found = proxy.counts() - before
    return Counts({key: n for key, n in found.requests.items() if key.startswith("table ")},
                  found.entities)  # fmt: skip


def _proxy_cpu(proxy: RunningProxy) -> float:
    return cpu_seconds([proxy.process.pid])
