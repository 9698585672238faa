"""A poison message the sweep cannot read, or keeps failing on, is set aside where people can
see it; it never stops the sweep from failing the jobs behind it."""

from __future__ import annotations

import base64
import json

from azure.storage.queue import QueueClient

from composition import Service
from harness.polling import wait_until
from jobs.control.sweep import MAX_TRIES, sweep
from jobs.core.messages import RunMessage
from jobs.core.models import JobStatus
from jobs.core.resources import all_queues, poison_queue, unreadable_queue
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import status
from jobs.storage import Write
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore
from tests.e2e.conftest import Api


def test_a_garbage_poison_message_does_not_stop_the_sweep(api: Api) -> None:
    connection = api.azurite.connection_string
    raw = QueueClient.from_connection_string(connection, poison_queue("jobs"))
    # What the host copies as it is when a body is not base64 (text Azure Storage accepts:
    # no control characters, which it refuses and Azurite stores but then cannot return).
    raw.send_message("%%% not base64, {not json ÿ")
    task_id = api.submit("fail", [{"message": "always"}])

    assert api.wait_finished(task_id)["counts"]["failed"] == 1
    aside = QueueClient.from_connection_string(connection, unreadable_queue("jobs"))
    wait_until(
        lambda: (aside.get_queue_properties().approximate_message_count or 0) >= 1,
        message="the garbage to be set aside",
    )
    assert (raw.get_queue_properties().approximate_message_count or 0) == 0


def test_a_message_the_sweep_keeps_failing_on_is_set_aside_after_its_tries() -> None:
    clock = [0.0]
    queues = MemoryQueueStore(all_queues(), clock=lambda: clock[0])
    tables = MemoryTableStore()
    service = Service.over(Settings(dispatch_window=32), tables, queues, MemoryBlobStore())
    task = submit(service, json.dumps({"kind": "echo", "items": [1, 2]}).encode()).task
    fan_out(service, task.task_id)
    # Job 0's row is corrupt: handling its poison message raises, every time.
    tables.transact(task.task_id, [Write("merge", "job-00000000", {"Status": "Bogus"})])
    for index in (0, 1):
        text = RunMessage(task.task_id, index).to_json()
        queues.send(poison_queue("jobs"), base64.b64encode(text.encode()).decode())

    reports = []
    for _ in range(MAX_TRIES):
        reports.append(sweep(service))
        clock[0] += 120  # past the poison message's hiding time

    assert reports[0].failed == 1  # job 1 at once, behind the bad one
    assert sum(r.set_aside for r in reports) == 1  # job 0's message, after its tries
    assert queues.depth(poison_queue("jobs")) == 0
    assert queues.depth(unreadable_queue("jobs")) == 1
    assert status(service, task.task_id).counts[JobStatus.FAILED] == 1
