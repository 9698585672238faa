"""Retry policies (``@app.retry``): run a failed invocation again, in the host, after a delay.

The worker sends the policy with the function's metadata (Azure/azure-functions-python-worker
``azure_functions_worker/loader.py`` ``build_retry_protos``: ``fixed_delay`` with
``delay_interval``, otherwise ``minimum_interval``/``maximum_interval``, each whole seconds).
The host checks it (Azure/azure-functions-host ``src/WebJobs.Script/Utility.cs``
``ValidateRetryOptions``) and the job host runs it (Azure/azure-webjobs-sdk
``src/Microsoft.Azure.WebJobs.Host/Executors/FunctionExecutorExtensions.cs`` ``TryExecuteAsync``):
after a failure, unless the attempt count has reached ``maxRetryCount`` (``-1``: no limit), it
logs the wait, waits and runs the function again with ``retry_count`` one higher; when the
count is reached it logs "Function execution failed after '<n>' retries." and the invocation
fails. Each attempt is an invocation of its own (its own id and log lines). Stopping the host
ends the wait ("Invocation cancelled - exiting retry loop.").

Delays: ``FixedDelayRetryAttribute`` waits ``delayInterval`` every time;
``ExponentialBackoffRetryAttribute`` uses ``Timers/RandomizedExponentialBackoffStrategy.cs``:
the first wait is the minimum, each next one the minimum plus uniform(0.8, 1.2) x 2^(n-1) x the
minimum, held at the maximum once reached.

Triggers whose binding lacks ``[SupportsRetry]`` (HTTP, queues) keep the policy but get a
warning at indexing (``Indexers/FunctionIndexer.cs`` ``CheckRetrySupport``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devhost.listening import Backoff

SUPPORTS_RETRY = ("timerTrigger",)


@dataclass(frozen=True)
class RetryPolicy:
    strategy: str
    max_retry_count: int
    delay: float = 0.0
    minimum: float = 0.0
    maximum: float = 0.0

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RetryPolicy:
        """The worker's retry options, checked as ``ValidateRetryOptions`` checks them."""
        strategy = str(options.get("strategy") or "")
        count = options.get("max_retry_count")
        if count is None:
            raise ValueError("Value cannot be null. (Parameter 'MaxRetryCount')")
        if int(count) < -1:
            raise ValueError("Specified argument was out of the range of valid values. "
                             "(Parameter 'maxRetryCount')")  # fmt: skip
        if strategy == "fixed_delay":
            return cls(strategy, int(count), delay=float(options.get("delay_interval") or 0))
        minimum = float(options.get("minimum_interval") or 0)
        maximum = float(options.get("maximum_interval") or 0)
        if minimum > maximum:
            raise ValueError(
                "The minimumInterval must not be greater than the maximumInterval. "
                "(Parameter 'minimumInterval')"
            )
        return cls(strategy, int(count), minimum=minimum, maximum=maximum)

    def delays(self) -> Delays:
        return Delays(self)


class Delays:
    """The waits of one invocation's retries (the strategy's state lives per invocation): the
    exponential strategy is the listeners' backoff, failing every time."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._backoff = Backoff(policy.maximum, policy.minimum)

    def next(self) -> float:
        if self.policy.strategy == "fixed_delay":
            return self.policy.delay
        return self._backoff.next_delay(False)


def span(seconds: float) -> str:
    """A .NET ``TimeSpan.ToString()``: ``hh:mm:ss`` with a seven-digit fraction when needed."""
    whole = int(seconds)
    text = f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    ticks = round((seconds - whole) * 10_000_000)
    return f"{text}.{ticks:07d}" if ticks else text
