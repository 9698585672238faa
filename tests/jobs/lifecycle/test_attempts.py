"""Per-kind attempts on the in-memory twin: a kind with fewer attempts than the host's fails its
job at its last attempt, error kept, instead of leaving the message to be retried."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from composition import Service
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus, TaskStatus
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.kinds.base import HOST_MAX_ATTEMPTS, Kind
from jobs.kinds.testing.fail import AlwaysFails, FailInput, fail
from jobs.lifecycle.running import run_job
from jobs.reads.tasks import status

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def service() -> Service:
    return Service.in_memory(Settings(test_kinds=True, dispatch_window=32))


def one_job(service: Service, kind: str) -> str:
    task = submit(service, json.dumps({"kind": kind, "items": [{}]}).encode()).task
    fan_out(service, task.task_id)
    return task.task_id


def test_the_host_attempts_match_host_json() -> None:
    host = json.loads((REPO / "host.json").read_text())
    assert host["extensions"]["queues"]["maxDequeueCount"] == HOST_MAX_ATTEMPTS


def test_echo_and_transform_keep_the_hosts_attempts(service: Service) -> None:
    assert service.kinds["echo"].max_attempts == HOST_MAX_ATTEMPTS
    assert service.kinds["transform"].max_attempts == HOST_MAX_ATTEMPTS
    assert service.kinds["brittle"].max_attempts == 2


def test_a_brittle_job_is_retried_before_its_last_attempt(service: Service) -> None:
    task_id = one_job(service, "brittle")
    with pytest.raises(AlwaysFails):
        run_job(service, "jobs", RunMessage(task_id, 0), 1)
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.status is JobStatus.IN_PROGRESS
    assert job.error is not None
    assert "attempt 1" in job.error


def test_a_brittle_job_fails_for_good_at_its_last_attempt(service: Service) -> None:
    task_id = one_job(service, "brittle")
    with pytest.raises(AlwaysFails):
        run_job(service, "jobs", RunMessage(task_id, 0), 1)
    run_job(service, "jobs", RunMessage(task_id, 0), 2)  # returns: the host deletes the message
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert job.attempts == 2
    assert job.error is not None
    assert "attempt 2" in job.error
    assert status(service, task_id).status is TaskStatus.COMPLETED_WITH_FAILURES


def test_a_fail_job_is_still_retried_and_poisoned_by_the_host(service: Service) -> None:
    task_id = one_job(service, "fail")
    for attempt in (1, 2, 4, HOST_MAX_ATTEMPTS):  # the last goes to poison, as ever
        with pytest.raises(AlwaysFails):
            run_job(service, "jobs", RunMessage(task_id, 0), attempt)
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.status is JobStatus.IN_PROGRESS


@pytest.mark.parametrize("attempts", [0, HOST_MAX_ATTEMPTS + 1])
def test_a_kind_cannot_ask_for_more_attempts_than_the_host_gives(attempts: int) -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        Kind("greedy", FailInput, fail, max_attempts=attempts)
