"""Two hosts on one queue, graceful stop on SIGTERM, and nothing lost on SIGKILL."""

from __future__ import annotations

import os
import signal
from collections import Counter

from harness.localhost import start_devhost
from harness.polling import wait_until
from tests.devhost.conftest import APPS, QueueApp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_hosts_never_share_a_message_and_run_each_once(queue_app: QueueApp) -> None:
    env = {**queue_app.env, "WORK_SECONDS": "0.3"}
    bodies = [f"message {i}" for i in range(30)]
    for body in bodies:
        queue_app.send("WORK_QUEUE", body)
    queue_app.hosts.extend(start_devhost(APPS / "queues", env) for _ in range(2))

    wait_until(
        lambda: len(queue_app.records.of("work", phase="end")) >= len(bodies),
        timeout=60,
        message="every message done",
    )
    wait_until(
        lambda: (
            queue_app.client("WORK_QUEUE").get_queue_properties().approximate_message_count == 0
        ),
        message="every message deleted",
    )
    starts = queue_app.records.of("work", phase="start")
    assert Counter(r["body"] for r in starts) == Counter(bodies)
    assert all(r["dequeue_count"] == 1 for r in starts)


def test_sigterm_lets_the_running_invocation_finish(queue_app: QueueApp) -> None:
    env = {**queue_app.env, "WORK_SECONDS": "3"}
    host = start_devhost(APPS / "queues", env)
    queue_app.hosts.append(host)
    queue_app.send("WORK_QUEUE", "finish me")
    wait_until(lambda: queue_app.records.of("work", phase="start"), message="invocation running")

    assert host.stop(signal.SIGTERM) == 0
    assert len(queue_app.records.of("work", phase="end")) == 1
    assert queue_app.client("WORK_QUEUE").get_queue_properties().approximate_message_count == 0
    assert "Executed 'Functions.work' (Succeeded" in host.logs()


def test_sigkill_mid_invocation_loses_nothing(queue_app: QueueApp) -> None:
    env = {**queue_app.env, "WORK_SECONDS": "60"}
    host = start_devhost(APPS / "queues", env)
    queue_app.hosts.append(host)
    queue_app.send("WORK_QUEUE", "survive me")
    started = wait_until(lambda: queue_app.records.of("work", phase="start"))

    host.kill()
    # The worker goes with its host, so the invocation cannot finish and delete the message.
    wait_until(lambda: not _alive(started[0]["pid"]), timeout=10, message="worker to die")
    client = queue_app.client("WORK_QUEUE")
    assert client.get_queue_properties().approximate_message_count == 1
    assert client.peek_messages() == []  # still invisible: it comes back after 10 minutes
    assert queue_app.records.of("work", phase="end") == []
