"""kill -9 of the host just after a task's last job finishes still ends in exactly one
delivery of its webhook, by the next host. (Whatever message the dead host held comes back
only after its 10-minute invisibility, as with the real host: this test may wait that long.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from harness.azurite import REPO, Azurite, start_azurite
from harness.localhost import start_devhost
from harness.polling import wait_until
from jobs.storage.provision import provision
from tests.e2e.conftest import SETTINGS
from tests.e2e.test_notifications import Receiver, receiver, verified

__all__ = ["receiver"]


@pytest.fixture
def own_azurite() -> Iterator[Azurite]:
    server = start_azurite()
    yield server
    server.stop()


def test_kill_9_just_after_the_last_job_still_ends_in_one_delivery(
    own_azurite: Azurite, receiver: Receiver
) -> None:
    env = {
        "JobsStorage": own_azurite.connection_string,
        "AzureWebJobsStorage": own_azurite.connection_string,
    }
    provision(env)
    first = start_devhost(REPO, {**env, **SETTINGS})
    api = first.api
    body: dict[str, Any] = {
        "kind": "sleep",
        "items": [{"seconds": 0.5}] * 3,
        "callback_url": receiver.url,
    }
    task_id = requests.post(f"{api}/tasks", json=body, timeout=30).json()["task_id"]
    wait_until(
        lambda: requests.get(f"{api}/tasks/{task_id}", timeout=30).json()["status"] != "running",
        timeout=60,
        interval=0.02,
        message="the last job to finish",
    )
    first.kill()  # SIGKILL: nothing in it gets to finish

    second = start_devhost(REPO, {**env, **SETTINGS})
    try:
        status = wait_until(
            lambda: (
                (s := requests.get(f"{second.api}/tasks/{task_id}", timeout=30).json())[
                    "notification"
                ]
                and s["notification"]["state"] == "delivered"
                and s
            ),
            timeout=800,
            interval=0.5,
            message="the webhook to be delivered by the next host",
        )
    finally:
        second.stop()
    assert status["status"] == "completed"
    assert len(receiver.posts) == 1
    assert verified(*receiver.posts[0])
