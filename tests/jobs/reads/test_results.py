"""A finished task's results on the in-memory twin: inline when small and a link when large,
the same answer whether or not its end's follow-up has written the results file yet."""

from __future__ import annotations

import json
from typing import Any

import pytest

from composition import Service
from jobs.core.resources import PAYLOADS_CONTAINER, all_queues
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads import tasks
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore
from jobs.storage.payloads import results_path
from jobs.task_end import completion
from tests.jobs.lifecycle.test_writer import run_queue
from tests.jobs.task_end.test_completion import finished

INLINE = 200  # bytes: three echo lines fit, ten do not


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> Service:
    monkeypatch.setattr(tasks, "RESULTS_INLINE_BYTES", INLINE)
    settings = Settings(test_kinds=True, dispatch_window=32)
    return Service.over(
        settings, MemoryTableStore(), MemoryQueueStore(all_queues()), MemoryBlobStore()
    )


def ended(service: Service, items: list[Any]) -> str:
    """A task whose jobs have all ended; its end's follow-up has not run."""
    task_id = submit(service, json.dumps({"kind": "echo", "items": items}).encode()).task.task_id
    fan_out(service, task_id)
    run_queue(service)
    assert tasks.status(service, task_id).status.finished
    return task_id


def results_file(service: Service, task_id: str) -> bytes | None:
    return service.payloads.store.get(PAYLOADS_CONTAINER, results_path(task_id, 1))


def test_large_results_are_a_link_even_before_the_follow_up_writes_the_file(
    service: Service,
) -> None:
    task_id = ended(service, list(range(10)))
    assert results_file(service, task_id) is None

    found = tasks.results(service, task_id)

    assert found.lines is None
    assert found.link is not None
    written = results_file(service, task_id)
    assert written is not None
    assert len(written) > INLINE
    [message] = finished(service)
    completion.follow_up(service, message)  # the follow-up finds the file there
    assert results_file(service, task_id) == written
    assert tasks.results(service, task_id).link == found.link


def test_small_results_are_the_same_bytes_before_and_after_the_file_is_written(
    service: Service,
) -> None:
    task_id = ended(service, [1, 2, 3])

    before = tasks.results(service, task_id)
    assert before.lines is not None
    early = b"".join(before.lines)
    [message] = finished(service)
    completion.follow_up(service, message)

    after = tasks.results(service, task_id)
    assert after.lines is not None
    assert early == b"".join(after.lines) == results_file(service, task_id)
    assert [json.loads(line)["result"] for line in early.splitlines()] == [1, 2, 3]
