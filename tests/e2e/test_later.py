"""Later, again, and not forever, through the local host: delayed tasks, recurring schedules
(with two hosts on one storage), a kind's own attempts, purge and retention."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from composition import Service
from harness.azurite import REPO
from harness.localhost import start_devhost
from harness.polling import wait_until
from jobs.core.resources import (
    INPUTS_CONTAINER,
    JOBS_TABLE,
    OUTPUTS_CONTAINER,
    PAYLOADS_CONTAINER,
    SMALL_QUEUE,
)
from jobs.task_end import retention
from tests.e2e.conftest import SETTINGS, Api

SCHEDULE = "e2e-every-3s"


def wait_ended(api: Api, task_id: str, timeout: float = 90) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        found = api.status(task_id)
        return None if found["status"] in ("running", "scheduled") else found

    return wait_until(
        ended,
        timeout=timeout,
        interval=0.2,
        message=f"task {task_id} to end",
    )


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- delayed tasks -----------------------------------------------------------------------


def test_a_delayed_task_is_scheduled_until_not_before_and_starts_after(api: Api) -> None:
    not_before = datetime.now(UTC) + timedelta(seconds=6)
    task_id = api.submit("echo", [1, 2, 3], not_before=not_before.isoformat())
    early = api.status(task_id)
    assert (early["status"], early["started_at"]) == ("scheduled", None)
    assert when(early["not_before"]) == not_before.replace(
        microsecond=not_before.microsecond // 1000 * 1000
    )
    done = wait_ended(api, task_id)
    assert done["status"] == "completed"
    assert when(done["started_at"]) >= not_before
    assert all(when(job["started_at"]) >= not_before for job in api.jobs(task_id))


def test_a_scheduled_task_can_be_cancelled_at_once(api: Api) -> None:
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    task_id = api.submit("echo", [1, 2], not_before=later)
    assert api.delete(f"tasks/{task_id}").status_code == 202
    done = wait_ended(api, task_id, timeout=30)
    assert (done["status"], done["counts"]["cancelled"]) == ("cancelled", 2)


@pytest.mark.parametrize(
    "not_before",
    ["soon", "2030-01-01T00:00:00", (datetime.now(UTC) + timedelta(days=8)).isoformat(),
     (datetime.now(UTC) - timedelta(minutes=5)).isoformat()],
)  # fmt: skip
def test_a_bad_not_before_is_a_422_naming_the_field(api: Api, not_before: str) -> None:
    response = api.post("tasks", json={"kind": "echo", "items": [1], "not_before": not_before})
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["details"]] == ["not_before"]


# -- schedules ---------------------------------------------------------------------------


def fired(api: Api, name: str) -> list[str]:
    """The fire time of every task the schedule submitted, as recorded on the task rows."""
    table = api.tables().get_table_client(JOBS_TABLE)
    prefix = f"schedule:{name}@"
    rows = table.query_entities(
        "RowKey eq 'task' and Source ge @low and Source lt @high",
        parameters={"low": prefix, "high": prefix + "~"},
        select=["Source"],
    )
    return sorted(row["Source"].removeprefix(prefix) for row in rows)


def timer_runs(logs: list[str]) -> int:
    return sum(text.count("Executed 'Functions.run_schedules'") for text in logs)


@pytest.fixture
def second_host(api: Api) -> Iterator[Any]:
    env = {
        "JobsStorage": api.azurite.connection_string,
        "AzureWebJobsStorage": api.azurite.connection_string,
    }
    host = start_devhost(REPO, {**env, **SETTINGS})
    yield host
    host.stop()


def test_a_schedule_submits_one_task_per_fire_time_with_two_hosts_and_stops_when_deleted(
    api: Api, second_host: Any
) -> None:
    url = api.url(f"schedules/{SCHEDULE}")
    body: dict[str, Any] = {
        "cron": "*/3 * * * * *",
        "kind": "echo",
        "items": [{"n": 1}],
        "metadata": {"a": 1},
    }
    try:
        saved = requests.put(url, json=body, timeout=30)
        assert saved.status_code == 200, saved.text
        assert saved.json()["next_run"] is not None
        times = wait_until(lambda: fired(api, SCHEDULE)[2:] and fired(api, SCHEDULE), timeout=60)
        assert len(times) == len(set(times)), times  # one task per fire time
        assert all(int(t[17:19]) % 3 == 0 for t in times), times
        document = api.get(f"schedules/{SCHEDULE}").json()
        assert document["last_task_id"] is not None
        assert document["last_run"] in fired(api, SCHEDULE)
        assert api.status(document["last_task_id"])["metadata"] == {"a": 1}
        assert SCHEDULE in [s["name"] for s in api.get("schedules").json()["schedules"]]
    finally:
        assert requests.delete(url, timeout=30).status_code == 204
    after = fired(api, SCHEDULE)
    assert len(after) == len(set(after))
    logs = [api.host.logs(), second_host.logs()]
    runs = timer_runs(logs)
    wait_until(lambda: timer_runs([api.host.logs(), second_host.logs()]) >= runs + 5, timeout=60)
    assert fired(api, SCHEDULE) == after  # no fire time since the delete
    assert api.get(f"schedules/{SCHEDULE}").status_code == 404


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("Bad_Name", {"cron": "* * * * * *", "kind": "echo", "items": [1]}, "name"),
        ("ok", {"cron": "every minute", "kind": "echo", "items": [1]}, "cron"),
        ("ok", {"cron": "0 * * * * *", "kind": "sleep", "items": [{"sec": 1}]}, "sec"),
    ],
)
def test_a_bad_schedule_is_a_422_naming_the_field(
    api: Api, name: str, body: dict[str, Any], field: str
) -> None:
    response = requests.put(api.url(f"schedules/{name}"), json=body, timeout=30)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["details"]]
    assert api.get("schedules/ok").status_code == 404


# -- a kind's own attempts ---------------------------------------------------------------


def test_a_kind_with_two_attempts_runs_exactly_twice(api: Api) -> None:
    task_id = api.submit("brittle", [{"message": "brittle"}])
    done = wait_ended(api, task_id)
    assert done["status"] == "completed_with_failures"
    [job] = api.jobs(task_id)
    assert (job["status"], job["attempts"]) == ("failed", 2)
    assert job["error"] == "AlwaysFails: brittle (attempt 2)"
    started = wait_until(
        lambda: (
            (n := api.host.logs().count(f"job_started queue={SMALL_QUEUE} task_id={task_id}")) >= 2
            and n
        ),
        message="both attempts in the log",
    )
    assert started == 2


# -- purge and retention -----------------------------------------------------------------


def leftovers(api: Api, task_id: str) -> dict[str, int]:
    """What storage still holds of the task: its rows, its key, its index row, its blobs."""
    table = api.tables().get_table_client(JOBS_TABLE)
    blobs = api.blobs()
    return {
        "rows": sum(1 for _ in table.query_entities(f"PartitionKey eq '{task_id}'")),
        "keys": sum(
            1
            for _ in table.query_entities(
                f"PartitionKey ge 'key-' and PartitionKey lt 'key.' and TaskId eq '{task_id}'"
            )
        ),
        "listed": sum(
            1
            for _ in table.query_entities(
                f"PartitionKey ge 'tasks-' and PartitionKey lt 'tasks.' and TaskId eq '{task_id}'"
            )
        ),
        "index": sum(
            1
            for _ in table.query_entities(f"PartitionKey ge 'retention-' and RowKey eq '{task_id}'")
        ),
        **{
            container: sum(
                1 for _ in blobs.get_container_client(container).list_blobs(f"{task_id}/")
            )
            for container in (PAYLOADS_CONTAINER, OUTPUTS_CONTAINER)
        },
    }


def gone(api: Api, task_id: str) -> bool:
    return not any(leftovers(api, task_id).values())


def test_a_purge_leaves_nothing_of_the_task_behind(api: Api) -> None:
    inputs = api.blobs().get_container_client(INPUTS_CONTAINER)
    inputs.upload_blob("purge.txt", b"purge me\n", overwrite=True)
    items = [{"container": INPUTS_CONTAINER, "blob": "purge.txt", "operation": "upper"}] * 3
    response = api.post(
        "tasks", json={"kind": "transform", "items": items}, headers={"Idempotency-Key": "purge-1"}
    )
    task_id = response.json()["task_id"]
    assert wait_ended(api, task_id)["status"] == "completed"
    wait_until(lambda: leftovers(api, task_id)["index"], message="its index row")
    held = leftovers(api, task_id)
    assert held["rows"] > 3
    assert held["keys"] == 1
    assert held["listed"] >= 1  # the task listing's index rows
    assert held[PAYLOADS_CONTAINER] >= 2
    assert held[OUTPUTS_CONTAINER] == 3

    assert api.delete(f"tasks/{task_id}", params={"purge": "true"}).status_code == 202
    wait_until(lambda: api.get(f"tasks/{task_id}").status_code == 404, message="a 404")
    wait_until(lambda: gone(api, task_id), message="nothing left")
    assert api.get(f"tasks/{task_id}/jobs").status_code == 404


def test_a_running_task_cannot_be_purged(api: Api) -> None:
    task_id = api.submit("sleep", [{"seconds": 2}])
    response = api.delete(f"tasks/{task_id}", params={"purge": "true"})
    assert response.status_code == 409, response.text
    assert wait_ended(api, task_id)["status"] == "completed"
    assert api.delete(f"tasks/{task_id}", params={"purge": "maybe"}).status_code == 400


def test_retention_with_zero_days_purges_finished_tasks_only(api: Api) -> None:
    finished = api.submit("echo", [1, 2])
    wait_ended(api, finished)
    wait_until(lambda: leftovers(api, finished)["index"], message="its index row")
    running = api.submit("sleep", [{"seconds": 6}])
    scheduled = api.submit(
        "echo", [1], not_before=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
    )
    wait_until(lambda: api.status(running)["counts"]["in_progress"], message="a running job")

    service = Service.from_env({"JobsStorage": api.azurite.connection_string})
    report = retention.run(service, days=0)
    assert finished in report.purging
    assert running not in report.purging
    assert scheduled not in report.purging
    for task_id in report.purging:  # every purge this run started (earlier tests' tasks too)
        wait_until(lambda: gone(api, task_id), message=f"{task_id} purged")  # noqa: B023
    assert api.status(running)["status"] in ("running", "completed")
    assert api.status(scheduled)["status"] == "scheduled"
    assert api.delete(f"tasks/{scheduled}").status_code == 202
