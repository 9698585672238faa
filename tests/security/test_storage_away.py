"""With storage away, every route says so within seconds (503, a JSON error, Retry-After);
when it comes back the service carries on by itself and nothing accepted is lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.azurite import REPO, Azurite, start_azurite
from harness.localhost import RunningHost, start_devhost
from harness.polling import wait_until
from jobs.storage.provision import provision
from tests.e2e.conftest import SETTINGS

TASK = "5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[list[Azurite], RunningHost]]:
    azurite = [start_azurite(tmp_path / "azurite")]
    env = {"JobsStorage": azurite[0].connection_string,
           "AzureWebJobsStorage": azurite[0].connection_string}  # fmt: skip
    provision(env)
    host = start_devhost(REPO, {**env, **SETTINGS})
    yield azurite, host
    host.stop()
    azurite[-1].stop()


def test_with_storage_away_routes_answer_503_fast_and_the_task_completes_after(
    stack: tuple[list[Azurite], RunningHost],
) -> None:
    azurite, host = stack
    api = host.api
    submitted = requests.post(
        f"{api}/tasks", json={"kind": "sleep", "items": [{"seconds": 0.2}] * 30}, timeout=30
    )
    assert submitted.status_code == 202
    task_id = submitted.json()["task_id"]
    wait_until(
        lambda: requests.get(f"{api}/tasks/{task_id}", timeout=30).json()["counts"]["completed"],
        message="the first jobs to complete",
    )

    azurite[0].halt()
    calls: list[tuple[str, str, Any]] = [
        ("POST", "tasks", {"kind": "echo", "items": [1]}),
        ("GET", f"tasks/{task_id}", None),
        ("GET", f"tasks/{task_id}/jobs", None),
        ("DELETE", f"tasks/{TASK}", None),
        ("POST", f"tasks/{task_id}/retry", None),
    ]
    for method, path, body in calls:
        started = time.monotonic()
        answer = requests.request(method, f"{api}/{path}", json=body, timeout=30)
        elapsed = time.monotonic() - started
        assert answer.status_code == 503, (path, answer.status_code, answer.text)
        assert answer.json()["error"]
        assert int(answer.headers["Retry-After"]) > 0
        assert elapsed < 10, f"{method} {path} took {elapsed:.1f}s"
    assert requests.get(f"{api}/health", timeout=30).status_code == 503

    azurite.append(azurite[0].restart())
    status = wait_until(
        lambda: (
            (s := requests.get(f"{api}/tasks/{task_id}", timeout=30)).status_code == 200
            and s.json()["status"] != "running"
            and s.json()
        ),
        timeout=300,
        interval=0.5,
        message="the task to finish after storage came back",
    )
    assert status["status"] == "completed"
    assert status["counts"] == {
        "pending": 0, "in_progress": 0, "completed": 30, "failed": 0, "cancelled": 0,
    }  # fmt: skip
