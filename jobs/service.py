"""The service's collaborators, built once per process from the settings and shared by every
operation (clients keep their connection pools between invocations)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobs.blobs import Blobs
from jobs.connection import StorageConnection
from jobs.kinds import Kind, registry
from jobs.queues import JobQueues
from jobs.resources import DEFAULT_QUEUE, JOBS_TABLE, PAYLOADS_CONTAINER
from jobs.settings import STORAGE_CONNECTION, Settings
from jobs.store import JobsTable


@dataclass
class Service:
    settings: Settings
    table: JobsTable
    queues: JobQueues
    blobs: Blobs
    kinds: dict[str, Kind]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Service:
        env = os.environ if env is None else env
        settings = Settings.from_env(env)
        connection = StorageConnection.from_env(STORAGE_CONNECTION, env)
        blobs = Blobs(connection.blob_service())
        return cls(
            settings=settings,
            table=JobsTable(connection.table_service().get_table_client(JOBS_TABLE), blobs),
            queues=JobQueues(connection.queue_service()),
            blobs=blobs,
            kinds=registry(settings),
        )

    def check(self) -> None:
        """One cheap read from each store the app needs; raises when storage does not answer.
        No retries: a health probe wants the truth now."""
        options: dict[str, Any] = {"retry_total": 0, "connection_timeout": 3, "read_timeout": 5}
        next(iter(self.table.table.query_entities("PartitionKey eq 'health'", **options)), None)
        self.queues.service.get_queue_client(DEFAULT_QUEUE).get_queue_properties(**options)
        self.blobs.service.get_container_client(PAYLOADS_CONTAINER).get_container_properties(
            **options
        )
