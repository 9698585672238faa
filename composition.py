"""The service's collaborators, built once per process and shared by every operation: over
Azure Storage from the settings (clients keep their connection pools between invocations), or
over the in-memory twin for tests."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from jobs.core.resources import DEFAULT_QUEUE, JOBS_TABLE, PAYLOADS_CONTAINER, all_queues
from jobs.core.settings import STORAGE_CONNECTION, Settings
from jobs.kinds import Kind, registry
from jobs.kinds.files import Blobs
from jobs.kinds.inputs import InputPolicy, item_context
from jobs.lifecycle.writer import Lifecycle
from jobs.storage import BlobStore, QueueStore, TableStore
from jobs.storage.azure import AzureBlobStore, AzureQueueStore, AzureTableStore
from jobs.storage.connection import BACKGROUND, Patience, StorageConnection
from jobs.storage.jobs_table import JobsTable
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore
from jobs.storage.payloads import Payloads
from jobs.storage.queues import JobQueues


@dataclass
class Service:
    settings: Settings
    tables: TableStore
    queue_store: QueueStore
    blob_store: BlobStore
    kinds: dict[str, Kind] = field(init=False)
    inputs: InputPolicy = field(init=False)
    # What kinds' items are validated with (at submit and before each run): the input policy.
    item_context: dict[str, Any] = field(init=False)
    table: JobsTable = field(init=False)
    queues: JobQueues = field(init=False)
    payloads: Payloads = field(init=False)
    blobs: Blobs = field(init=False)
    lifecycle: Lifecycle = field(init=False)

    def __post_init__(self) -> None:
        self.kinds = registry(self.settings)
        self.inputs = InputPolicy.from_settings(self.settings)
        self.item_context = item_context(self.inputs)
        self.table = JobsTable(self.tables)
        self.queues = JobQueues(self.queue_store)
        self.payloads = Payloads(self.blob_store)
        links = timedelta(minutes=self.settings.output_link_minutes)
        self.blobs = Blobs(self.blob_store, self.inputs, links)
        self.lifecycle = Lifecycle(
            self.table, self.queues, self.payloads, grouped=self.settings.group_commit
        )

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, patience: Patience = BACKGROUND
    ) -> Service:
        """Over Azure Storage as the settings name it; ``patience`` says how long its clients
        keep at a failing call (REQUEST for the HTTP routes)."""
        env = os.environ if env is None else env
        connection = StorageConnection.from_env(STORAGE_CONNECTION, env)
        tables = connection.table_service(patience).get_table_client(JOBS_TABLE)
        return cls(
            Settings.from_env(env),
            AzureTableStore(tables),
            AzureQueueStore(connection.queue_service(patience), ping_queue=DEFAULT_QUEUE),
            AzureBlobStore(connection.blob_service(patience), ping_container=PAYLOADS_CONTAINER),
        )

    @classmethod
    def in_memory(cls, settings: Settings | None = None) -> Service:
        """The service over the in-memory twin of storage, every queue provisioned."""
        return cls(
            settings or Settings(), MemoryTableStore(), MemoryQueueStore(all_queues()),
            MemoryBlobStore(),
        )  # fmt: skip

    def check(self) -> None:
        """One cheap read from each store the app needs; raises when storage does not answer."""
        self.tables.ping()
        self.queue_store.ping()
        self.blob_store.ping()
