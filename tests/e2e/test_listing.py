"""GET /tasks and GET /stats over HTTP, through the local host on Azurite: the listing newest
first and paged, each task the same document as GET /tasks/{id}; filters that stay right while
tasks finish; strict parameters; and per-minute figures from the sampler's timer."""

from __future__ import annotations

from typing import Any

import pytest

from harness.polling import wait_until
from jobs.core.resources import JOBS_TABLE, LISTENED_QUEUES
from jobs.reads import task_index as listing_rows
from tests.e2e.conftest import Api


def listing(api: Api, **params: str) -> list[dict[str, Any]]:
    """Every page, followed to the end."""
    found: list[dict[str, Any]] = []
    continuation = None
    while True:
        query = {**params, **({"continuation": continuation} if continuation else {})}
        response = api.get("tasks", params=query)
        assert response.status_code == 200, response.text
        found += response.json()["tasks"]
        continuation = response.json()["continuation"]
        if not continuation:
            return found


def test_tasks_are_listed_newest_first_each_as_its_own_document(api: Api) -> None:
    made = [api.submit("echo", [n]) for n in range(4)]
    for task_id in made:
        api.wait_finished(task_id)

    page = api.get("tasks", params={"limit": "3"}).json()
    assert len(page["tasks"]) == 3
    assert page["continuation"]
    everything = listing(api, limit="3")
    ids = [task["task_id"] for task in everything]
    assert [ids.index(t) for t in reversed(made)] == sorted(ids.index(t) for t in made)
    for task in everything:
        if task["task_id"] in made:
            assert task == api.status(task["task_id"])


def test_the_state_filter_follows_tasks_as_they_finish(api: Api) -> None:
    running = api.submit("sleep", [{"seconds": 3}] * 100)
    done = api.submit("echo", [1, 2])
    failing = api.submit("fail", [{"permanent": True}])
    api.wait_finished(done)
    api.wait_finished(failing)

    def ids(state: str) -> set[str]:
        return {t["task_id"] for t in listing(api, state=state)}

    assert running in ids("running")
    assert done in ids("completed")
    assert failing in ids("completed_with_failures")
    assert not {done, failing} & ids("running")
    assert running not in ids("completed") | ids("cancelled")
    assert all(t["status"] == "running" for t in listing(api, state="running"))

    assert api.delete(f"tasks/{running}").status_code == 202
    wait_until(
        lambda: running in ids("cancelled"), timeout=60, message="the task listed as cancelled"
    )
    assert running not in ids("running")
    assert {t["kind"] for t in listing(api, kind="fail")} == {"fail"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "finished"}, "state"),
        ({"kind": "unknown"}, "kind"),
        ({"limit": "1000"}, "limit"),
        ({"continuation": "garbage"}, "continuation"),
    ],
)
def test_bad_listing_parameters_are_400_naming_the_field(
    api: Api, params: dict[str, str], field: str
) -> None:
    response = api.get("tasks", params=params)
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["details"]] == [field]


def test_stats_count_jobs_per_minute_without_a_write_on_their_path(api: Api) -> None:
    def last_hour() -> tuple[int, int]:
        minutes = api.get("stats").json()["per_minute"]
        assert len(minutes) == 60
        return sum(m["completed"] for m in minutes), sum(m["failed"] for m in minutes)

    before = last_hour()
    task_id = api.submit("fail", [{"permanent": True}] * 3 + [{"message": "x", "permanent": True}])
    other = api.submit("echo", list(range(7)))
    api.wait_finished(task_id)
    api.wait_finished(other)

    wait_until(
        lambda: (now := last_hour())[0] >= before[0] + 7 and now[1] >= before[1] + 4,
        timeout=30,
        message="the sampler to count both tasks",
    )
    # Counted and finished: the sampler has retired both from the running tasks' rows.
    running_rows = api.tables().get_table_client(JOBS_TABLE)
    wait_until(
        lambda: (
            not list(
                running_rows.query_entities(
                    "PartitionKey eq @pk and ( TaskId eq @a or TaskId eq @b )",
                    parameters={"pk": listing_rows.RUNNING, "a": task_id, "b": other},
                )
            )
        ),
        timeout=30,
        message="the finished tasks to leave the running partition",
    )
    stats = api.get("stats").json()
    assert {q["queue"] for q in stats["queues"]} == set(LISTENED_QUEUES)
    assert all(q["depth"] >= 0 and q["poison"] >= 0 for q in stats["queues"])
    assert stats["running_tasks"] >= 0
