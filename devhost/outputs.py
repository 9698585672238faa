"""Queue output bindings: what a function set (``func.Out`` or ``$return``) becomes messages.

As the host binds the worker's output values (Azure/azure-functions-host
``src/WebJobs.Script/Binding/FunctionBinding.cs`` ``BindAsyncCollectorAsync``: a JSON array adds
one message per item, anything else one message) through the storage extension's queue
collector (Azure/azure-sdk-for-net ``sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.
Queues/src/Bindings/QueueAsyncCollector.cs``, ``StorageQueueMessageConverter.cs``): the queue is
created if missing, a string is sent as its UTF-8 text and bytes as they are, each encoded with
host.json ``messageEncoding`` (base64 by default), JSON objects as their JSON text. The
messages are written only when the invocation succeeded, as part of it: a failed write fails the
invocation. A listener of the same queue in this host is woken (the extension's
``SharedQueueWatcher``).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from devhost.indexing import FunctionSpec, QueueOutput
from devhost.invoker import Result
from devhost.queue_listener import QueueWatcher

RETURN = "$return"


def messages(datum: Mapping[str, Any] | None) -> list[bytes]:
    """The messages one output value stands for."""
    if datum is None:
        return []
    kind, value = datum["type"], datum["value"]
    if kind == "bytes":
        return [bytes(value)]
    if kind == "json":
        parsed = json.loads(value)
        items = parsed if isinstance(parsed, list) else [parsed]
        return [
            item.encode() if isinstance(item, str) else json.dumps(item).encode() for item in items
        ]
    return [str(value).encode()]


class QueueOutputs:
    def __init__(self, functions: list[FunctionSpec], encoding: str, watcher: QueueWatcher) -> None:
        self.outputs = {f.name: f.queue_outputs for f in functions if f.queue_outputs}
        self.encoding = encoding
        self.watcher = watcher
        self._services: dict[str, QueueServiceClient] = {}
        self._created: set[tuple[str, str]] = set()

    def _client(self, output: QueueOutput) -> QueueClient:
        key = output.connection.name
        if key not in self._services:
            self._services[key] = output.connection.queue_service()
        return self._services[key].get_queue_client(output.queue_name)

    def _encode(self, body: bytes) -> str:
        if self.encoding == "base64":
            return base64.b64encode(body).decode()
        return body.decode("utf-8", errors="replace")

    async def __call__(self, function: str, result: Result) -> None:
        for output in self.outputs.get(function, ()):
            datum = result.value if output.name == RETURN else result.outputs.get(output.name)
            bodies = messages(datum)
            if not bodies:
                continue
            client = self._client(output)
            created = (output.connection.name, output.queue_name)
            if created not in self._created:
                with contextlib.suppress(ResourceExistsError):
                    await client.create_queue()
                self._created.add(created)
            for body in bodies:
                await client.send_message(self._encode(body))
            self.watcher.notify(output.queue_name)

    async def close(self) -> None:
        for service in self._services.values():
            await service.close()
