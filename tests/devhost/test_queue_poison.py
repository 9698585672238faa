"""Failures, retries and poisoning, against real Azurite and a real devhost process."""

from __future__ import annotations

import base64
import itertools

from harness.localhost import start_devhost
from harness.polling import wait_until
from tests.devhost.conftest import APPS, QueueApp

MAX_DEQUEUE = 3  # apps/queues/host.json


def test_always_failing_message_runs_max_dequeue_count_times_then_lands_in_poison(
    queue_app: QueueApp,
) -> None:
    body = "any text, even \u00e9\u4e2d\U0001f600".encode()
    queue_app.hosts.append(start_devhost(APPS / "queues", queue_app.env))
    queue_app.send("FAIL_QUEUE", body)

    poisoned = wait_until(
        lambda: queue_app.peek_all("FAIL_QUEUE", "-poison"), timeout=30, message="poison copy"
    )
    assert [base64.b64decode(p) for p in poisoned] == [body]
    runs = queue_app.records.of("always_fails")
    assert [r["dequeue_count"] for r in runs] == [1, 2, 3]
    assert all(r["body"] == body.decode("latin-1") for r in runs)
    assert queue_app.peek_all("FAIL_QUEUE") == []


def test_message_failing_twice_then_succeeding_runs_three_times_and_is_deleted(
    queue_app: QueueApp,
) -> None:
    host = start_devhost(APPS / "queues", queue_app.env)
    queue_app.hosts.append(host)
    queue_app.send("FLAKY_QUEUE", "hello")

    wait_until(lambda: "Executed 'Functions.flaky' (Succeeded" in host.logs(), timeout=30)
    wait_until(
        lambda: (
            queue_app.client("FLAKY_QUEUE").get_queue_properties().approximate_message_count == 0
        )
    )
    runs = queue_app.records.of("flaky")
    assert [r["dequeue_count"] for r in runs] == [1, 2, 3]
    assert queue_app.peek_all("FLAKY_QUEUE", "-poison") == []
    assert "flaky succeeded on attempt 3" in host.logs()
    assert host.stop() == 0


def test_non_base64_message_goes_to_poison_raw_without_invocation(queue_app: QueueApp) -> None:
    host = start_devhost(APPS / "queues", queue_app.env)
    queue_app.hosts.append(host)
    queue_app.send("FAIL_QUEUE", "not base64 at all!", raw=True)

    poisoned = wait_until(lambda: queue_app.peek_all("FAIL_QUEUE", "-poison"), timeout=20)
    assert poisoned == ["not base64 at all!"]
    assert queue_app.client("FAIL_QUEUE").get_queue_properties().approximate_message_count == 0
    assert queue_app.records.of("always_fails") == []
    assert "Executing 'Functions.always_fails'" not in host.logs()


def test_message_dequeued_too_often_goes_to_poison_without_invocation(
    queue_app: QueueApp,
) -> None:
    queue_app.send("FAIL_QUEUE", "left behind by crashes")
    client = queue_app.client("FAIL_QUEUE")
    for _ in range(MAX_DEQUEUE + 1):
        message = next(iter(client.receive_messages(visibility_timeout=30)))
        client.update_message(message, pop_receipt=message.pop_receipt, visibility_timeout=0)
    assert message.dequeue_count == MAX_DEQUEUE + 1

    queue_app.hosts.append(start_devhost(APPS / "queues", queue_app.env))
    poisoned = wait_until(lambda: queue_app.peek_all("FAIL_QUEUE", "-poison"), timeout=20)
    assert [base64.b64decode(p) for p in poisoned] == [b"left behind by crashes"]
    assert queue_app.records.of("always_fails") == []


def test_visibility_timeout_delays_the_retry(queue_app: QueueApp) -> None:
    env = {
        **queue_app.env,
        "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:02",
    }
    queue_app.hosts.append(start_devhost(APPS / "queues", env))
    queue_app.send("FLAKY_QUEUE", "retry me later")

    wait_until(lambda: len(queue_app.records.of("flaky")) >= 3, message="three attempts")
    runs = queue_app.records.of("flaky")
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(runs)]
    assert all(gap >= 1.9 for gap in gaps), gaps


def test_function_timeout_fails_the_invocation_restarts_the_worker_and_retries(
    queue_app: QueueApp,
) -> None:
    env = {
        **queue_app.env,
        "AzureFunctionsJobHost__functionTimeout": "00:00:02",
        "WORK_SECONDS": "20",
    }
    host = start_devhost(APPS / "queues", env)
    queue_app.hosts.append(host)
    queue_app.send("WORK_QUEUE", "too slow")

    poisoned = wait_until(lambda: queue_app.peek_all("WORK_QUEUE", "-poison"), timeout=40)
    assert [base64.b64decode(p) for p in poisoned] == [b"too slow"]
    logs = host.logs()
    assert "Timeout value of 00:00:02 was exceeded by function: Functions.work" in logs
    assert "A function timeout has occurred. Restarting worker process" in logs
    assert "Executed 'Functions.work' (Failed" in logs
    assert [r["dequeue_count"] for r in queue_app.records.of("work")] == [1, 2, 3]
    assert queue_app.records.of("work", phase="end") == []
    assert len({r["pid"] for r in queue_app.records.of("work")}) == 3  # a new worker each time
