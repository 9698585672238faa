"""Queue trigger listener: the polling loop of the storage extension's QueueListener.

From Azure/azure-sdk-for-net ``sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/
src/Shared/``:

* ``Queues/QueueListener.cs`` (``ExecuteAsync``): receive up to batchSize messages invisible for
  10 minutes; after a non-empty batch poll again once at most newBatchThreshold are in flight;
  back off on an empty queue, a missing one (it is never created), a queue being deleted or a
  5xx; any other storage error is unhandled and stops the host. Messages received when a stop
  begins are not processed and not handed back: they reappear after their invisibility.
* ``Timers/RandomizedExponentialBackoffStrategy.cs``: the backoff curve (devhost/listening.py).
* ``Queues/SharedQueueWatcher.cs`` (Azure/azure-webjobs-sdk has the same): a message added to
  a poison queue wakes that queue's listener at once instead of after its backoff.
"""

from __future__ import annotations

import asyncio

from azure.core.exceptions import HttpResponseError
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from devhost import logs
from devhost.config import QueueOptions
from devhost.indexing import FunctionSpec
from devhost.invoker import Invoker
from devhost.listening import Backoff, ListenerLoop
from devhost.queue_processor import Fatal, QueueProcessor, poison_queue_name

INVISIBILITY = 600


def transient(exc: HttpResponseError) -> bool:
    """Receive errors the listener backs off on rather than stopping the host."""
    code = str(getattr(exc, "error_code", "") or "")
    status = exc.status_code or 0
    return (
        (status == 404 and code == "QueueNotFound")
        or (status == 409 and code == "QueueBeingDeleted")
        or 500 <= status < 600
    )


class QueueWatcher:
    """Which listener polls which queue, so a poison copy can wake its listener."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[QueueListener]] = {}

    def register(self, queue: str, listener: QueueListener) -> None:
        self._listeners.setdefault(queue, []).append(listener)

    def notify(self, queue: str) -> None:
        for listener in self._listeners.get(queue, []):
            listener.notify()


class QueueListener(ListenerLoop):
    def __init__(
        self,
        spec: FunctionSpec,
        options: QueueOptions,
        invoker: Invoker,
        fatal: Fatal,
        watcher: QueueWatcher,
    ) -> None:
        super().__init__(spec, fatal)
        self.options = options
        self.queue_name = str(spec.properties["queueName"])
        assert spec.connection is not None
        self._service: QueueServiceClient = spec.connection.queue_service()
        self._client: QueueClient = self._service.get_queue_client(self.queue_name)
        poison = poison_queue_name(self.queue_name)
        self.processor = QueueProcessor(
            spec,
            options,
            invoker,
            self._client,
            self._service.get_queue_client(poison) if poison else None,
            fatal,
            watcher.notify,
        )
        watcher.register(self.queue_name, self)
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._slot = asyncio.Event()

    def notify(self) -> None:
        self._wake.set()

    async def _receive(self) -> list[QueueMessage]:
        batch = self.options.batch_size
        pager = self._client.receive_messages(
            messages_per_page=batch, visibility_timeout=INVISIBILITY, max_messages=batch
        )
        async for page in pager.by_page():
            return [message async for message in page]
        return []

    async def _run(self) -> None:
        backoff = Backoff(self.options.max_polling_interval)
        found_since_delay = False
        while not self._stopping.is_set():
            try:
                messages = await self._receive()
            except HttpResponseError as exc:
                if not transient(exc):
                    self._fail(exc)
                    return
                logs.HOST.warning("Queue '%s': receive failed: %s", self.queue_name, exc)
                messages = []
            except Exception as exc:
                self._fail(exc)
                return
            if self._stopping.is_set():
                return  # received as the stop came: left to reappear after their invisibility
            if not messages:
                delay = backoff.next_delay(found_since_delay)
                found_since_delay = False
                self._wake.clear()
                await self._wait(self._wake, delay)
                continue
            found_since_delay = True
            for message in messages:
                task = asyncio.create_task(self.processor.process(message))
                self._tasks.add(task)
                task.add_done_callback(self._done)
            while len(self._tasks) > self.options.new_batch_threshold:
                self._slot.clear()
                await self._wait(self._slot, None)
                if self._stopping.is_set():
                    return

    def _fail(self, exc: BaseException) -> None:
        if not self._stopping.is_set():
            self.fatal(exc)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slot.set()

    async def _wait(self, event: asyncio.Event, timeout: float | None) -> None:
        waiters = {
            asyncio.ensure_future(event.wait()),
            asyncio.ensure_future(self._stopping.wait()),
        }
        _, pending = await asyncio.wait(
            waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()

    async def wait_idle(self) -> None:
        await super().wait_idle()
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        """Abandon whatever still runs: those messages come back after their invisibility."""
        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        await self._end_loop(cancel=True)
        await self._service.close()
