"""Storage connections, resolved as the host and the storage extension resolve them.

A binding's ``connection`` (empty means ``Storage``) names a configuration section:
``AzureWebJobs<name>`` first and ``<name>`` only when that does not exist, each looked up under
``ConnectionStrings:`` before the root (Azure/azure-sdk-for-net
``sdk/extensions/Microsoft.Azure.WebJobs.Extensions.Clients/src/Shared/WebJobsConfigurationExtensions.cs``;
the host's own ``IConfigurationExtensions.GetWebJobsConnectionSection`` in Azure/azure-webjobs-sdk
does the same). Configuration keys match without case and ``__`` in a variable name is the
``:`` of a section path. A section exists when it has a value or any child: so
``AzureWebJobsX__accountName`` hides a plain ``X`` connection string.

A section with a value is a connection string. Otherwise it is an identity connection, and the
two readers differ:

* the queue trigger (``.../Clients/src/Shared/StorageClientProvider.cs`` ``TryGetServiceUri``):
  ``accountName`` wins over ``queueServiceUri``;
* the host's own storage, used for timer leases and status (Azure/azure-webjobs-sdk
  ``src/Microsoft.Azure.WebJobs.Host.Storage/BlobServiceClientProvider.cs``):
  ``blobServiceUri`` wins over ``accountName``.

``credential=managedidentity`` with ``clientId`` selects a user-assigned identity; otherwise
the default credential chain. Variables with an empty value count as unset: Core Tools sets
``local.settings.json`` values with .NET's ``SetEnvironmentVariable``, which deletes a variable
given an empty value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from devhost.config import ConfigError

Service = Literal["queue", "blob"]


@dataclass(frozen=True)
class Connection:
    """A resolved connection: a connection string, or a service endpoint reached through an
    identity (with ``managed_identity``, the managed identity, user-assigned when ``client_id``
    names one; otherwise the default credential chain)."""

    name: str
    connection_string: str | None = None
    endpoint: str | None = None
    client_id: str | None = None
    managed_identity: bool = False

    def _credential(self) -> Any:
        from azure.identity.aio import DefaultAzureCredential, ManagedIdentityCredential

        if self.managed_identity:
            return ManagedIdentityCredential(client_id=self.client_id)
        return DefaultAzureCredential()

    def queue_service(self) -> QueueServiceClient:
        if self.connection_string:
            return QueueServiceClient.from_connection_string(self.connection_string)
        return QueueServiceClient(str(self.endpoint), credential=self._credential())

    def blob_service(self) -> BlobServiceClient:
        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string)
        return BlobServiceClient(str(self.endpoint), credential=self._credential())


@dataclass(frozen=True)
class Section:
    path: str
    value: str | None
    children: dict[str, str]

    def exists(self) -> bool:
        return self.value is not None or bool(self.children)

    def get(self, key: str) -> str | None:
        return self.children.get(key.lower())


def _normal(key: str) -> str:
    return key.replace(":", "__").lower()


def section(settings: Mapping[str, str], path: str) -> Section:
    wanted = _normal(path)
    value: str | None = None
    children: dict[str, str] = {}
    for key, raw in settings.items():
        if not raw:
            continue
        normal = _normal(key)
        if normal == wanted:
            value = raw
        elif normal.startswith(wanted + "__"):
            children[normal[len(wanted) + 2 :]] = raw
    return Section(path, value, children)


def connection_section(settings: Mapping[str, str], name: str | None) -> Section:
    name = name or "Storage"

    def string_or_setting(key: str) -> Section:
        found = section(settings, f"ConnectionStrings__{key}")
        return found if found.exists() else section(settings, key)

    prefixed = string_or_setting(f"AzureWebJobs{name}")
    return prefixed if prefixed.exists() else string_or_setting(name)


def resolve_connection(
    name: str | None, settings: Mapping[str, str], service: Service
) -> Connection:
    found = connection_section(settings, name)
    if not found.exists():
        raise ConfigError(
            f"Storage account connection string 'AzureWebJobs{name or 'Storage'}' does not "
            "exist. Make sure that it is a defined App Setting."
        )
    if found.value is not None:
        return Connection(name=found.path, connection_string=found.value)
    account = found.get("accountName")
    uri = found.get(f"{service}ServiceUri")
    from_account = f"https://{account}.{service}.core.windows.net" if account else None
    endpoint = (from_account or uri) if service == "queue" else (uri or from_account)
    if endpoint is None:
        raise ConfigError(
            f"Connection '{found.path}' has neither a connection string, nor accountName, nor "
            f"{service}ServiceUri."
        )
    return Connection(
        name=found.path,
        endpoint=endpoint,
        client_id=found.get("clientId"),
        managed_identity=(found.get("credential") or "").lower() == "managedidentity",
    )
