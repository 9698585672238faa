"""Retrying a large task's failed jobs answers at once and runs each job once more, through
the dispatch window like new ones, with exact counts."""

from __future__ import annotations

import json
import time
import uuid

from composition import Service
from harness.azurite import REPO
from harness.polling import wait_until
from jobs.core.clock import utcnow
from jobs.core.models import Job, JobStatus, Payload, Setup, Task
from jobs.core.settings import COUNTER_SHARDS
from jobs.storage import Write
from jobs.storage.keys import shard_key
from tests.e2e.conftest import SETTINGS, Api

FAILED = 5000
WINDOW = int(SETTINGS["JOBS_DISPATCH_WINDOW"])
# A finishing job sends its successor before the host deletes its own message, so the queue
# may also hold the messages the host has in flight: batchSize + newBatchThreshold.
QUEUES = json.loads((REPO / "host.json").read_text())["extensions"]["queues"]
IN_FLIGHT = QUEUES["batchSize"] + QUEUES["newBatchThreshold"]


def seed_failed_task(service: Service, total: int) -> str:
    """A dispatched echo task whose every job failed after five attempts, written directly
    (running 5,000 failures through the host first would take minutes)."""
    task_id, now = str(uuid.uuid4()), utcnow()
    task = Task(task_id, "echo", "jobs", total, WINDOW, now, now, "seeded", Setup.DISPATCHED)
    service.table.create_task(task)
    jobs = [
        Job(task_id, index, "echo", status=JobStatus.FAILED, attempts=5, error="seeded failure",
            item=Payload(text=json.dumps(index)), next_sent=True, updated_at=now)
        for index in range(total)
    ]  # fmt: skip
    for start in range(0, total, 100):
        service.table.create_jobs(task_id, jobs[start : start + 100])
    shards = [
        Write("create", shard_key(s), {"Failed": len(range(s, total, COUNTER_SHARDS))})
        for s in range(COUNTER_SHARDS)
    ]
    service.table.store.transact(task_id, shards)
    return task_id


def test_a_retry_of_5000_failed_jobs_answers_at_once_and_reruns_each_job_once(api: Api) -> None:
    service = Service.from_env({"JobsStorage": api.azurite.connection_string})
    task_id = seed_failed_task(service, FAILED)
    assert api.status(task_id)["counts"]["failed"] == FAILED

    started = time.monotonic()
    answer = api.post(f"tasks/{task_id}/retry")
    elapsed = time.monotonic() - started
    assert answer.status_code == 202
    assert answer.json() == {"requeued": FAILED}
    assert elapsed < 1.0, f"the retry took {elapsed:.2f}s to answer"
    assert api.post(f"tasks/{task_id}/retry").json() == {"requeued": FAILED}  # a no-op repeat

    queue = api.queues().get_queue_client("jobs")
    deepest = 0

    def finished() -> bool:
        nonlocal deepest
        depth = queue.get_queue_properties().approximate_message_count or 0
        deepest = max(deepest, depth)
        return bool(api.status(task_id)["status"] != "running")  # counts add up at every poll

    wait_until(finished, timeout=900, interval=0.5, message="the retried task to finish")
    status = api.status(task_id)
    assert status["status"] == "completed"
    assert status["counts"]["completed"] == FAILED
    assert deepest <= WINDOW + IN_FLIGHT, f"{deepest} messages queued at once"
    jobs = list(service.table.jobs(task_id))
    assert {(job.status, job.generation) for job in jobs} == {(JobStatus.COMPLETED, 1)}
    # Each job's new generation ran from one message; on a loaded machine the host may retry
    # an attempt whose storage call timed out, which raises its count, never its generation.
    assert all(1 <= job.attempts <= 5 for job in jobs)
