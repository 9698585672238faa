"""A running job shows when its handler last saved a checkpoint; an ended one shows none."""

from __future__ import annotations

from typing import Any

from harness.polling import wait_until
from tests.e2e.conftest import Api


def test_a_running_job_shows_its_checkpoint_time_and_an_ended_one_none(api: Api) -> None:
    task_id = api.submit("steps", [{"steps": 6, "seconds": 0.5}])

    def checkpointed() -> dict[str, Any] | None:
        job: dict[str, Any] = api.get(f"tasks/{task_id}/jobs/00000000").json()
        return job if job["checkpoint_at"] else None

    running = wait_until(checkpointed, timeout=30, interval=0.1, message="a checkpoint")
    assert running["status"] == "in_progress"
    api.wait_finished(task_id, timeout=60)
    [ended] = api.jobs(task_id)
    assert ended["status"] == "completed"
    assert ended["checkpoint_at"] is None
