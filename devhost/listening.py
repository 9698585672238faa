"""What the trigger listeners (devhost/queue_listener.py, devhost/timers.py) and the retry
policies (devhost/retries.py) share: the storage extensions' backoff curve, and a listener's one
background loop, started with the host and stopped with it.

The curve is Azure/azure-sdk-for-net ``sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.
Common/src/Shared/Timers/RandomizedExponentialBackoffStrategy.cs`` (the WebJobs SDK's
``ExponentialBackoffRetryAttribute`` uses the same one).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devhost.indexing import FunctionSpec
    from devhost.queue_processor import Fatal

MIN_POLL = 0.1


class Backoff:
    """``RandomizedExponentialBackoffStrategy`` with minimum = delta (100 ms by default).

    After a success the delay is the minimum and the exponent 1. Each failure (empty poll)
    below the cap gives minimum + uniform(0.8, 1.2) x 2^(n-1) x delta and raises the exponent;
    the first one, before any success, is the minimum itself. Once a delay would reach the
    maximum, it stays at the maximum until a success.
    """

    def __init__(
        self,
        maximum: float,
        minimum: float = MIN_POLL,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.delta = minimum
        self.uniform = uniform
        self.current = 0.0
        self.exponent = 0

    def next_delay(self, succeeded: bool) -> float:
        if succeeded:
            self.current = self.minimum
            self.exponent = 1
        elif self.current != self.maximum:
            delay = self.minimum
            if self.exponent > 0:
                delay += self.uniform(0.8, 1.2) * 2 ** (self.exponent - 1) * self.delta
            if delay < self.maximum:
                self.current = delay
                self.exponent += 1
            else:
                self.current = self.maximum
        return self.current


async def finish(task: asyncio.Task[None], *, cancel: bool = False) -> None:
    """Wait for ``task`` to end (cancelled first when ``cancel``); its cancellation is no error."""
    if cancel:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class ListenerLoop:
    """The listener of one function, ``spec``, as a background loop, ``_run``: ``start`` starts
    it, ``stop_receiving`` sets ``_stopping`` for it to see, ``wait_idle`` waits for it to end;
    the listener's ``close`` ends it with ``_end_loop``. ``fatal`` stops the host."""

    def __init__(self, spec: FunctionSpec, fatal: Fatal) -> None:
        self.spec = spec
        self.fatal = fatal
        self._stopping = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run())

    def stop_receiving(self) -> None:
        self._stopping.set()

    async def wait_idle(self) -> None:
        await self._end_loop(cancel=False)

    async def _end_loop(self, *, cancel: bool) -> None:
        if self._loop is not None:
            await finish(self._loop, cancel=cancel)
