"""The poison sweep against real Azurite: idempotent, concurrent-safe, never stuck."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from composition import Service
from harness.azurite import Azurite
from jobs.control.sweep import sweep
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage.provision import provision


def test_two_sweeps_at_once_and_a_repeat_leave_each_job_failed_once(azurite: Azurite) -> None:
    env = {"JobsStorage": azurite.connection_string}
    provision(env)
    service = Service.from_env(env)
    task = submit(service, json.dumps({"kind": "echo", "items": list(range(40))}).encode()).task
    fan_out(service, task.task_id)  # what the control queue's function does
    poison = QueueClient.from_connection_string(
        azurite.connection_string, "jobs-poison", message_encode_policy=TextBase64EncodePolicy()
    )
    # Each job's message poisoned twice (a crash-loop can do that), plus two that are not ours.
    for _ in range(2):
        for index in range(40):
            poison.send_message(RunMessage(task.task_id, index).to_json())
    raw = QueueClient.from_connection_string(azurite.connection_string, "jobs-poison")
    raw.send_message("not base64, not ours")
    raw.send_message("eyJub3QiOiAib3VycyJ9")  # base64 of JSON that is not ours

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: sweep(service), range(2)))
    again = sweep(service)

    assert sum(report.failed for report in reports) == 40
    assert again.failed == 0
    assert poison.get_queue_properties().approximate_message_count == 0
    summary = status(service, task.task_id)
    assert summary.counts[JobStatus.FAILED] == 40
    assert sum(summary.counts.values()) == 40
    jobs = list(service.table.jobs(task.task_id))
    assert {job.status for job in jobs} == {JobStatus.FAILED}
    assert all(job.error for job in jobs)
