"""Phase 8's hosts: one task of short sleep jobs run by several local hosts on one Azurite, as
several instances run one task in Azure; its pace at steady state, from the task's counts.

Every host gets the same settings (the bench's HOST_SETTINGS: test kinds, 32 worker threads,
so 32 jobs at once). The run ends at the steady state's end (80% completed) or ``window``
seconds after its start, whichever comes first; the hosts are then killed and the queue
cleared, so what is left of the task never runs."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench.stack import HOST_SETTINGS, Deadline, Stack, children, cpu_seconds, kill_host
from bench.status_cost import sleep_body
from harness.azurite import REPO
from harness.localhost import RunningHost, start_devhost

STEADY = (0.2, 0.8)  # the steady state: from this share of the jobs completed to that
POLL_EVERY = 0.5  # seconds between status polls


@dataclass(frozen=True)
class Sample:
    at: float  # monotonic seconds
    completed: int
    cpu: float  # CPU seconds so far of the hosts, their workers and Azurite


@dataclass(frozen=True)
class Steady:
    jobs: int
    seconds: float
    cpu: float  # CPU seconds used meanwhile
    stall: float = 0.0  # the longest time meanwhile with no job completed (as polled)

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def busy(self) -> float:
        """Cores kept busy (hosts, workers and Azurite)."""
        return self.cpu / self.seconds


def steady(
    samples: Sequence[Sample], total: int, window: float, shares: tuple[float, float] = STEADY
) -> Steady | None:
    """The steady state in ``samples`` (in time order): from the first sample at or past
    ``shares[0]`` of ``total`` completed to the first later one at or past ``shares[1]``, or
    ``window`` seconds after the start, whichever comes first; None until both are there."""
    start = next((s for s in samples if s.completed >= shares[0] * total), None)
    if start is None:
        return None
    moved, stall = start, 0.0  # the last sample that saw more jobs completed
    for sample in samples:
        if sample.at <= start.at:
            continue
        stall = max(stall, sample.at - moved.at)
        if sample.completed > moved.completed:
            moved = sample
        if sample.completed >= shares[1] * total or sample.at - start.at >= window:
            return Steady(sample.completed - start.completed, sample.at - start.at,
                          sample.cpu - start.cpu, stall)  # fmt: skip
    return None


def scaling(rates: Mapping[int, float]) -> dict[int, float]:
    """Each host count's rate against linear scaling from one host's:
    rate(n) / (n x rate(1))."""
    one = rates[1]
    return {hosts: rate / (hosts * one) for hosts, rate in rates.items()}


@dataclass(frozen=True)
class HostsRun:
    hosts: int
    jobs: int  # the task's
    steady: Steady
    fanout: float  # submit to the first job completed, seconds

    @property
    def rate(self) -> float:
        return self.steady.rate


def hosts_run(
    stack: Stack,
    hosts: int,
    settings: Mapping[str, str],
    jobs: int,
    sleep: float,
    window: float,
) -> HostsRun:
    """``hosts`` fresh hosts on the stack's Azurite with ``settings``; one task of ``jobs``
    sleep jobs of ``sleep`` seconds submitted to the first, polled until its steady state has
    been seen."""
    env = {**stack.storage_env, **HOST_SETTINGS, **settings}
    running: list[RunningHost] = []
    http = requests.Session()
    try:
        for _ in range(hosts):  # started together, waited for together
            running.append(start_devhost(REPO, env, wait=False))
        _wait_ready(running, timeout=180)
        api = running[0].api
        response = http.post(f"{api}/tasks", data=sleep_body(jobs, sleep),
                             headers={"Content-Type": "application/json"}, timeout=300)  # fmt: skip
        if response.status_code != 202:
            raise RuntimeError(f"submit answered {response.status_code}: {response.text[:300]}")
        submitted = time.monotonic()
        task_id = str(response.json()["task_id"])
        pids = [*stack.azurite_pids(), *(pid for h in running for pid in _family(h))]
        samples: list[Sample] = []
        first: float | None = None
        deadline = submitted + max(300.0, 4 * window + jobs * sleep / (32 * hosts))
        while (found := steady(samples, jobs, window)) is None:
            if time.monotonic() > deadline:
                raise Deadline(f"{hosts} host(s): no steady state after "
                               f"{deadline - submitted:.0f}s: {samples[-1:]}")  # fmt: skip
            body = _status(http, api, task_id)
            now = time.monotonic()
            completed = int(body["counts"]["completed"])
            if first is None and completed:
                first = now - submitted
            samples.append(Sample(now, completed, cpu_seconds(pids)))
            time.sleep(POLL_EVERY)
        return HostsRun(hosts, jobs, found, first if first is not None else float("nan"))
    finally:
        http.close()
        for host in running:
            _stop(host, stack.log_dir)
        stack.clear_queue()


def _wait_ready(hosts: Sequence[RunningHost], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(hosts)
    while waiting:
        for host in list(waiting):
            if host.process.poll() is not None:
                raise RuntimeError(f"devhost exited with {host.process.returncode}:\n"
                                   f"{host.logs()[-2000:]}")  # fmt: skip
            if host.ready():
                waiting.remove(host)
        if time.monotonic() > deadline:
            raise Deadline(f"{len(waiting)} host(s) not Running after {timeout:.0f}s")
        time.sleep(0.2)


def _status(http: requests.Session, api: str, task_id: str) -> dict[str, Any]:
    """The task's status; a 503 (storage slow past the route's timeout) is retried."""
    for _ in range(5):
        response = http.get(f"{api}/tasks/{task_id}", timeout=120)
        if response.status_code != 503:
            break
        time.sleep(float(response.headers.get("Retry-After", "1")))
    if response.status_code != 200:
        raise RuntimeError(f"status answered {response.status_code}: {response.text[:300]}")
    body: dict[str, Any] = response.json()
    return body


def _family(host: RunningHost) -> list[int]:
    """The host's process and its children (the worker)."""
    return [host.process.pid, *children(host.process.pid)]


def _stop(host: RunningHost, log_dir: Path | None) -> None:
    """Kill the host and its worker; keep its log in ``log_dir`` when given."""
    kill_host(host)
    if log_dir is None:
        with contextlib.suppress(OSError):
            host.log_path.unlink()
        return
    log_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        host.log_path.replace(log_dir / f"devhost-{host.port}.log")
