"""The service under measurement: one private Azurite and the local host on it, started and
stopped by the benchmark, plus the HTTP and storage calls the phases make against them.

Every process started here is remembered and stopped by ``Stack.close``, which the runner calls
on exit, on Ctrl-C and on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import requests
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.queue import QueueServiceClient

from bench.proxy import RunningProxy, start_proxy
from harness.azurite import REPO, Azurite, start_azurite
from harness.localhost import RunningHost, start_devhost
from jobs.core.resources import DEFAULT_QUEUE, JOBS_TABLE, SMALL_QUEUE
from jobs.storage.keys import JOB_PREFIX, TASK_ROW
from jobs.storage.provision import provision

T = TypeVar("T")

# The host as the brief runs it: test kinds, the language worker's pool at 32 threads (the
# queue trigger keeps batchSize 16 + newBatchThreshold 16 = 32 invocations in flight), and a
# sweep that fires once a year, so it never runs during a measurement.
HOST_SETTINGS = {
    "JOBS_TEST_KINDS": "true",
    "PYTHON_THREADPOOL_THREAD_COUNT": "32",
    "JOBS_SWEEP_SCHEDULE": "0 0 0 1 1 *",
    "JOBS_SCHEDULER_SCHEDULE": "0 0 0 1 1 *",
    "JOBS_WEBHOOK_SECRET": "bench-webhook-secret",
    "JOBS_CALLBACK_ALLOWED_HOSTS": "127.0.0.1",
}


class Deadline(RuntimeError):
    """A poll ran out of time."""


def poll(
    probe: Callable[[], T | None], *, timeout: float, interval: float, what: str
) -> tuple[T, float]:
    """Call ``probe`` until it returns something truthy; that value and the monotonic time it
    was seen. Raises Deadline after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value, time.monotonic()
        if time.monotonic() > deadline:
            raise Deadline(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def parse_time(stamp: str) -> float:
    """A row's ISO timestamp (``...Z``) as a POSIX time."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


UNAVAILABLE_TRIES = 5  # status reads answered 503 are retried this many times in all


@dataclass
class Stack:
    azurite: Azurite | None = None
    host: RunningHost | None = None
    background: RunningHost | None = None  # the second host of a split service (start_host)
    proxy: RunningProxy | None = None
    http: requests.Session = field(default_factory=requests.Session)
    log_dir: Path | None = None

    # -- processes -----------------------------------------------------------------------

    def start_azurite(self) -> None:
        self.stop_azurite()
        try:
            self.azurite = start_azurite()
        except (AssertionError, RuntimeError):  # harness.polling's Timeout is an AssertionError
            self.azurite = start_azurite()  # once more: a port taken meanwhile, a slow start
        provision(self.storage_env)

    @property
    def connection_string(self) -> str:
        assert self.azurite is not None, "Azurite is not running"
        return self.azurite.connection_string

    @property
    def storage_env(self) -> dict[str, str]:
        return {
            "JobsStorage": self.connection_string,
            "AzureWebJobsStorage": self.connection_string,
        }

    def start_host(
        self,
        settings: Mapping[str, str] | None = None,
        *,
        counted: bool = False,
        split: bool = False,
    ) -> None:
        """A fresh host on the current Azurite, warmed up: its service built and its storage
        connections open, with no write (a refused submit runs the validation path).
        ``settings`` add to (or override) HOST_SETTINGS; ``counted`` puts the counting proxy
        between the host's processes and Azurite (``self.proxy``); ``split`` runs the app as
        scripts/serve does, the HTTP functions in ``self.host`` (``--group http``) and the
        others in ``self.background`` (``--group background``)."""
        self.stop_host()
        storage = self.storage_env
        if counted:
            proxied = self.start_proxy().connection_string(self.connection_string)
            storage = {name: proxied for name in storage}
        env = {**storage, **HOST_SETTINGS, **(settings or {})}
        if split:
            self.background = start_devhost(REPO, env, args=["--group", "background"],
                                            timeout=120)  # fmt: skip
        self.host = start_devhost(REPO, env, args=["--group", "http"] if split else [],
                                  timeout=120)  # fmt: skip
        poll(self._healthy, timeout=60, interval=0.2, what="the host's health check")
        self.http.post(self.url("tasks"), json={"kind": "no-such-kind", "items": [1]}, timeout=30)

    def _healthy(self) -> bool:
        try:
            return self.http.get(self.url("health"), timeout=10).status_code == 200
        except requests.RequestException:
            return False

    def stop_host(self) -> None:
        """Kill the host at once (whatever runs in it is abandoned, as in a crash) and wait for
        its worker process, which exits when the host's socket closes; both hosts of a split
        service."""
        hosts = [h for h in (self.host, self.background) if h is not None]
        self.host = self.background = None
        for host in hosts:
            kill_host(host)
            self._keep_log(host)

    def _keep_log(self, host: RunningHost) -> None:
        if self.log_dir is None:
            with contextlib.suppress(OSError):
                host.log_path.unlink()
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            host.log_path.replace(self.log_dir / f"devhost-{host.port}.log")

    def start_proxy(self) -> RunningProxy:
        """The counting proxy in front of the current Azurite (one per Azurite)."""
        if self.proxy is None:
            assert self.azurite is not None, "Azurite is not running"
            azurite = self.azurite
            ports = {"blob": azurite.blob_port, "queue": azurite.queue_port,
                     "table": azurite.table_port}  # fmt: skip
            self.proxy = start_proxy(ports)
        return self.proxy

    def stop_azurite(self) -> None:
        self.stop_host()
        proxy, self.proxy = self.proxy, None
        if proxy is not None:
            proxy.stop()
        azurite, self.azurite = self.azurite, None
        if azurite is not None:
            azurite.stop()

    def close(self) -> None:
        self.stop_azurite()
        self.http.close()

    def azurite_pids(self) -> list[int]:
        return [] if self.azurite is None else [self.azurite.process.pid]

    def host_pids(self) -> list[int]:
        """The host processes and their workers."""
        hosts = [h for h in (self.host, self.background) if h is not None]
        return [pid for h in hosts for pid in (h.process.pid, *children(h.process.pid))]

    # -- HTTP ----------------------------------------------------------------------------

    def url(self, path: str) -> str:
        assert self.host is not None, "the host is not running"
        return f"{self.host.api}/{path}"

    def submit(self, body: bytes) -> tuple[str, float]:
        """POST the body; the task id and the seconds until the 202."""
        headers = {"Content-Type": "application/json"}
        started = time.perf_counter()
        response = self.http.post(self.url("tasks"), data=body, headers=headers, timeout=300)
        elapsed = time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"submit answered {response.status_code}: {response.text[:300]}")
        return str(response.json()["task_id"]), elapsed

    def status(self, task_id: str) -> tuple[dict[str, Any], float]:
        """The task's status and how long the read took. A 503 (storage slow to answer, past
        the route's 5 s read timeout) is retried after Retry-After, as a caller would."""
        for _ in range(UNAVAILABLE_TRIES):
            started = time.perf_counter()
            response = self.http.get(self.url(f"tasks/{task_id}"), timeout=120)
            elapsed = time.perf_counter() - started
            if response.status_code != 503:
                break
            print(f"    (status answered 503 after {elapsed:.1f} s; retried)", flush=True)
            time.sleep(float(response.headers.get("Retry-After", "1")))
        if response.status_code != 200:
            raise RuntimeError(f"status answered {response.status_code}: {response.text[:300]}")
        body: dict[str, Any] = response.json()
        if sum(body["counts"].values()) != body["total"]:
            raise RuntimeError(f"counts do not add up: {body}")
        return body, elapsed

    def cancel(self, task_id: str) -> None:
        response = self.http.delete(self.url(f"tasks/{task_id}"), timeout=60)
        if response.status_code != 202:
            raise RuntimeError(f"cancel answered {response.status_code}: {response.text[:300]}")

    # -- storage, for what the API does not show -------------------------------------------

    def table(self) -> TableClient:
        return TableServiceClient.from_connection_string(self.connection_string).get_table_client(
            JOBS_TABLE
        )

    def task_state(self, task_id: str) -> str:
        return str(self.table().get_entity(task_id, TASK_ROW).get("State", ""))

    def wait_dispatched(self, task_id: str, timeout: float) -> float:
        """Poll the task row until the fan-out is done; the monotonic time it was seen."""
        table = self.table()

        def dispatched() -> bool:
            return table.get_entity(task_id, TASK_ROW).get("State") == "dispatched"

        return poll(dispatched, timeout=timeout, interval=0.25, what=f"{task_id} dispatched")[1]

    def first_started(self, task_id: str) -> float | None:
        """The earliest ``Started`` among the task's job rows (POSIX time), None before any."""
        rows = self.table().query_entities(
            "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi and Started ne ''",
            parameters={"pk": task_id, "lo": JOB_PREFIX, "hi": "job."},
            select=["Started"],
        )
        stamps = [parse_time(str(row["Started"])) for row in rows if row.get("Started")]
        return min(stamps) if stamps else None

    def clear_queue(self, queue: str = DEFAULT_QUEUE) -> None:
        """Drop every message (visible or not) left by an abandoned run, and those of the small
        tasks' queue (a 100-item task's jobs are queued by its submit, on jobs-small)."""
        service = QueueServiceClient.from_connection_string(self.connection_string)
        for name in dict.fromkeys((queue, SMALL_QUEUE)):
            service.get_queue_client(name).clear_messages()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (0 for any gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def worker_pid(host: RunningHost) -> int:
    """The host's worker process (the one that runs function_app.py)."""
    for pid in children(host.process.pid):
        if b"devhost.worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise Deadline("the host has no worker process")


def kill_host(host: RunningHost) -> None:
    """Kill the host at once and wait for its worker, which exits once the host's socket
    closes (killed too after 15 s)."""
    workers = children(host.process.pid)
    host.kill()
    for pid in workers:
        deadline = time.monotonic() + 15
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
