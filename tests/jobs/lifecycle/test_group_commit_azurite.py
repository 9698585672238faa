"""Group commit on Azurite, where each write takes real time and groups form as they do in a
worker: duplicates of every message, two workers, one task."""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

from composition import Service
from harness.azurite import Azurite
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.lifecycle.running import run_job
from jobs.reads.tasks import status
from jobs.storage.provision import provision

QUEUE = "jobs"


def test_two_workers_with_every_message_three_times_count_every_job_once(
    azurite: Azurite,
) -> None:
    """Every message of a task comes three times, in random order, to 32 threads of two
    workers (each with its own group commit and kept shards): whatever groups formed (a
    duplicate's start before or after the job's finish, in one group or across groups, a
    group that lost to the other worker), each job ends Completed and counts once."""
    env = {"JobsStorage": azurite.connection_string, "JOBS_TEST_KINDS": "true"}
    provision(env)
    workers = [Service.from_env(env) for _ in range(2)]
    total = 96
    body = json.dumps({"kind": "echo", "items": list(range(total))}).encode()
    task_id = submit(workers[0], body).task.task_id
    fan_out(workers[0], task_id)
    messages = [RunMessage(task_id, i) for i in range(total) for _ in range(3)]
    random.Random(7).shuffle(messages)

    def deliver(number: int) -> None:
        run_job(workers[number % 2], QUEUE, messages[number], delivered=1 + number % 3)

    with ThreadPoolExecutor(32) as pool:
        for future in [pool.submit(deliver, n) for n in range(len(messages))]:
            future.result(120)

    counts = status(workers[0], task_id).counts
    assert counts == {
        JobStatus.PENDING: 0, JobStatus.IN_PROGRESS: 0, JobStatus.COMPLETED: total,
        JobStatus.FAILED: 0, JobStatus.CANCELLED: 0,
    }  # fmt: skip
    assert {job.status for job in workers[0].table.jobs(task_id)} == {JobStatus.COMPLETED}
