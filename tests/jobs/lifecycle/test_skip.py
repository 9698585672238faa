"""A skip racing a complete, on the in-memory twin: a cancelled task's job whose message
reappears while its first run completes is counted once, and the task ends once."""

from __future__ import annotations

import pytest

from composition import Service
from jobs.control.cancel import request_cancel
from jobs.core.messages import CancelMessage, RunMessage
from jobs.core.models import JobStatus
from jobs.reads.tasks import status
from jobs.storage.memory import MemoryTableStore
from tests.jobs.conftest import make_service
from tests.jobs.lifecycle.test_writer import QUEUE, Interfering, control, moving, new_task


@pytest.fixture
def table() -> Interfering:
    return Interfering(MemoryTableStore())


@pytest.fixture
def service(table: Interfering) -> Service:
    return make_service(table)


def test_holds_a_skip_racing_a_complete_counts_the_job_once(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", ["a"])
    lifecycle = service.lifecycle
    claim = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    assert claim is not None
    request_cancel(service, task_id)

    def duplicate() -> None:  # the message reappears while the handler runs
        assert lifecycle.start(RunMessage(task_id, 0), QUEUE, 2) is None  # skipped

    table.before(moving(JobStatus.COMPLETED, 0), duplicate)
    assert lifecycle.complete(claim, "a") is False

    summary = status(service, task_id)
    assert summary.counts[JobStatus.CANCELLED] == 1
    assert sum(summary.counts.values()) == 1
    assert service.table.get_task(task_id).completion.number == 1  # type: ignore[union-attr]
    assert [m for m in control(service) if isinstance(m, CancelMessage)] == [CancelMessage(task_id)]
