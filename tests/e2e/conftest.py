"""The job service as users run it: function_app.py on the local host, on a private Azurite."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from harness.azurite import REPO, Azurite, start_azurite
from harness.localhost import RunningHost, start_devhost
from harness.polling import wait_until
from jobs.core.resources import CONTROL_QUEUE, JOBS_TABLE, PAYLOADS_CONTAINER, all_queues
from jobs.storage.keys import INDEX_PREFIX, MINUTES_PARTITION
from jobs.storage.provision import provision

# Limits small enough to cross in a test, and a sweep every two seconds.
SETTINGS = {
    "JOBS_TEST_KINDS": "true",
    "JOBS_SWEEP_SCHEDULE": "*/2 * * * * *",
    "JOBS_SCHEDULER_SCHEDULE": "* * * * * *",
    "JOBS_MAX_ITEMS": "1000",
    "JOBS_MAX_BODY_BYTES": "200000",
    "JOBS_MAX_ITEM_BYTES": "20000",
    "JOBS_DISPATCH_WINDOW": "64",
    "JOBS_WEBHOOK_SECRET": "e2e-webhook-secret",
    "JOBS_CALLBACK_ALLOWED_HOSTS": "127.0.0.1",
    "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.500",
}


@dataclass
class Api:
    """The service's HTTP API, and its storage for looking behind it."""

    host: RunningHost
    azurite: Azurite

    def url(self, path: str) -> str:
        return f"{self.host.api}/{path.lstrip('/')}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url(path), timeout=30, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.post(self.url(path), timeout=30, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.delete(self.url(path), timeout=30, **kwargs)

    def submit(self, kind: str, items: list[Any], **extra: Any) -> str:
        response = self.post("tasks", json={"kind": kind, "items": items, **extra})
        assert response.status_code == 202, response.text
        return str(response.json()["task_id"])

    def status(self, task_id: str) -> dict[str, Any]:
        response = self.get(f"tasks/{task_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        counts = body["counts"]
        assert sum(counts.values()) == body["total"], body  # counts always add up
        return body

    def wait_finished(self, task_id: str, timeout: float = 90) -> dict[str, Any]:
        return wait_until(
            lambda: (s := self.status(task_id))["status"] != "running" and s,
            timeout=timeout,
            interval=0.2,
            message=f"task {task_id} to finish",
        )

    def jobs(self, task_id: str, **params: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        continuation = None
        while True:
            query = {**params, **({"continuation": continuation} if continuation else {})}
            response = self.get(f"tasks/{task_id}/jobs", params=query)
            assert response.status_code == 200, response.text
            found += response.json()["jobs"]
            continuation = response.json()["continuation"]
            if not continuation:
                return found

    # -- storage, for what the API does not show -------------------------------------------

    def tables(self) -> TableServiceClient:
        return TableServiceClient.from_connection_string(self.azurite.connection_string)

    def queues(self) -> QueueServiceClient:
        return QueueServiceClient.from_connection_string(self.azurite.connection_string)

    def blobs(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(self.azurite.connection_string)

    def storage_snapshot(self) -> tuple[int, set[str], int, dict[str, int]]:
        """Rows in the jobs table's task and key partitions, the tasks its index lists, payload
        blobs, and messages per queue. The index's rows themselves are left out of the count:
        the sampler moves finished tasks' rows between its partitions on a timer of its own,
        as it does the minute rows."""
        rows, indexed = 0, set()
        for entity in self.tables().get_table_client(JOBS_TABLE).list_entities():
            if entity["PartitionKey"].startswith(INDEX_PREFIX):
                indexed.add(str(entity["TaskId"]))
            elif entity["PartitionKey"] != MINUTES_PARTITION:
                rows += 1
        payloads = self.blobs().get_container_client(PAYLOADS_CONTAINER).list_blobs()
        queues = self.queues()
        depth = {
            name: queues.get_queue_client(name).get_queue_properties().approximate_message_count
            or 0
            for name in all_queues()
        }
        return rows, indexed, sum(1 for _ in payloads), depth


Snapshot = tuple[int, set[str], int, dict[str, int]]


def quiet_snapshot(api: Api, timeout: float = 60) -> Snapshot:
    """A storage snapshot once earlier tests' background work has settled: no control message
    waiting or running (a task's end follow-up writes its results file and index row after the
    task reads finished), and nothing changing between two looks."""

    def settled() -> Snapshot | None:
        first = api.storage_snapshot()
        if first[3].get(CONTROL_QUEUE):
            return None
        return first if api.storage_snapshot() == first else None

    return wait_until(settled, timeout=timeout, interval=0.5, message="storage to settle")


def start_api(azurite: Azurite, settings: Mapping[str, str]) -> Api:
    """function_app.py on the local host with ``settings``, over ``azurite`` provisioned."""
    env = {
        "JobsStorage": azurite.connection_string,
        "AzureWebJobsStorage": azurite.connection_string,
    }
    provision(env)
    return Api(start_devhost(REPO, {**env, **settings}), azurite)


@contextlib.contextmanager
def own_api(settings: Mapping[str, str] = SETTINGS) -> Iterator[Api]:
    """A host over an Azurite of its own, for a module whose checks compare storage before and
    after a request, which other suites' background work on the shared host would move."""
    storage = start_azurite()
    try:
        running = start_api(storage, settings)
        try:
            yield running
        finally:
            running.host.stop()
    finally:
        storage.stop()
