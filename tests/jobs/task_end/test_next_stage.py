"""Stages on the in-memory twin: a task's end submits its next stage exactly once, over its
results, whatever repeats or crashes; a stage that cannot be submitted is an error on the
earlier task; a retry's end is a new end."""

from __future__ import annotations

import json
from typing import Any

import pytest

from composition import Service
from jobs.control.cancel import request_cancel
from jobs.control.retry import request_retry
from jobs.core.errors import PermanentJobError
from jobs.core.messages import FinishedMessage
from jobs.core.models import Task
from jobs.core.resources import CONTROL_QUEUE, all_queues
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.kinds import JobContext, Kind, Kinds
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore
from jobs.task_end import completion, next_stage
from tests.jobs.conftest import crash, writes_task
from tests.jobs.lifecycle.test_writer import Crash, Interfering, control, run_queue

EACH = {"kind": "echo", "over": "each"}


@pytest.fixture
def table() -> Interfering:
    return Interfering(MemoryTableStore())


@pytest.fixture
def service(table: Interfering) -> Service:
    settings = Settings(test_kinds=True, dispatch_window=32)
    return Service.over(settings, table, MemoryQueueStore(all_queues()), MemoryBlobStore())


def new_task(service: Service, kind: str, items: list[Any], **extra: Any) -> str:
    body = json.dumps({"kind": kind, "items": items, **extra}).encode()
    task_id = submit(service, body).task.task_id
    fan_out(service, task_id)
    return task_id


def task(service: Service, task_id: str) -> Task:
    found = service.table.get_task(task_id)
    assert found is not None
    return found


def ended(service: Service, task_id: str) -> FinishedMessage:
    """Runs the task's jobs; the message that follows up its last end."""
    run_queue(service)
    number = task(service, task_id).completion.number
    assert number > 0
    return FinishedMessage(task_id, number)


def run_all(service: Service) -> None:
    """Every job and control message, stage after stage, until nothing is left."""
    while run_queue(service) + run_queue(service, CONTROL_QUEUE):
        pass


def tasks_after(service: Service, task_id: str) -> list[Task]:
    """Every task whose row says ``task_id``'s end submitted it."""
    store = service.table.store
    rows = store.query_partitions("0", "g")  # task ids are hex: no other family sorts there
    found = [service.table.get_task(e.partition) for e in rows if e.row == "task"]
    return [t for t in found if t is not None and t.previous == task_id]


def results(service: Service, task_id: str) -> list[Any]:
    number = task(service, task_id).completion.number
    chunks = service.payloads.read_results(task_id, number)
    assert chunks is not None
    return [json.loads(line)["result"] for line in b"".join(chunks).splitlines()]


def test_three_stages_each_run_over_the_results_of_the_one_before(service: Service) -> None:
    then = {**EACH, "then": {"kind": "collect", "over": "all"}}
    first = new_task(service, "echo", list(range(70)), then=then, metadata={"batch": 7})

    run_all(service)

    second = task(service, first).next_task
    assert second is not None
    third = task(service, second).next_task
    assert third is not None
    assert [task(service, t).total for t in (first, second, third)] == [70, 70, 1]
    assert [task(service, t).completion.status for t in (first, second, third)] == ["completed"] * 3
    assert task(service, second).previous == first
    assert task(service, third).previous == second
    assert task(service, third).next_task is None
    assert json.loads(task(service, second).then or "") == {
        "kind": "collect", "over": "all", "when": "completed",
    }  # fmt: skip
    assert task(service, third).then is None
    assert results(service, second) == list(range(70))
    assert results(service, third) == [{"previous": second, "count": 70, "sum": sum(range(70))}]
    assert {task(service, t).metadata for t in (first, second, third)} == {'{"batch":7}'}


def test_a_repeated_follow_up_submits_the_next_stage_once(service: Service) -> None:
    first = new_task(service, "echo", [1, 2, 3], then=EACH)
    message = ended(service, first)

    completion.follow_up(service, message)
    completion.follow_up(service, message)  # the host delivers it again

    [second] = tasks_after(service, first)
    assert task(service, first).next_task == second.task_id
    assert task(service, first).stage_for == 1


def test_a_crash_between_the_submit_and_its_record_submits_the_same_task_again(
    service: Service, table: Interfering
) -> None:
    first = new_task(service, "echo", [1, 2, 3], then=EACH)
    message = ended(service, first)
    table.before(writes_task("StageFor", 1), crash)

    with pytest.raises(Crash):
        completion.follow_up(service, message)
    [second] = tasks_after(service, first)  # submitted, not recorded
    assert task(service, first).next_task is None
    completion.follow_up(service, message)  # the message comes back

    assert tasks_after(service, first) == [second]
    assert task(service, first).next_task == second.task_id


def test_a_follow_up_of_an_older_end_does_not_overwrite_a_newer_ends_stage(
    service: Service, table: Interfering
) -> None:
    first = new_task(service, "echo", [1], then={**EACH, "when": "finished"})
    message = ended(service, first)
    later = "00000000-0000-4000-8000-000000000002"
    # A retry's end records its own stage between this follow-up's read and its record.
    table.before(
        writes_task("StageFor", 1),
        lambda: service.table.update_task(first, stage_for=2, next_task=later),
    )

    completion.follow_up(service, message)

    assert (task(service, first).stage_for, task(service, first).next_task) == (2, later)
    assert len(tasks_after(service, first)) == 1  # end 1's stage ran; only its record lost


def test_a_follow_up_finding_its_stage_recorded_submits_nothing(service: Service) -> None:
    first = new_task(service, "echo", [1], then=EACH)
    message = ended(service, first)
    service.table.update_task(first, stage_for=1, stage_error="recorded")

    next_stage.start(service, task(service, first), message.number)

    assert tasks_after(service, first) == []


def test_when_completed_starts_nothing_after_failures_and_finished_does(
    service: Service,
) -> None:
    items: list[Any] = [{"permanent": True}]
    strict = new_task(service, "fail", items, then={"kind": "echo", "over": "all"})
    lenient = new_task(
        service, "fail", items, then={"kind": "echo", "over": "all", "when": "finished"}
    )
    run_queue(service)
    for message in (FinishedMessage(strict, 1), FinishedMessage(lenient, 1)):
        completion.follow_up(service, message)

    assert task(service, strict).completion.status == "completed_with_failures"
    assert (task(service, strict).next_task, task(service, strict).stage_error) == (None, None)
    assert tasks_after(service, strict) == []
    assert task(service, lenient).next_task is not None


def test_finished_runs_the_next_stage_over_the_completed_jobs_only(service: Service) -> None:
    service.kinds = Kinds({**service.kinds, "odd": Kind("odd", int, _odd_only)}, {})
    first = new_task(
        service, "odd", [1, 2, 3, 4, 5], then={"kind": "echo", "over": "each", "when": "finished"}
    )

    run_all(service)

    second = task(service, first).next_task
    assert task(service, first).completion.status == "completed_with_failures"
    assert second is not None
    assert results(service, second) == [1, 3, 5]  # in item order, failed jobs skipped


def _odd_only(item: int, context: JobContext) -> int:
    if item % 2 == 0:
        raise PermanentJobError("even")
    return item


def test_a_retry_that_completes_the_task_starts_the_completed_stage_then(
    service: Service,
) -> None:
    broken = {"on": True}

    def mend(item: int, context: JobContext) -> int:
        if broken["on"] and item == 2:
            raise PermanentJobError("broken")
        return item * 10

    service.kinds = Kinds({**service.kinds, "mend": Kind("mend", int, mend)}, {})
    first = new_task(service, "mend", [1, 2, 3], then={"kind": "echo", "over": "each"})
    run_all(service)
    assert task(service, first).next_task is None  # the first end had a failure

    broken["on"] = False
    assert request_retry(service, first) == 1
    run_all(service)

    row = task(service, first)
    assert (row.completion.number, row.completion.status) == (2, "completed")
    assert row.next_task is not None
    assert row.stage_for == 2
    assert results(service, row.next_task) == [10, 20, 30]


def test_a_stage_whose_kind_is_gone_is_an_error_on_the_earlier_task(service: Service) -> None:
    first = new_task(service, "echo", [1, 2], then={"kind": "collect", "over": "all"})
    service.kinds = Kinds({k: v for k, v in service.kinds.items() if k != "collect"}, {})

    run_all(service)

    row = task(service, first)
    assert row.next_task is None
    assert row.stage_for == 1
    assert row.stage_error is not None
    assert row.stage_error.startswith("the next stage (collect, over all) was not submitted: ")
    assert "unknown kind 'collect'" in row.stage_error
    assert tasks_after(service, first) == []


def test_a_stage_whose_items_are_invalid_for_its_kind_names_the_item_and_field(
    service: Service,
) -> None:
    first = new_task(service, "echo", ["a", "b"], then={"kind": "collect", "over": "all"})

    run_all(service)

    error = task(service, first).stage_error
    assert error is not None
    assert "items are not valid for kind 'collect'" in error
    assert "item 0, results.0" in error


def test_an_all_stage_over_results_larger_than_an_item_may_be_is_an_error(
    table: Interfering,
) -> None:
    settings = Settings(test_kinds=True, dispatch_window=32, max_item_bytes=2000)
    service = Service.over(settings, table, MemoryQueueStore(all_queues()), MemoryBlobStore())
    first = new_task(service, "echo", ["x" * 100] * 30, then={"kind": "echo", "over": "all"})

    run_all(service)

    error = task(service, first).stage_error
    assert error is not None
    assert "over the size limit of 2000 bytes" in error


def test_an_each_stage_with_no_completed_job_is_an_error(service: Service) -> None:
    first = new_task(service, "fail", [{"permanent": True}], then={**EACH, "when": "finished"})

    run_all(service)

    assert task(service, first).stage_error == (
        "the next stage (echo, over each) was not submitted: no job completed, so there is "
        "nothing to run it over"
    )


def test_the_event_of_an_end_names_its_next_stage(service: Service) -> None:
    first = new_task(service, "echo", [1], then=EACH)
    completion.follow_up(service, ended(service, first))

    stored = service.payloads.get_event(first, 1)
    assert stored is not None
    event = json.loads(stored)
    assert event["next"] == task(service, first).next_task is not None
    assert event["then"] == {"kind": "echo", "over": "each", "when": "completed"}
    assert not [m for m in control(service) if isinstance(m, FinishedMessage) and m.number > 1]


def test_a_cancelled_task_starts_a_finished_stage_but_not_a_completed_one(
    service: Service,
) -> None:
    fan_in = {"kind": "echo", "over": "all"}
    lenient = new_task(service, "echo", [1, 2], then={**fan_in, "when": "finished"})
    strict = new_task(service, "echo", [1, 2], then=fan_in)
    for task_id in (lenient, strict):
        request_cancel(service, task_id)

    run_all(service)

    assert task(service, strict).completion.status == "cancelled"
    assert tasks_after(service, strict) == []
    [after] = tasks_after(service, lenient)
    assert results(service, after.task_id) == [
        {"previous": lenient, "status": "cancelled", "results": []}
    ]
