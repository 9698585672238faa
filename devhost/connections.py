"""Storage connections resolved as the storage extension resolves a binding's ``connection``.

``X`` names setting ``X``, then ``AzureWebJobsX``; empty means ``AzureWebJobsStorage``. A
connection string (``UseDevelopmentStorage=true`` included) or the identity form
``X__accountName`` / ``X__<service>ServiceUri`` (with ``X__clientId``), which only works in
Azure or with a developer login.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from devhost.config import ConfigError


@dataclass(frozen=True)
class Connection:
    name: str
    connection_string: str | None = None
    account: str | None = None
    service_uris: tuple[tuple[str, str], ...] = ()
    client_id: str | None = None

    def _url(self, service: str) -> str:
        uris = dict(self.service_uris)
        if service in uris:
            return uris[service]
        if self.account:
            return f"https://{self.account}.{service}.core.windows.net"
        raise ConfigError(f"connection {self.name!r} has no {service} endpoint")

    def _credential(self) -> Any:
        from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

        if self.client_id:
            return ManagedIdentityCredential(client_id=self.client_id)
        return DefaultAzureCredential()

    def queue_service(self) -> QueueServiceClient:
        if self.connection_string:
            return QueueServiceClient.from_connection_string(self.connection_string)
        return QueueServiceClient(self._url("queue"), credential=self._credential())

    def blob_service(self) -> BlobServiceClient:
        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string)
        return BlobServiceClient(self._url("blob"), credential=self._credential())


def resolve_connection(name: str | None, environ: Mapping[str, str]) -> Connection:
    setting = name or "Storage"
    candidates = [setting, f"AzureWebJobs{setting}"] if name else ["AzureWebJobsStorage"]
    for key in candidates:
        if environ.get(key):
            return Connection(name=key, connection_string=environ[key])
    base = name or "AzureWebJobsStorage"
    prefix = f"{base}__"
    uris = tuple(
        (service, environ[f"{prefix}{service}ServiceUri"])
        for service in ("queue", "blob", "table")
        if environ.get(f"{prefix}{service}ServiceUri")
    )
    account = environ.get(f"{prefix}accountName")
    if account or uris:
        return Connection(
            name=base,
            account=account,
            service_uris=uris,
            client_id=environ.get(f"{prefix}clientId"),
        )
    raise ConfigError(
        f"Storage account connection string '{candidates[-1]}' does not exist. Make sure that "
        f"it is a defined App Setting (or {prefix}accountName for an identity)."
    )
