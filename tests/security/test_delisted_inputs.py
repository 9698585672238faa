"""An item is checked against the input policy again before each run: a job whose container
was delisted after the task was accepted fails at once, permanently, and reads nothing."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from composition import Service
from harness.azurite import Azurite
from jobs.control.handlers import handle
from jobs.core.models import JobStatus
from jobs.core.resources import INPUTS_CONTAINER, OUTPUTS_CONTAINER
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import jobs_page, status
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore
from tests.e2e.conftest import Api

RETIRED = "retired-inputs"
BOTH = (INPUTS_CONTAINER, RETIRED)


def _body(items: list[dict[str, Any]]) -> bytes:
    return json.dumps({"kind": "transform", "items": items}).encode()


def _run_long_queue(service: Service) -> None:
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    while batch := store.receive("jobs-long", 32, timedelta(minutes=10)):
        for received in batch:
            handle(service, "jobs-long", base64.b64decode(received.text).decode(), 1)
            store.delete("jobs-long", received.id, received.receipt)


def test_a_job_whose_container_was_delisted_before_it_ran_fails_permanently_on_the_twin() -> None:
    then = Service.in_memory(Settings(input_containers=BOTH))
    for container in BOTH:
        then.payloads.store.put(container, "in.txt", b"hello\n")
    items = [
        {"container": INPUTS_CONTAINER, "blob": "in.txt", "operation": "upper"},
        {"container": RETIRED, "blob": "in.txt", "operation": "upper"},
    ]
    task = submit(then, _body(items)).task  # accepted while both were listed
    # The same storage, now run by workers whose setting lists only job-inputs.
    now = Service.over(Settings(), then.table.store, then.queues.store, then.payloads.store)
    fan_out(now, task.task_id)

    _run_long_queue(now)

    counts = status(now, task.task_id).counts
    assert (counts[JobStatus.COMPLETED], counts[JobStatus.FAILED]) == (1, 1)
    jobs = jobs_page(now, task.task_id, None, 10, None).jobs
    assert jobs[1].status is JobStatus.FAILED
    assert jobs[1].attempts == 1
    assert jobs[1].error is not None
    assert "container" in jobs[1].error
    assert f"{RETIRED!r} is not an input container" in jobs[1].error
    blobs = now.payloads.store
    assert isinstance(blobs, MemoryBlobStore)
    assert blobs.names(OUTPUTS_CONTAINER) == [f"{task.task_id}/{jobs[0].job_id}.txt"]


def test_a_job_whose_container_was_delisted_fails_permanently_on_the_host(
    guarded: Api, own_azurite: Azurite
) -> None:
    guarded.blobs().get_container_client(RETIRED).create_container()
    guarded.blobs().get_blob_client(RETIRED, "in.txt").upload_blob(b"secret\n")
    # Accepted by an API whose setting still listed the container (as the host was configured
    # before the change); the guarded host, which lists only job-inputs, runs it.
    then = Service.from_env(
        {"JobsStorage": own_azurite.connection_string, "JOBS_INPUT_CONTAINERS": ",".join(BOTH)}
    )
    items = [{"container": RETIRED, "blob": "in.txt", "operation": "upper"}]
    task_id = submit(then, _body(items)).task.task_id

    finished = guarded.wait_finished(task_id)

    assert finished["status"] == "completed_with_failures"
    [job] = guarded.jobs(task_id)
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert f"{RETIRED!r} is not an input container" in job["error"]
    outputs = guarded.blobs().get_container_client(OUTPUTS_CONTAINER)
    assert [blob.name for blob in outputs.list_blobs(name_starts_with=task_id)] == []
