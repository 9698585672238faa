"""Limits per kind and priorities end to end: two local hosts on one Azurite of their own (the
limits hold across instances), driven through HTTP. Bounds, not speeds: the benchmark
(bench/limits.py) measures how close to its limits a kind runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from harness.azurite import REPO, start_azurite
from harness.localhost import RunningHost, start_devhost
from harness.polling import wait_until
from jobs.core.resources import poison_queue
from tests.e2e.conftest import SETTINGS, Api, start_api


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[Api, RunningHost]]:
    """The service on two hosts over one Azurite: ``Api`` talks to the first."""
    storage = start_azurite()
    try:
        first = start_api(storage, SETTINGS)
        env = {"JobsStorage": storage.connection_string,
               "AzureWebJobsStorage": storage.connection_string}  # fmt: skip
        second = start_devhost(REPO, {**env, **SETTINGS})
        try:
            yield first, second
        finally:
            second.stop()
            first.host.stop()
    finally:
        storage.stop()


def logs(hosts: tuple[Api, RunningHost]) -> str:
    return hosts[0].host.logs() + hosts[1].logs()


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def peak_running(jobs: list[dict[str, Any]]) -> int:
    """The most jobs whose [start, end] overlap: each starts after its slot was taken and ends
    before it is given back."""
    moments = sorted(
        [(seconds(job["started_at"]), 1) for job in jobs]
        + [(seconds(job["updated_at"]), -1) for job in jobs]
    )
    running = peak = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    return peak


def assert_held_back_and_never_counted(
    hosts: tuple[Api, RunningHost], task_id: str, reason: str
) -> list[dict[str, Any]]:
    api = hosts[0]
    jobs = api.jobs(task_id)
    assert Counter(job["status"] for job in jobs) == {"completed": len(jobs)}
    # Held back, by both hosts' logs, and never once counted as an attempt.
    held = [line for line in logs(hosts).splitlines()
            if "JobEvent job_held " in line and f"task_id={task_id}" in line]  # fmt: skip
    assert held
    assert all(f"reason={reason}" in line for line in held)
    assert {job["attempts"] for job in jobs} == {1}
    # Nothing went to the poison queue of the task's lane (small tasks run on jobs-small).
    poison = api.queues().get_queue_client(poison_queue("jobs-small"))
    assert (poison.get_queue_properties().approximate_message_count or 0) == 0
    return jobs


def test_a_gated_kind_never_runs_more_than_eight_jobs_at_once(
    hosts: tuple[Api, RunningHost],
) -> None:
    api = hosts[0]
    task_id = api.submit("gated", [{"seconds": 0.5}] * 64)  # far more than 8 taken at once
    assert api.wait_finished(task_id, timeout=120)["status"] == "completed"
    jobs = assert_held_back_and_never_counted(hosts, task_id, "concurrency")
    assert 2 <= peak_running(jobs) <= 8


def test_a_paced_kind_starts_at_most_twenty_jobs_a_second(hosts: tuple[Api, RunningHost]) -> None:
    api = hosts[0]
    task_id = api.submit("paced", list(range(70)))
    assert api.wait_finished(task_id, timeout=120)["status"] == "completed"
    jobs = assert_held_back_and_never_counted(hosts, task_id, "rate")
    starts = sorted(seconds(job["started_at"]) for job in jobs)
    # 70 starts at 20 a second take four seconds at least; a start is stamped a moment after
    # its second's count, so a second's stamps may hold a few counted at the end of the last.
    assert starts[-1] - starts[0] >= 2.9
    per_second = Counter(int(start) for start in starts)
    assert max(per_second.values()) <= 24, per_second


def test_high_work_ends_before_the_normal_work_it_was_queued_behind_and_low_work_ends(
    hosts: tuple[Api, RunningHost],
) -> None:
    api = hosts[0]
    normal = api.submit("echo", list(range(400)))
    wait_until(lambda: api.status(normal)["counts"]["completed"] > 0, timeout=60,
               message="the normal task to be running")  # fmt: skip
    low = api.submit("echo", list(range(10)), priority="low")
    high = api.submit("echo", list(range(30)), priority="high")
    assert api.status(high)["priority"] == "high"

    ended_high = api.wait_finished(high, timeout=120)
    assert api.status(normal)["status"] == "running"  # high ended first
    ended_normal = api.wait_finished(normal, timeout=180)
    assert ended_high["finished_at"] < ended_normal["finished_at"]
    assert ended_high["status"] == ended_normal["status"] == "completed"
    # Low work is held back while normal work waits, but never starved, never charged.
    assert api.wait_finished(low, timeout=180)["status"] == "completed"
    assert {job["attempts"] for job in api.jobs(low)} == {1}
    assert "reason=priority" in logs(hosts)
