"""The composition root: the service's collaborators, built once per process over Azure Storage
from the settings (clients keep their connection pools between invocations), or over the
in-memory twin for tests. function_app.py, api/, the tests and the benchmark take them from
here; the domain (jobs/) only ever sees the protocols of jobs.collaborators, so it also gets
the API's document shapes (api.wire) from here without importing api/."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from api.wire import WireDocuments
from jobs.collaborators import Documents
from jobs.core.resources import DEFAULT_QUEUE, JOBS_TABLE, PAYLOADS_CONTAINER, all_queues
from jobs.core.settings import STORAGE_CONNECTION, Settings
from jobs.dispatch.growth import Window
from jobs.kinds import Kinds
from jobs.kinds.files import Files
from jobs.kinds.inputs import InputPolicy
from jobs.lifecycle.admission import Admission
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
    """Everything a use case may be handed (jobs.collaborators), each named for what it is."""

    settings: Settings
    table: JobsTable
    queues: JobQueues
    payloads: Payloads  # the service's own blobs: requests, large values, results, events
    kinds: Kinds = field(init=False)
    files: Files = field(init=False)  # what kinds read and write: inputs and outputs
    lifecycle: Lifecycle = field(init=False)
    documents: Documents = field(init=False)  # the shapes of events and results (api.wire)
    window: Window = field(init=False)  # which of its tasks' windows have no growth left
    admission: Admission = field(init=False)  # whether a job may start now (limits, priority)

    def __post_init__(self) -> None:
        inputs = InputPolicy.from_settings(self.settings)
        self.kinds = Kinds.from_settings(self.settings, inputs)
        links = timedelta(minutes=self.settings.output_link_minutes)
        self.files = Files(self.payloads.store, inputs, links)
        self.documents = WireDocuments()
        self.window = Window()
        self.lifecycle = Lifecycle(
            self.table, self.queues, self.payloads, grouped=self.settings.group_commit
        )
        self.admission = Admission(self.table, self.queues, self.kinds)

    @classmethod
    def over(
        cls, settings: Settings, tables: TableStore, queues: QueueStore, blobs: BlobStore
    ) -> Service:
        return cls(settings, JobsTable(tables), JobQueues(queues), Payloads(blobs))

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, patience: Patience = BACKGROUND
    ) -> Service:
        """Over Azure Storage as the settings name it; ``patience`` says how long its clients
        keep at a failing call (REQUEST for the HTTP routes)."""
        env = os.environ if env is None else env
        connection = StorageConnection.from_env(STORAGE_CONNECTION, env)
        tables = connection.table_service(patience).get_table_client(JOBS_TABLE)
        return cls.over(
            Settings.from_env(env),
            AzureTableStore(tables),
            AzureQueueStore(connection.queue_service(patience), ping_queue=DEFAULT_QUEUE),
            AzureBlobStore(connection.blob_service(patience), ping_container=PAYLOADS_CONTAINER),
        )

    @classmethod
    def in_memory(cls, settings: Settings | None = None) -> Service:
        """The service over the in-memory twin of storage, every queue provisioned."""
        return cls.over(
            settings or Settings(), MemoryTableStore(), MemoryQueueStore(all_queues()),
            MemoryBlobStore(),
        )  # fmt: skip

    def check(self) -> None:
        """One cheap read from each store the app needs; raises when storage does not answer."""
        self.table.ping()
        self.queues.ping()
        self.payloads.ping()
