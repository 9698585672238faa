"""Queue depth samples against real Azurite: counts, the oldest waiting message's age, and the
log line the workbook and the alert parse."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from azure.storage.queue import QueueServiceClient

from composition import Service
from harness.azurite import Azurite
from jobs.core.resources import all_queues
from jobs.reads import queue_depth
from jobs.storage.provision import provision


@pytest.fixture
def service(azurite: Azurite) -> Service:
    env = {"JobsStorage": azurite.connection_string}
    provision(env)
    queues = QueueServiceClient.from_connection_string(azurite.connection_string)
    for name in all_queues():
        queues.get_queue_client(name).clear_messages()
    return Service.from_env(env)


def test_every_queue_is_sampled_and_empty_ones_read_zero(service: Service) -> None:
    samples = queue_depth.sample(service.queues)

    assert [s.queue for s in samples] == list(all_queues())
    assert {(s.depth, s.oldest_age_s) for s in samples} == {(0, 0)}


def test_depth_counts_messages_and_age_is_the_oldest_visible_ones(
    service: Service, azurite: Azurite
) -> None:
    queues = QueueServiceClient.from_connection_string(azurite.connection_string)
    jobs = queues.get_queue_client("jobs")
    first = jobs.send_message("first")
    jobs.send_message("second")
    queues.get_queue_client("jobs-long-poison").send_message("poisoned")
    assert first.inserted_on is not None

    samples = {
        s.queue: s
        for s in queue_depth.sample(service.queues, first.inserted_on + timedelta(seconds=90))
    }

    assert samples["jobs"] == queue_depth.DepthSample("jobs", 2, 90)
    assert samples["jobs-long-poison"].depth == 1
    assert samples["jobs-long-poison"].oldest_age_s in (89, 90)  # sent a moment after first
    assert samples["jobs-control"] == queue_depth.DepthSample("jobs-control", 0, 0)


def test_a_message_being_processed_counts_in_depth_but_not_as_waiting(
    service: Service, azurite: Azurite
) -> None:
    jobs = QueueServiceClient.from_connection_string(azurite.connection_string).get_queue_client(
        "jobs"
    )
    sent = jobs.send_message("running")
    assert sent.inserted_on is not None
    [received] = jobs.receive_messages(visibility_timeout=60, max_messages=1)

    [sample] = [
        s
        for s in queue_depth.sample(service.queues, sent.inserted_on + timedelta(minutes=5))
        if s.queue == "jobs"
    ]

    assert sample == queue_depth.DepthSample("jobs", 1, 0)
    jobs.delete_message(received)


def test_report_logs_each_busy_queue_alone_and_the_idle_ones_in_one_line(
    service: Service, azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    sent = (
        QueueServiceClient.from_connection_string(azurite.connection_string)
        .get_queue_client("jobs-control")
        .send_message("waiting")
    )
    assert sent.inserted_on is not None

    with caplog.at_level(logging.INFO, logger="jobs"):
        queue_depth.report(service, sent.inserted_on + timedelta(seconds=42))

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("JobEvent ")]
    idle = [q for q in all_queues() if q != "jobs-control"]
    assert lines == [
        f"JobEvent queue_depth queue={','.join(idle)} depth=0 oldest_age_s=0",
        "JobEvent queue_depth queue=jobs-control depth=1 oldest_age_s=42",
    ]


def test_an_idle_service_logs_one_line_a_sample_naming_every_queue(
    service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="jobs"):
        queue_depth.report(service)

    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("JobEvent ")]
    assert line == f"JobEvent queue_depth queue={','.join(all_queues())} depth=0 oldest_age_s=0"
