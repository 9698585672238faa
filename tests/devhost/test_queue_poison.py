"""Failures, retries and poisoning, against real Azurite and a real devhost process."""

from __future__ import annotations

import base64

from tests.devhost.conftest import APPS, QueueApp
from tests.support.devhost import start_devhost
from tests.support.polling import wait_until

MAX_DEQUEUE = 3  # apps/queues/host.json


def test_always_failing_message_runs_max_dequeue_count_times_then_lands_in_poison(
    queue_app: QueueApp,
) -> None:
    body = bytes(range(256)) + "é".encode()
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
