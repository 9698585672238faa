"""A submit's priority: checked, stored on the task row, and picking the task's lane of the
default queue; the small lane is normal work."""

from __future__ import annotations

import json
from typing import Any

import pytest

from composition import Service
from jobs.core.errors import InvalidBody
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.queue_choice import job_queue
from jobs.dispatch.submit import submit


@pytest.fixture
def service() -> Service:
    return Service.in_memory(Settings(test_kinds=True, dispatch_window=32))


def submitted(service: Service, items: int, **extra: Any) -> str:
    body = json.dumps({"kind": "echo", "items": list(range(items)), **extra}).encode()
    task_id = submit(service, body).task.task_id
    fan_out(service, task_id)
    return task_id


@pytest.mark.parametrize(
    ("priority", "items", "lane"),
    [("high", 3, "jobs-high"), ("high", 500, "jobs-high"), ("low", 3, "jobs-low"),
     ("low", 500, "jobs-low"), ("normal", 3, "jobs-small"), (None, 500, "jobs")],
)  # fmt: skip
def test_priority_picks_the_lane_before_size(
    service: Service, priority: str | None, items: int, lane: str
) -> None:
    extra = {} if priority is None else {"priority": priority}
    task_id = submitted(service, items, **extra)
    task = service.table.get_task(task_id)
    assert task is not None
    assert task.priority == (priority or "normal")
    assert job_queue(task) == lane
    assert service.queues.depth(lane) == min(items, 32)


@pytest.mark.parametrize("value", ["urgent", "HIGH", 1, None, ""])
def test_a_bad_priority_is_refused_naming_the_field(service: Service, value: object) -> None:
    body = json.dumps({"kind": "echo", "items": [1], "priority": value}).encode()
    if value is None:  # null is the default
        assert submit(service, body).task.priority == "normal"
        return
    with pytest.raises(InvalidBody) as refused:
        submit(service, body)
    assert [p.field for p in refused.value.problems] == ["priority"]


def test_only_the_default_queue_has_priorities(service: Service) -> None:
    body = {"kind": "echo", "items": [1], "queue": "jobs-long"}
    with pytest.raises(InvalidBody) as refused:
        submit(service, json.dumps({**body, "priority": "high"}).encode())
    assert [p.field for p in refused.value.problems] == ["priority"]
    assert "jobs-long" in refused.value.problems[0].message
    task = submit(service, json.dumps({**body, "priority": "normal"}).encode()).task
    assert job_queue(task) == "jobs-long"
