"""Queue trigger listener: the storage extension's QueueListener/QueueProcessor rules.

Receives up to batchSize messages invisible for 10 minutes, renews that every 5 minutes
while the function runs, keeps at most batchSize + newBatchThreshold in flight, backs off on
an empty (or missing: it is never created) queue, poisons before invoking when a message has
been dequeued too often, poisons undecodable base64 at once, and on failure either poisons or
makes the message visible again after visibilityTimeout. A message whose invocation died
with the worker is left alone: it comes back when its invisibility runs out.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import random
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.queue import QueueMessage
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from devhost import logs
from devhost.config import QueueOptions
from devhost.indexing import FunctionSpec
from devhost.invoker import InvocationFailed, Invoker, WorkerLost

INVISIBILITY = 600
RENEW_EVERY = 300.0
MIN_POLL = 0.1


def poison_queue_name(queue: str) -> str | None:
    if queue.endswith("-poison") or len(queue) + len("-poison") > 63:
        return None
    return f"{queue}-poison"


class Backoff:
    """100 ms, then roughly doubling with ±20 % jitter, capped; reset by any message."""

    def __init__(self, maximum: float) -> None:
        self.maximum = maximum
        self.current = 0.0

    def reset(self) -> None:
        self.current = 0.0

    def next(self) -> float:
        if self.current <= 0:
            self.current = MIN_POLL
        else:
            self.current = self.current * 2 * random.uniform(0.8, 1.2)
        self.current = min(max(self.current, MIN_POLL), self.maximum)
        return self.current


class QueueListener:
    def __init__(self, spec: FunctionSpec, options: QueueOptions, invoker: Invoker) -> None:
        assert spec.connection is not None
        self.spec = spec
        self.options = options
        self.invoker = invoker
        self.queue_name = str(spec.properties["queueName"])
        self.poison_name = poison_queue_name(self.queue_name)
        self.reason = f"New queue message detected on '{self.queue_name}'."
        self._service: QueueServiceClient = spec.connection.queue_service()
        self._client: QueueClient = self._service.get_queue_client(self.queue_name)
        self._poison: QueueClient | None = (
            self._service.get_queue_client(self.poison_name) if self.poison_name else None
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._slot = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run())

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
        while not self._stopping.is_set():
            try:
                messages = await self._receive()
            except ResourceNotFoundError:
                messages = []
            except Exception as exc:  # a listener must outlive storage hiccups
                logs.HOST.warning("Queue '%s': receive failed: %s", self.queue_name, exc)
                messages = []
            if self._stopping.is_set():
                # Received as the stop came: hand them back now rather than in 10 minutes.
                for message in messages:
                    with contextlib.suppress(Exception):
                        await self._client.update_message(
                            message.id, message.pop_receipt, visibility_timeout=0
                        )
                return
            if messages:
                backoff.reset()
                for message in messages:
                    task = asyncio.create_task(self._process(message))
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
                while len(self._tasks) > self.options.new_batch_threshold:
                    self._slot.clear()
                    await self._wait(self._slot, None)
                    if self._stopping.is_set():
                        return
            else:
                await self._wait(self._stopping, backoff.next())

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

    async def _process(self, message: QueueMessage) -> None:
        try:
            await self._handle(message)
        except Exception as exc:  # the message comes back after its invisibility
            logs.HOST.error("Queue '%s': handling %s failed: %r", self.queue_name, message.id, exc)

    async def _handle(self, message: QueueMessage) -> None:
        receipt: list[str] = [str(message.pop_receipt)]
        content = str(message.content or "")
        if (
            message.dequeue_count is not None
            and message.dequeue_count > self.options.max_dequeue_count
        ):
            logs.HOST.warning(
                "Message %s has a dequeue count of %s: moving it to the poison queue without "
                "running the function", message.id, message.dequeue_count,
            )  # fmt: skip
            await self._to_poison(message, content, receipt)
            return
        if self.options.message_encoding == "base64":
            try:
                body = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                logs.HOST.warning(
                    "Message %s on '%s' is not valid base64: moving it to the poison queue",
                    message.id, self.queue_name,
                )  # fmt: skip
                await self._to_poison(message, content, receipt)
                return
        else:
            body = content.encode("utf-8")
        payload = {
            "id": message.id,
            "body": body,
            "dequeue_count": message.dequeue_count,
            "insertion_time": message.inserted_on,
            "expiration_time": message.expires_on,
            "time_next_visible": message.next_visible_on,
            "pop_receipt": message.pop_receipt,
        }
        renewal = asyncio.create_task(self._renew(message, receipt))
        try:
            await self.invoker.invoke(self.spec.name, "queue", payload, self.reason)
            failed = False
        except InvocationFailed:
            failed = True
        except WorkerLost:
            return
        finally:
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
        await self._complete(message, content, receipt, failed)

    async def _complete(
        self, message: QueueMessage, content: str, receipt: list[str], failed: bool
    ) -> None:
        try:
            if not failed:
                await self._client.delete_message(message.id, receipt[0])
            elif self._poison is None:
                # No poison queue: leave it invisible rather than spin on it (as the extension).
                return
            elif (message.dequeue_count or 0) >= self.options.max_dequeue_count:
                await self._to_poison(message, content, receipt)
            else:
                await self._client.update_message(
                    message.id,
                    receipt[0],
                    visibility_timeout=int(self.options.visibility_timeout),
                )
        except (AzureError, OSError) as exc:
            logs.HOST.warning(
                "Queue '%s': completing %s failed: %s", self.queue_name, message.id, exc
            )

    async def _to_poison(self, message: QueueMessage, content: str, receipt: list[str]) -> None:
        if self._poison is None:
            return
        try:
            await self._poison.send_message(content)
        except ResourceNotFoundError:
            with contextlib.suppress(ResourceExistsError):
                await self._poison.create_queue()
            await self._poison.send_message(content)
        logs.HOST.warning(
            "Message has reached MaxDequeueCount of %s. Moving message to queue '%s'.",
            self.options.max_dequeue_count, self.poison_name,
        )  # fmt: skip
        await self._client.delete_message(message.id, receipt[0])

    async def _renew(self, message: QueueMessage, receipt: list[str]) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                updated: Any = await self._client.update_message(
                    message.id, receipt[0], visibility_timeout=INVISIBILITY
                )
                receipt[0] = str(updated.pop_receipt)
            except (AzureError, OSError) as exc:
                logs.HOST.warning(
                    "Queue '%s': renewing %s failed: %s", self.queue_name, message.id, exc
                )

    def stop_receiving(self) -> None:
        self._stopping.set()

    async def wait_idle(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        """Abandon whatever still runs: those messages come back after their invisibility."""
        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
        await self._service.close()
