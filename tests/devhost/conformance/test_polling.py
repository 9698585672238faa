"""How often an idle queue is polled."""

from __future__ import annotations

import random

import pytest

from devhost.config import QueueOptions
from devhost.listening import Backoff

DEVELOPMENT = {"AZURE_FUNCTIONS_ENVIRONMENT": "Development"}


def test_backoff_follows_the_randomized_exponential_curve() -> None:
    """Azure/azure-sdk-for-net sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/
    src/Shared/Timers/RandomizedExponentialBackoffStrategy.cs, as QueueListener.cs builds it
    (minimum = delta = 100 ms, maximum = maxPollingInterval): 100 ms + uniform(0.8, 1.2) x
    2^(n-1) x 100 ms, capped; a found message resets it."""
    exact = Backoff(2.0, uniform=lambda low, high: 1.0)
    assert [round(exact.next_delay(False), 3) for _ in range(8)] == [
        0.1,  # the first empty poll, before any message
        0.2,
        0.3,
        0.5,
        0.9,
        1.7,
        2.0,  # 3.3 would pass the cap
        2.0,
    ]
    assert exact.next_delay(True) == 0.1
    assert round(exact.next_delay(False), 3) == 0.2  # exponent back at 1

    rng = random.Random(16)
    jittered = Backoff(60.0, uniform=rng.uniform)
    jittered.next_delay(False)
    for n in range(1, 9):
        delay = jittered.next_delay(False)
        step = 2 ** (n - 1) * 0.1
        assert 0.1 + 0.8 * step <= delay <= 0.1 + 1.2 * step


@pytest.mark.parametrize(
    ("configured", "environ", "expected"),
    [
        (None, DEVELOPMENT, 2.0),
        ("00:01:00", DEVELOPMENT, 2.0),  # equal to the default: replaced as well
        ("00:00:30", DEVELOPMENT, 30.0),
        ("00:05:00", DEVELOPMENT, 300.0),
        ("00:01:00", {}, 60.0),
        (None, {}, 60.0),
    ],
)
def test_development_replaces_only_the_one_minute_value(
    configured: str | None, environ: dict[str, str], expected: float
) -> None:
    """Azure/azure-sdk-for-net sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Queues/src/
    StorageQueuesWebJobsBuilderExtensions.cs: in Development a maxPollingInterval equal to
    QueuePollingIntervals.DefaultMaximum (1 min), set or not, becomes 2 s."""
    section = {} if configured is None else {"maxPollingInterval": configured}
    options = QueueOptions.from_host_json({"extensions": {"queues": section}}, environ, 1)
    assert options.max_polling_interval == expected
