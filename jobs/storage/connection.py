"""Storage clients for a named connection, resolved the way the Functions host resolves a
binding's ``connection``: a connection string in ``NAME`` (or ``AzureWebJobsNAME``), or an
identity through ``NAME__accountName`` / ``NAME__{blob,queue,table}ServiceUri`` with
``NAME__credential=managedidentity`` and ``NAME__clientId`` for a user-assigned identity."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.blob import LinearRetry as BlobRetry
from azure.storage.queue import LinearRetry as QueueRetry
from azure.storage.queue import QueueServiceClient

from jobs.core.errors import ConfigurationError
from jobs.storage.azure import BLOB_TRANSFER_OPTIONS

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

SERVICES = ("blob", "queue", "table")
# Connections kept per client: every worker thread may talk to each service at once.
POOL_SIZE = 64


@dataclass(frozen=True)
class Patience:
    """How long a client keeps at a failing call. Background work keeps the SDKs' own retries
    (the host's retries are the safety net behind them); a caller waiting on an HTTP answer
    gets one quick retry and short timeouts, so storage being away is said in seconds."""

    retries: int | None = None  # None: the SDK's default policy
    connect_timeout: float = 300.0
    read_timeout: float = 300.0

    def table_options(self) -> dict[str, Any]:
        if self.retries is None:
            return {}
        return {"retry_total": self.retries, "retry_backoff_factor": 0.5, "retry_backoff_max": 1}

    def storage_options(self, linear_retry: type[Any]) -> dict[str, Any]:
        if self.retries is None:
            return {}
        return {"retry_policy": linear_retry(backoff=1, retry_total=self.retries,
                                             random_jitter_range=0)}  # fmt: skip


BACKGROUND = Patience()
REQUEST = Patience(retries=1, connect_timeout=2.0, read_timeout=5.0)


def _transport(patience: Patience) -> RequestsTransport:
    """HTTP for one client, tuned for many threads: a pool as large as the worker's thread
    count, and no proxy lookup in the environment on every request (a measurable share of a
    job's CPU otherwise)."""
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(
        session=session,
        use_env_settings=False,
        connection_timeout=patience.connect_timeout,
        read_timeout=patience.read_timeout,
    )


@dataclass(frozen=True)
class StorageConnection:
    name: str
    connection_string: str | None = None
    blob_url: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    client_id: str | None = None

    @classmethod
    def from_env(cls, name: str, env: Mapping[str, str] | None = None) -> StorageConnection:
        env = os.environ if env is None else env
        for key in (name, f"AzureWebJobs{name}"):
            if env.get(key):
                return cls(name=name, connection_string=env[key])
        prefix = f"{name}__"
        account = env.get(f"{prefix}accountName")
        urls = {
            service: env.get(f"{prefix}{service}ServiceUri")
            or (f"https://{account}.{service}.core.windows.net" if account else None)
            for service in SERVICES
        }
        if not any(urls.values()):
            raise ConfigurationError(
                f"storage connection {name!r} is not configured: set {name} to a connection "
                f"string, or {prefix}accountName (or {prefix}<service>ServiceUri) for an identity"
            )
        return cls(
            name=name,
            blob_url=urls["blob"],
            queue_url=urls["queue"],
            table_url=urls["table"],
            client_id=env.get(f"{prefix}clientId"),
        )

    def credential(self) -> TokenCredential:
        from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

        if self.client_id:
            return ManagedIdentityCredential(client_id=self.client_id)
        return DefaultAzureCredential()

    def table_service(self, patience: Patience = BACKGROUND) -> TableServiceClient:
        options = {"transport": _transport(patience), **patience.table_options()}
        if self.connection_string:
            return TableServiceClient.from_connection_string(self.connection_string, **options)
        return TableServiceClient(self._url("table"), credential=self.credential(), **options)

    def queue_service(self, patience: Patience = BACKGROUND) -> QueueServiceClient:
        options = {"transport": _transport(patience), **patience.storage_options(QueueRetry)}
        if self.connection_string:
            return QueueServiceClient.from_connection_string(self.connection_string, **options)
        return QueueServiceClient(self._url("queue"), credential=self.credential(), **options)

    def blob_service(self, patience: Patience = BACKGROUND) -> BlobServiceClient:
        """Transfers in bounded chunks (BLOB_TRANSFER_OPTIONS): reading or writing a blob
        never holds more than a few chunks of it."""
        options = {
            "transport": _transport(patience),
            **patience.storage_options(BlobRetry),
            **BLOB_TRANSFER_OPTIONS,
        }
        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string, **options)
        return BlobServiceClient(self._url("blob"), credential=self.credential(), **options)

    def _url(self, service: str) -> str:
        url: str | None = getattr(self, f"{service}_url")
        if not url:
            raise ConfigurationError(
                f"storage connection {self.name!r} has no {service} endpoint: "
                f"set {self.name}__accountName or {self.name}__{service}ServiceUri"
            )
        return url
