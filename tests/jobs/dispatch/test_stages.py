"""A submit's ``then``, checked at submit (and when a schedule is saved) with the field named,
and stored on the task as the rest of its chain."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from composition import Service
from jobs.core.errors import InvalidBody
from jobs.core.settings import Settings
from jobs.dispatch import submit
from jobs.dispatch.stages import MAX_STAGES
from jobs.schedules import definitions, firing


@pytest.fixture
def service() -> Service:
    return Service.in_memory(Settings(test_kinds=True, dispatch_window=32))


def body(then: Any) -> bytes:
    return json.dumps({"kind": "echo", "items": [1, 2], "then": then}).encode()


def chain(depth: int) -> dict[str, Any]:
    stage: dict[str, Any] = {"kind": "echo", "over": "each"}
    for _ in range(depth - 1):
        stage = {"kind": "echo", "over": "each", "then": stage}
    return stage


@pytest.mark.parametrize(
    ("then", "field", "message"),
    [
        ({"kind": "nope", "over": "each"}, "then.kind", "unknown kind"),
        ({"kind": "echo", "over": "each", "then": {"kind": "nope", "over": "all"}},
         "then.then.kind", "unknown kind"),
        ({"kind": "echo", "over": "some"}, "then.over", "'each' or 'all'"),
        ({"kind": "echo", "over": "all", "when": "sometimes"}, "then.when",
         "'completed' or 'finished'"),
        ({"kind": "echo"}, "then.over", "Field required"),
        ({"over": "each"}, "then.kind", "Field required"),
        ({"kind": "echo", "over": "each", "colour": "red"}, "then.colour", "Extra inputs"),
        ({"kind": "echo", "over": "each", "queue": "elsewhere"}, "then.queue", "unknown queue"),
        ({"kind": "echo", "over": "each", "then": {"kind": "echo", "over": "each", "queue": 3}},
         "then.then.queue", "valid string"),
        ("echo", "then", "an object"),
        (chain(MAX_STAGES + 1), "then" + ".then" * MAX_STAGES, f"at most {MAX_STAGES} stages"),
    ],
)  # fmt: skip
def test_a_bad_stage_is_refused_naming_its_field(
    service: Service, then: Any, field: str, message: str
) -> None:
    with pytest.raises(InvalidBody) as refused:
        submit.validate(service, body(then))

    [problem] = refused.value.problems
    assert problem.field == field
    assert message in problem.message


def test_a_chain_as_deep_as_allowed_is_stored_on_the_task_as_given(service: Service) -> None:
    then = chain(MAX_STAGES)

    task = submit.submit(service, body(then)).task

    stored = service.table.get_task(task.task_id)
    assert stored is not None
    assert stored.previous is None
    assert json.loads(stored.then or "") == _with_defaults(then)


def _with_defaults(stage: dict[str, Any]) -> dict[str, Any]:
    inner = stage.get("then")
    return {**stage, "when": "completed", **({"then": _with_defaults(inner)} if inner else {})}


def test_a_schedule_checks_its_stage_and_its_tasks_carry_it(service: Service) -> None:
    schedule = {"cron": "0 0 * * * *", "kind": "echo", "items": [1]}
    bad = {**schedule, "then": {"kind": "echo", "over": "each", "then": {"kind": "x"}}}
    with pytest.raises(InvalidBody) as refused:
        definitions.save(service, "chained", json.dumps(bad).encode())
    assert {p.field for p in refused.value.problems} == {"then.then.over"}

    then = {"kind": "collect", "over": "all", "when": "finished"}
    saved = definitions.save(service, "chained", json.dumps({**schedule, "then": then}).encode())
    assert saved.batch["then"] == then

    fired = firing.fire(service, saved, datetime.now(UTC))
    assert fired.task_id is not None
    task = service.table.get_task(fired.task_id)
    assert task is not None
    assert json.loads(task.then or "") == then
