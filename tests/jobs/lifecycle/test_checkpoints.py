"""Checkpoints and time limits on the in-memory twin: a job carries on from the state an earlier
attempt saved, keeps none once it has ended, and an attempt that runs past its kind's time limit
fails like any failed attempt, its late writes dropped."""

from __future__ import annotations

import json
import threading
import time

import pytest

from composition import Service
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus, JsonValue
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.kinds import Kinds
from jobs.kinds.base import JobContext, Kind
from jobs.kinds.testing.steps import StepFailed
from jobs.lifecycle.attempt import Attempt
from jobs.lifecycle.running import TimeLimitExceeded, run_job
from jobs.storage.payloads import INLINE_LIMIT


@pytest.fixture
def service() -> Service:
    return Service.in_memory(Settings(test_kinds=True, dispatch_window=32))


def one_job(service: Service, kind: str, item: JsonValue) -> str:
    task = submit(service, json.dumps({"kind": kind, "items": [item]}).encode()).task
    fan_out(service, task.task_id)
    return task.task_id


def result_of(service: Service, task_id: str) -> JsonValue:
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.status is JobStatus.COMPLETED, job
    return service.payloads.decode(job.result)


def test_a_job_resumes_after_the_last_step_its_failed_attempt_saved(service: Service) -> None:
    task_id = one_job(service, "steps", {"steps": 10, "seconds": 0, "fail_at": 6})
    with pytest.raises(StepFailed):
        run_job(service, "jobs", RunMessage(task_id, 0), 1)
    saved = service.table.get_job(task_id, 0)
    assert saved is not None
    assert service.payloads.decode(saved.checkpoint) == {"done": 6}
    assert saved.checkpoint_at is not None

    run_job(service, "jobs", RunMessage(task_id, 0), 2)

    assert result_of(service, task_id) == {"steps": 10, "resumed_at": 7}


def test_a_job_that_never_failed_starts_at_its_first_step(service: Service) -> None:
    task_id = one_job(service, "steps", {"steps": 3, "seconds": 0})
    run_job(service, "jobs", RunMessage(task_id, 0), 1)
    assert result_of(service, task_id) == {"steps": 3, "resumed_at": 1}


def test_an_ended_job_keeps_no_checkpoint(service: Service) -> None:
    task_id = one_job(service, "steps", {"steps": 4, "seconds": 0})
    run_job(service, "jobs", RunMessage(task_id, 0), 1)
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.checkpoint is None
    assert job.checkpoint_at is None


def test_a_large_checkpoint_is_kept_in_a_blob(service: Service) -> None:
    task_id = one_job(service, "echo", {"x": 1})
    claimed = service.lifecycle.start(RunMessage(task_id, 0), "jobs", 1)
    assert claimed is not None
    live = Attempt(service, claimed.job)
    big = {"text": "x" * (INLINE_LIMIT + 10)}
    live.checkpoint(big)
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.checkpoint is not None
    assert job.checkpoint.blob is not None
    assert service.payloads.decode(job.checkpoint) == big


def test_a_checkpoint_after_the_job_ended_elsewhere_is_dropped(service: Service) -> None:
    """A duplicate still running when another copy finished the job must not leave a
    checkpoint on the ended row (a retry of it would resume from it)."""
    task_id = one_job(service, "echo", {"x": 1})
    claimed = service.lifecycle.start(RunMessage(task_id, 0), "jobs", 1)
    assert claimed is not None
    late = Attempt(service, claimed.job)
    assert service.lifecycle.complete(claimed, {"x": 1})

    late.checkpoint({"done": 3})

    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.status is JobStatus.COMPLETED
    assert job.checkpoint is None


def test_a_checkpoint_survives_a_progress_report_moving_the_row(service: Service) -> None:
    task_id = one_job(service, "echo", {"x": 1})
    claimed = service.lifecycle.start(RunMessage(task_id, 0), "jobs", 1)
    assert claimed is not None
    live = Attempt(service, claimed.job)
    other = Attempt(service, claimed.job)  # a duplicate of the same attempt, reporting
    other.report(0.5, "half")
    live.checkpoint({"done": 1})
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert service.payloads.decode(job.checkpoint) == {"done": 1}


def test_an_attempt_past_its_time_limit_fails_and_its_late_writes_are_dropped(
    service: Service,
) -> None:
    release = threading.Event()
    wrote_late = threading.Event()

    def slow(item: JsonValue, context: JobContext) -> JsonValue:
        release.wait(10)
        context.checkpoint({"late": True})
        wrote_late.set()
        return {"late": True}

    kinds = dict(service.kinds)
    kinds["slow"] = Kind("slow", object, slow, test_only=True, timeout=0.2)
    service.kinds = Kinds(kinds, service.kinds.context)
    task_id = one_job(service, "slow", {})

    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded, match=r"time limit of kind 'slow' \(0.2 s\)"):
        run_job(service, "jobs", RunMessage(task_id, 0), 1)
    assert time.monotonic() - started < 5

    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.status is JobStatus.IN_PROGRESS  # the host retries it like any failed attempt
    assert job.error is not None
    assert "time limit" in job.error
    release.set()
    assert wrote_late.wait(10)
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert job.checkpoint is None
    assert job.status is JobStatus.IN_PROGRESS


def test_a_kind_time_limit_must_fit_the_hosts_function_timeout() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Kind("x", object, lambda item, context: None, timeout=601)
    with pytest.raises(ValueError, match="timeout"):
        Kind("x", object, lambda item, context: None, timeout=0)
