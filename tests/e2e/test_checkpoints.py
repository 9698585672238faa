"""A checkpoint survives kill -9 of the host: a 10-step job killed after its sixth step carries on
from there on the next host and runs only the steps it had not saved.

The real host leaves a message it was running invisible for 10 minutes after a crash, and then
delivers it again (docs/devhost.md). Rather than wait for that, the test sends the same message
again, as that redelivery would: the point is what the next attempt finds in storage."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from harness.azurite import REPO, Azurite, start_azurite
from harness.localhost import start_devhost
from harness.polling import wait_until
from jobs.core.resources import JOBS_TABLE, SMALL_QUEUE
from jobs.storage.provision import provision
from tests.e2e.conftest import SETTINGS, Api


@pytest.fixture
def own_azurite() -> Iterator[Azurite]:
    server = start_azurite()
    yield server
    server.stop()


def saved_step(api: Api, task_id: str) -> int:
    table = api.tables().get_table_client(JOBS_TABLE)
    row: dict[str, Any] = table.get_entity(task_id, "job-00000000")
    saved = row.get("Checkpoint") or ""
    return int(json.loads(saved)["done"]) if saved else 0


def test_a_job_killed_after_step_6_finishes_with_the_steps_it_had_not_saved(
    own_azurite: Azurite,
) -> None:
    env = {
        **SETTINGS,
        "JobsStorage": own_azurite.connection_string,
        "AzureWebJobsStorage": own_azurite.connection_string,
    }
    provision(env)
    first = Api(start_devhost(REPO, env), own_azurite)
    task_id = first.submit("steps", [{"steps": 10, "seconds": 0.3}])
    wait_until(
        lambda: saved_step(first, task_id) >= 6,
        timeout=60,
        interval=0.05,
        message="the job to save its sixth step",
    )
    first.host.kill()  # SIGKILL: the running attempt ends mid-step
    saved = saved_step(first, task_id)
    assert 6 <= saved < 10

    second = Api(start_devhost(REPO, env), own_azurite)
    try:
        run = {"op": "run", "task_id": task_id, "job_id": "00000000", "gen": 0}
        text = base64.b64encode(json.dumps(run).encode()).decode()
        second.queues().get_queue_client(SMALL_QUEUE).send_message(text)  # the redelivery
        finished = second.wait_finished(task_id, timeout=60)
        assert finished["status"] == "completed"
        [line] = second.get(f"tasks/{task_id}/results").text.splitlines()
        assert json.loads(line)["result"] == {"steps": 10, "resumed_at": saved + 1}
        job = second.get(f"tasks/{task_id}/jobs/00000000").json()
        assert job["status"] == "completed"
        assert saved_step(second, task_id) == 0  # the ended job keeps no checkpoint
    finally:
        second.host.stop()
