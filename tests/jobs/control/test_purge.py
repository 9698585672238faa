"""Purge and retention on the in-memory twin: a finished task goes with every row and blob it
owns, in bounded steps that resume after a crash; a running one is refused; the retention run
reads its index and purges only finished tasks older than the cutoff."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from composition import Service
from jobs.control import purge
from jobs.control.handlers import handle
from jobs.control.retry import request_retry
from jobs.core.errors import Conflict, NotFound
from jobs.core.messages import PurgeMessage
from jobs.core.resources import (
    CONTROL_QUEUE,
    LISTENED_QUEUES,
    OUTPUTS_CONTAINER,
    PAYLOADS_CONTAINER,
)
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage import Write
from jobs.storage.memory import MemoryBlobStore, MemoryTableStore
from jobs.task_end import retention, retention_index
from tests.jobs.lifecycle.test_writer import control, run_queue


@pytest.fixture
def service() -> Service:
    return Service.in_memory(Settings(test_kinds=True, dispatch_window=32))


def run_all(service: Service) -> int:
    """Deliver every queue until all are quiet; how many messages."""
    delivered = 0
    while moved := sum(run_queue(service, q) for q in LISTENED_QUEUES):
        delivered += moved
    return delivered


def finished_task(service: Service, kind: str, items: list[Any], key: str | None = None) -> str:
    task = submit(service, json.dumps({"kind": kind, "items": items}).encode(), key).task
    fan_out(service, task.task_id)
    run_all(service)
    assert status(service, task.task_id).status.finished
    return task.task_id


def owned(service: Service, task_id: str) -> list[str]:
    """Every row and blob that names the task: its partition, its key, its index, its blobs."""
    tables, blobs = service.table.store, service.payloads.store
    assert isinstance(tables, MemoryTableStore)
    assert isinstance(blobs, MemoryBlobStore)
    found = [f"{e.partition}/{e.row}" for e in tables.query_partitions("", "~")
             if task_id in (e.partition, e.row, e.props.get("TaskId"))]  # fmt: skip
    for container in (PAYLOADS_CONTAINER, OUTPUTS_CONTAINER):
        found += [f"{container}/{n}" for n in blobs.names(container) if n.startswith(task_id)]
    return found


def test_a_finished_task_is_purged_with_everything_it_owns(service: Service) -> None:
    big = {"text": "x" * 40_000}  # item and result spill to blobs
    task_id = finished_task(service, "echo", [1, big, 3], key="k-1")
    other = finished_task(service, "echo", [1])
    before = owned(service, task_id)
    assert any(n.startswith("retention-") for n in before)
    assert any(n.startswith("key-") for n in before)
    assert sum(n.startswith(PAYLOADS_CONTAINER) for n in before) >= 4  # request, results, 2
    purge.request_purge(service, task_id)
    with pytest.raises(NotFound):  # gone at once for a caller
        status(service, task_id)
    run_all(service)
    assert owned(service, task_id) == []
    assert status(service, other).status.finished  # the other task keeps everything
    assert owned(service, other) != []
    again = submit(service, json.dumps({"kind": "echo", "items": [1, big, 3]}).encode(), "k-1")
    assert again.created  # the key was forgotten with its task


def test_a_running_task_cannot_be_purged(service: Service) -> None:
    task = submit(service, json.dumps({"kind": "echo", "items": [1]}).encode()).task
    with pytest.raises(Conflict):
        purge.request_purge(service, task.task_id)
    with pytest.raises(NotFound):
        purge.request_purge(service, "00000000-0000-0000-0000-000000000000")


def test_a_big_purge_goes_in_bounded_resumable_steps(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(purge, "MAX_STEP_ROWS", 30)
    monkeypatch.setattr(purge, "MAX_STEP_BLOBS", 2)
    task_id = finished_task(service, "echo", list(range(100)))
    rows = len(owned(service, task_id))
    purge.request_purge(service, task_id)
    steps = 0
    while [m for m in control(service) if isinstance(m, PurgeMessage)]:
        [step] = service.queues.store.receive(CONTROL_QUEUE, 1, timedelta(minutes=1))
        handle(service, CONTROL_QUEUE, base64.b64decode(step.text).decode(), 1)
        service.queues.store.delete(CONTROL_QUEUE, step.id, step.receipt)
        steps += 1
        assert service.table.get_task(task_id) is None or len(owned(service, task_id)) > 0
    assert steps >= rows // 30
    assert owned(service, task_id) == []


def test_a_purge_that_dies_midway_resumes_from_its_message(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = finished_task(service, "echo", list(range(40)))
    purge.request_purge(service, task_id)
    calls = {"n": 0}
    real = service.payloads.store.delete

    def dying(container: str, name: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the worker died")
        real(container, name)

    monkeypatch.setattr(service.payloads.store, "delete", dying)
    body = PurgeMessage(task_id).to_json()
    with pytest.raises(RuntimeError):
        handle(service, CONTROL_QUEUE, body, 1)
    assert service.table.get_task(task_id) is not None  # the task row goes last
    handle(service, CONTROL_QUEUE, body, 2)  # the host's redelivery
    assert owned(service, task_id) == []


def test_a_retry_after_the_purge_began_is_refused_and_resets_nothing(service: Service) -> None:
    task_id = finished_task(service, "fail", [{"permanent": True}])
    purge.request_purge(service, task_id)
    with pytest.raises(NotFound):
        request_retry(service, task_id)
    run_all(service)
    assert owned(service, task_id) == []


def test_retention_purges_only_finished_tasks_older_than_the_cutoff(service: Service) -> None:
    done = finished_task(service, "echo", [1, 2])
    running = submit(service, json.dumps({"kind": "echo", "items": [1]}).encode()).task.task_id
    assert retention.run(service, days=1).purging == []  # ended just now: kept
    report = retention.run(service, days=0, now=datetime.now(UTC) + timedelta(seconds=1))
    assert report.purging == [done]
    run_all(service)
    assert owned(service, done) == []
    assert status(service, running).status.finished  # ran meanwhile, never purged
    assert owned(service, running) != []


def test_retention_drops_index_rows_of_tasks_gone_or_ended_again(service: Service) -> None:
    task_id = finished_task(service, "echo", [1])
    task = service.table.get_task(task_id)
    assert task is not None
    now = datetime.now(UTC)
    old = (now - timedelta(days=3)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    service.table.store.transact(
        retention_index.partition(old),
        [Write("upsert", task_id, {"FinishedAt": old})],
    )
    report = retention.run(service, days=1, now=now)
    assert (report.purging, report.dropped) == ([], 1)  # its end is a later one
    assert list(retention_index.before(service.table, now - timedelta(days=1))) == []
    assert status(service, task_id).status.finished
