"""Chaos: three local hosts on one Azurite, one of them killed with SIGKILL every few seconds
(and started again), Azurite itself restarted once, while three tasks run: echo, flaky (some of
whose jobs fail every attempt and are poisoned), and a sleeping one cancelled mid-way; the
flaky task is retried once it has ended. Whatever dies when, every task ends with its counts
equal to a full listing of its jobs, one result line per item in item order, no job past its
attempts (and each completed flaky job on an attempt its item lets succeed), and nothing left
in any queue, poison and set-aside (``-unreadable``) queues included.

Handlers started more often than their attempts needed (at-least-once delivery: a dead host's
messages come back, a job it was running runs again) are counted from the hosts' logs and
printed, not asserted. The hosts hide a taken message for LEASE seconds instead of ten minutes
(``harness.short_lease``), so a dead host's messages come back within the test. The kills
follow a seeded random generator; what they hit depends on timing, which is why only what
must hold whatever they hit is asserted."""

from __future__ import annotations

import contextlib
import json
import random
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from azure.storage.queue import QueueServiceClient

from harness.azurite import REPO, Azurite, start_azurite
from harness.localhost import RunningHost, start_devhost
from harness.polling import wait_until
from jobs.core.resources import EVENTS_QUEUE, all_queues
from jobs.kinds.base import HOST_MAX_ATTEMPTS
from jobs.lifecycle.moves import POISONED
from jobs.storage.provision import provision
from tests.e2e.conftest import SETTINGS

SEED = 20260613
HOSTS = 3
LEASE = 10  # seconds a taken message stays hidden (renewed every third of that while it runs)
KILL_EVERY = (3.0, 5.0)  # seconds between two kills, uniformly
AZURITE_RESTART_AFTER = 2  # kills
DEADLINE = 420.0  # seconds, from the submits to every task's end

ECHO = 1000
FLAKY = 300
DOOMED = 600  # sleep jobs, cancelled once some have run
POISONED_EVERY = 40  # one flaky item in 40 fails every attempt the host gives it

SETTINGS_CHAOS = {
    **SETTINGS,
    "JOBS_MAX_ITEMS": "5000",
    "JOBS_MAX_BODY_BYTES": "1000000",
}
STARTED = re.compile(r"JobEvent job_started .*?task_id=(\S+) job_id=(\S+)")
FINISHED = ("completed", "completed_with_failures", "cancelled")


def fail_times(index: int) -> int:
    return HOST_MAX_ATTEMPTS if index % POISONED_EVERY == 7 else index % 3


@dataclass
class Fleet:
    """The hosts and their storage, and requests to whichever host is up."""

    azurite: Azurite
    env: dict[str, str]
    hosts: list[RunningHost] = field(default_factory=list)  # the live ones
    gone: list[RunningHost] = field(default_factory=list)  # killed, or died by themselves
    kills: int = 0
    deaths: int = 0  # hosts that exited by themselves (storage away stops a host)
    azurite_restarts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start_host(self) -> None:
        self.hosts.append(start_devhost(REPO, self.env, wait=False, lease=LEASE))

    def kill(self, rng: random.Random) -> bool:
        """SIGKILL one of the hosts that are up, and start another; False (nothing killed)
        while fewer than two are up, so the work never stops altogether."""
        with self.lock:
            hosts = list(self.hosts)
        up = [host for host in hosts if host.ready()]
        if len(up) < 2:
            return False
        victim = up[rng.randrange(len(up))]
        with self.lock:
            self.hosts.remove(victim)
            victim.stop(signal.SIGKILL)
            self.gone.append(victim)
            self.kills += 1
            self.start_host()
        return True

    def replace_dead(self) -> None:
        with self.lock:
            for host in [h for h in self.hosts if h.process.poll() is not None]:
                self.hosts.remove(host)
                self.gone.append(host)
                self.deaths += 1
                self.start_host()

    def restart_azurite(self) -> None:
        self.azurite.halt()
        self.azurite = self.azurite.restart()
        self.azurite_restarts += 1

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The first answer other than a 5xx from any live host, trying until the deadline
        (a host may die mid-request, or be starting, or find storage away)."""

        def attempt() -> requests.Response | None:
            with self.lock:
                hosts = list(self.hosts)
            for host in hosts:
                with contextlib.suppress(requests.RequestException):
                    answer = requests.request(method, f"{host.api}/{path}", timeout=10, **kwargs)
                    if answer.status_code < 500:
                        return answer
            return None

        return wait_until(attempt, timeout=120, interval=0.2, message=f"{method} {path}")

    def status(self, task_id: str) -> dict[str, Any]:
        answer = self.request("GET", f"tasks/{task_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert sum(body["counts"].values()) == body["total"], body
        return body

    def jobs(self, task_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": "1000"}
        while True:
            answer = self.request("GET", f"tasks/{task_id}/jobs", params=params)
            assert answer.status_code == 200, answer.text
            found += answer.json()["jobs"]
            continuation = answer.json()["continuation"]
            if not continuation:
                return found
            params["continuation"] = continuation

    def logs(self) -> str:
        return "\n".join(h.logs() for h in [*self.gone, *self.hosts])

    def depths(self) -> dict[str, int]:
        service = QueueServiceClient.from_connection_string(self.azurite.connection_string)
        return {
            name: service.get_queue_client(name).get_queue_properties().approximate_message_count
            or 0
            for name in all_queues()
            if name != EVENTS_QUEUE  # announcements for other apps: nobody of ours reads them
        }


@contextlib.contextmanager
def fleet_of(tmp_path: Path) -> Iterator[Fleet]:
    azurite = start_azurite(tmp_path / "azurite")  # on disk: a restart keeps everything
    storage = {"JobsStorage": azurite.connection_string,
               "AzureWebJobsStorage": azurite.connection_string}  # fmt: skip
    provision(storage)
    fleet = Fleet(azurite, {**storage, **SETTINGS_CHAOS})
    try:
        for _ in range(HOSTS):
            fleet.start_host()
        wait_until(lambda: all(h.ready() for h in fleet.hosts), timeout=180, message="the hosts")
        yield fleet
    finally:
        for host in fleet.hosts:
            host.stop(timeout=10)
        fleet.azurite.stop()
        for host in [*fleet.gone, *fleet.hosts]:
            host.log_path.unlink(missing_ok=True)


class Chaos(threading.Thread):
    """Kills a host every few seconds (and starts another), restarts Azurite once, and starts
    again any host that died by itself, until told to stop."""

    def __init__(self, fleet: Fleet) -> None:
        super().__init__(daemon=True)
        self.fleet = fleet
        self.rng = random.Random(SEED)
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            next_kill = time.monotonic() + self.rng.uniform(*KILL_EVERY)
            while not self.done.wait(0.25):
                self.fleet.replace_dead()
                if time.monotonic() < next_kill:
                    continue
                if not self.fleet.kill(self.rng):
                    continue
                if self.fleet.kills == AZURITE_RESTART_AFTER:
                    self.fleet.restart_azurite()
                next_kill = time.monotonic() + self.rng.uniform(*KILL_EVERY)
        except BaseException as error:
            self.error = error

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=60)
        if self.error is not None:
            raise self.error


def test_every_invariant_holds_with_hosts_killed_and_storage_restarted(tmp_path: Path) -> None:
    with fleet_of(tmp_path) as fleet:
        began = time.monotonic()

        def left() -> float:
            return max(1.0, began + DEADLINE - time.monotonic())

        items: dict[str, list[Any]] = {
            "echo": [{"n": i} for i in range(ECHO)],
            "flaky": [{"fail_times": fail_times(i)} for i in range(FLAKY)],
            "sleep": [{"seconds": 0.02}] * DOOMED,
        }
        tasks: dict[str, str] = {}
        for kind, batch in items.items():
            answer = fleet.request("POST", "tasks", json={"kind": kind, "items": batch},
                                   headers={"Idempotency-Key": f"chaos-{kind}"})  # fmt: skip
            assert answer.status_code == 202, answer.text
            tasks[kind] = answer.json()["task_id"]

        chaos = Chaos(fleet)
        chaos.start()
        try:
            wait_until(
                lambda: fleet.status(tasks["sleep"])["counts"]["completed"] >= DOOMED // 8,
                timeout=left(), interval=0.5, message="the doomed task's first jobs",
            )  # fmt: skip
            assert fleet.request("DELETE", f"tasks/{tasks['sleep']}").status_code == 202

            def flaky_ended() -> dict[str, Any] | None:
                found = fleet.status(tasks["flaky"])
                return found if found["status"] in FINISHED else None

            first_end = wait_until(flaky_ended, timeout=left(), interval=0.5,
                                   message="the flaky task's first end")  # fmt: skip
            failed_first = first_end["counts"]["failed"]
            retried = fleet.request("POST", f"tasks/{tasks['flaky']}/retry")
            assert retried.status_code == 202, retried.text
            assert retried.json()["requeued"] == failed_first

            def ended() -> dict[str, dict[str, Any]] | None:
                found = {kind: fleet.status(task_id) for kind, task_id in tasks.items()}
                if any(s["status"] not in FINISHED for s in found.values()):
                    return None
                again = found["flaky"]["finished_at"] != first_end["finished_at"]
                return found if again else None

            final = wait_until(ended, timeout=left(), interval=0.5, message="every end")
        finally:
            chaos.stop()
        ran_for = time.monotonic() - began
        assert fleet.azurite_restarts == 1, "the tasks ended before Azurite was restarted"

        # Whatever a dead host held comes back within the lease and finds its work done.
        fleet.replace_dead()
        wait_until(lambda: not any(fleet.depths().values()), timeout=120, interval=0.5,
                   message="every queue to empty")  # fmt: skip

        # An echo job fails only if its message was taken five times without an end (hosts
        # killed or dead while holding it): the host's limit, met under fire, never exceeded.
        assert final["echo"]["status"] in ("completed", "completed_with_failures")
        assert final["flaky"]["status"] == "completed_with_failures"
        assert final["sleep"]["status"] == "cancelled"
        duplicates: dict[str, int] = {}
        starts = Counter(STARTED.findall(fleet.logs()))
        for kind, task_id in tasks.items():
            status = fleet.status(task_id)
            jobs = fleet.jobs(task_id)
            total = len(items[kind])
            assert [job["index"] for job in jobs] == list(range(total))
            listed = Counter(job["status"] for job in jobs)
            assert {s: n for s, n in status["counts"].items() if n} == dict(listed), kind
            assert all(0 <= job["attempts"] <= HOST_MAX_ATTEMPTS for job in jobs), kind

            answer = fleet.request("GET", f"tasks/{task_id}/results")
            assert answer.status_code == 200, answer.text
            lines = [json.loads(line) for line in answer.text.splitlines()]
            assert [line["index"] for line in lines] == list(range(total)), kind
            assert [line["status"] for line in lines] == [job["status"] for job in jobs], kind

            needed = []
            for job, line, item in zip(jobs, lines, items[kind], strict=True):
                if job["status"] == "failed" and kind != "flaky":
                    assert job["error"] == POISONED, job
                if kind == "echo":
                    assert job["status"] in ("completed", "failed")
                    if job["status"] == "completed":
                        assert line["result"] == item
                    needed.append(1)
                elif kind == "flaky":
                    times = item["fail_times"]
                    if times >= HOST_MAX_ATTEMPTS:  # fails every attempt, in both rounds
                        assert job["status"] == "failed"
                        needed.append(2 * HOST_MAX_ATTEMPTS)
                    else:
                        assert job["status"] in ("completed", "failed")
                        needed.append(times + 1)
                    if job["status"] == "completed":
                        assert job["attempts"] > times  # the run that ended it could succeed
                        assert line["result"] == item
                else:
                    assert job["status"] in ("completed", "cancelled", "failed")
                    needed.append(0 if job["status"] == "cancelled" else 1)
            duplicates[kind] = sum(
                starts[(task_id, job["job_id"])] > n for job, n in zip(jobs, needed, strict=True)
            )

        total_jobs = ECHO + FLAKY + DOOMED
        twice = sum(duplicates.values())
        counted = {kind: final[kind]["counts"] for kind in tasks}
        print(
            f"\nchaos: {total_jobs} jobs {counted}, {fleet.kills} hosts killed, "
            f"{fleet.deaths} exited by themselves, Azurite restarted {fleet.azurite_restarts}x; "
            f"handlers started more than needed: {twice} jobs "
            f"({100 * twice / total_jobs:.2f} %: {duplicates}); "
            f"tasks ended after {ran_for:.0f} s"
        )
