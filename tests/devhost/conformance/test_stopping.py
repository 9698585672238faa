"""What stops the host, and what a stop leaves behind."""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobLeaseClient, BlobServiceClient

from devhost.config import QueueOptions
from devhost.connections import Connection
from devhost.indexing import FunctionSpec
from devhost.invoker import Invoker
from devhost.leases import BlobLease, LinearSpeedup
from devhost.queue_listener import QueueListener, QueueWatcher
from harness.localhost import start_devhost
from harness.polling import wait_until
from tests.devhost.conformance.conftest import APPS, Stage

SHUTDOWN = "An unhandled exception has occurred. Host is shutting down."


def test_a_non_transient_storage_error_stops_the_host(stage: Stage) -> None:
    """Azure/azure-sdk-for-net sdk/storage/Microsoft.Azure.WebJobs.Extensions.Storage.Common/
    src/Shared/Queues/QueueListener.cs (only queue-not-found, queue-being-deleted and 5xx are
    backed off; anything else is rethrown) and Azure/azure-functions-host
    src/WebJobs.Script.WebHost/WebScriptHostExceptionHandler.cs (an unhandled exception stops
    the application). Here: a key the account rejects (403)."""
    queue = stage.queue("CONN_QUEUE")
    wrong_key = base64.b64encode(os.urandom(64)).decode()
    store = stage.azurite.connection_string.replace(
        stage.azurite.connection_string.split("AccountKey=")[1].split(";")[0], wrong_key
    )
    env = {**stage.env, "CONN_QUEUE": queue, "Store": store}
    host = start_devhost(APPS / "connections", env, wait=False)
    stage.hosts.append(host)
    assert host.process.wait(timeout=60) == 1
    assert SHUTDOWN in host.logs()
    assert "ErrorCode:AuthenticationFailed" in host.logs()


def test_a_lost_listener_lease_stops_the_host(stage: Stage) -> None:
    """Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host.Storage/Singleton/
    BlobLeaseDistributedLockManager.cs (a renewal failing with anything but a 5xx is rethrown)
    renewed every half period by src/Microsoft.Azure.WebJobs.Host/Singleton/SingletonManager.cs;
    the app's host.json sets singleton.listenerLockPeriod to 15 s."""
    host = stage.start("lease")
    blobs = BlobServiceClient.from_connection_string(stage.azurite.connection_string)
    host_id = stage.env["AzureFunctionsWebHost__hostid"]
    lock = blobs.get_blob_client(
        "azure-webjobs-hosts", f"locks/{host_id}/Host.Functions.held.Listener"
    )
    wait_until(
        lambda: lock.exists() and lock.get_blob_properties().lease.state == "leased",
        timeout=20,
        message="the listener lease",
    )
    BlobLeaseClient(lock).break_lease(lease_break_period=0)
    assert host.process.wait(timeout=30) == 1
    assert "Singleton lock renewal failed for blob" in host.logs()
    assert SHUTDOWN in host.logs()


def _http_error(status: int, code: str) -> HttpResponseError:
    error = HttpResponseError(message=f"{status} {code}")
    error.status_code = status
    error.error_code = code  # type: ignore[attr-defined]
    return error


def test_lease_renewals_speed_up_after_5xx_and_a_lost_lease_is_fatal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SingletonManager.cs (``LinearSpeedupStrategy`` over half the lease period, down to 1 s)
    and BlobLeaseDistributedLockManager.cs (5xx: a failed renewal; else rethrown)."""
    speedup = LinearSpeedup(30.0, 1.0)
    assert [speedup.next_delay(False) for _ in range(6)] == [15.0, 7.5, 3.75, 1.875, 1.0, 1.0]
    assert speedup.next_delay(True) == 30.0

    answers: list[Exception | None] = [_http_error(503, "ServerBusy"), None, _http_error(409, "x")]
    delays: list[float] = []
    fatal: list[BaseException] = []

    class Lease(BlobLease):
        async def renew(self) -> None:
            answer = answers.pop(0)
            if answer is not None:
                raise answer

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    monkeypatch.setattr("devhost.leases.asyncio.sleep", sleep)
    lease: Any = Lease.__new__(Lease)  # no storage: renew() is the fake above
    lease.name, lease.duration = "locks/h/Host.Functions.f.Listener", 60.0
    asyncio.run(lease.keep(fatal.append))
    assert delays == [30.0, 15.0, 30.0]  # normal, sped up after the 503, normal again
    assert [getattr(e, "status_code", None) for e in fatal] == [409]


def test_messages_received_as_the_stop_begins_are_not_handed_back() -> None:
    """QueueListener.cs (``ExecuteAsync``/``StopAsync``): a batch that arrives once the stop
    has begun is neither processed nor released; it reappears after its invisibility."""
    calls: list[str] = []
    fatal: list[BaseException] = []

    class Message:
        id, pop_receipt, content, dequeue_count = "m1", "r1", "", 1

    async def scenario() -> None:
        spec = FunctionSpec(
            "f",
            "queueTrigger",
            "msg",
            {"queueName": "q"},
            connection=Connection("c", "UseDevelopmentStorage=true"),
        )
        invoker = Invoker.__new__(Invoker)
        listener = QueueListener(spec, QueueOptions(), invoker, fatal.append, QueueWatcher())

        async def receive() -> list[Any]:
            listener.stop_receiving()  # the stop comes while the receive is on the wire
            return [Message()]

        async def update_message(*args: Any, **kwargs: Any) -> None:
            calls.append("update_message")

        listener._receive = receive  # type: ignore[method-assign]
        client: Any = listener._client
        client.update_message = update_message
        listener.start()
        await listener.wait_idle()
        await listener.close()

    asyncio.run(scenario())
    assert calls == []
    assert fatal == []
