"""The fan-out against real Azurite: it resumes after a crash and never duplicates a job."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from azure.storage.queue import QueueClient

from composition import Service
from harness.azurite import Azurite
from jobs.core.models import Job, Setup
from jobs.dispatch import fanout
from jobs.dispatch.submit import submit
from jobs.storage.provision import provision


@pytest.fixture
def service(azurite: Azurite) -> Service:
    env = {"JobsStorage": azurite.connection_string, "JOBS_DISPATCH_WINDOW": "32"}
    provision(env)
    return Service.from_env(env)


class Crash(Exception):
    pass


def test_a_fan_out_that_dies_half_way_resumes_without_duplicate_jobs(
    service: Service, monkeypatch: pytest.MonkeyPatch, azurite: Azurite
) -> None:
    queue = QueueClient.from_connection_string(azurite.connection_string, "jobs-long")
    queue.clear_messages()
    task = submit(
        service,
        json.dumps({"kind": "echo", "items": list(range(750)), "queue": "jobs-long"}).encode(),
    ).task

    written = 0
    real_create = fanout._create

    def dies_after_three(service: Service, task_id: str, chunk: Sequence[Job]) -> None:
        nonlocal written
        if written >= 3:
            raise Crash
        written += 1
        real_create(service, task_id, chunk)

    monkeypatch.setattr(fanout, "_create", dies_after_three)
    monkeypatch.setattr(fanout, "PARALLEL_WRITES", 1)
    with pytest.raises(Crash):
        fanout.fan_out(service, task.task_id)
    assert service.table.get_task(task.task_id).setup is Setup.ACCEPTED  # type: ignore[union-attr]
    assert len(list(service.table.jobs(task.task_id))) == 300
    assert queue.get_queue_properties().approximate_message_count == 0

    monkeypatch.setattr(fanout, "_create", real_create)
    fanout.fan_out(service, task.task_id)
    fanout.fan_out(service, task.task_id)  # a redelivered message: no-op

    jobs = list(service.table.jobs(task.task_id, with_values=True))
    assert [job.index for job in jobs] == list(range(750))
    assert [service.payloads.decode(job.item) for job in jobs] == list(range(750))
    assert jobs[0].next_index == 32
    assert jobs[-1].next_index is None
    assert service.table.get_task(task.task_id).setup is Setup.DISPATCHED  # type: ignore[union-attr]
    assert queue.get_queue_properties().approximate_message_count == 32  # the first window


def test_values_too_large_for_a_table_property_go_to_a_blob(service: Service) -> None:
    big = {"text": "é" * 40_000}
    task = submit(service, json.dumps({"kind": "echo", "items": [big, 1]}).encode()).task
    fanout.fan_out(service, task.task_id)

    job = service.table.get_job(task.task_id, 0)
    assert job is not None
    assert service.payloads.decode(job.item) == big
    raw = service.table.store.get(task.task_id, "job-00000000")
    assert raw is not None
    assert "JobDetail" not in raw.props
    assert raw.props["JobDetailBlob"].endswith("/jobdetail/00000000.json")
