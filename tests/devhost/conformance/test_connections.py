"""Which setting a binding's ``connection`` reads.

Sources: Azure/azure-sdk-for-net sdk/extensions/Microsoft.Azure.WebJobs.Extensions.Clients/src/
Shared/WebJobsConfigurationExtensions.cs (AzureWebJobs<name> first, ConnectionStrings before the
root) and .../Shared/StorageClientProvider.cs (accountName over queueServiceUri);
Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host.Storage/BlobServiceClientProvider.cs
(the host's own storage: blobServiceUri over accountName).
"""

from __future__ import annotations

import pytest

from devhost.config import ConfigError
from devhost.connections import resolve_connection
from harness.azurite import ACCOUNT_AND_KEY
from harness.polling import wait_until
from tests.devhost.conformance.conftest import Stage

# Where nothing listens: a host that read this setting would never see the message.
NOWHERE = (
    f"DefaultEndpointsProtocol=http;{ACCOUNT_AND_KEY}"
    "QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;"
)


def test_azurewebjobs_name_shadows_name_on_a_running_host(stage: Stage) -> None:
    queue = stage.queue("CONN_QUEUE")
    stage.start("connections", Store=NOWHERE, AzureWebJobsStore=stage.azurite.connection_string)
    stage.send(queue, b"read through AzureWebJobsStore")

    runs = wait_until(lambda: stage.records.of("on_store"), timeout=20, message="the run")
    assert runs[0]["body"] == "read through AzureWebJobsStore"


def _string(name: str, settings: dict[str, str]) -> str | None:
    return resolve_connection(name, settings, "queue").connection_string


def test_prefixed_first_then_plain_each_under_connection_strings_first() -> None:
    assert _string("X", {"X": "plain", "AzureWebJobsX": "prefixed"}) == "prefixed"
    assert _string("X", {"X": "plain"}) == "plain"
    assert _string("X", {"AzureWebJobsX": "p", "ConnectionStrings__AzureWebJobsX": "cs"}) == "cs"
    assert _string("X", {"X": "plain", "ConnectionStrings:X": "cs"}) == "cs"
    assert _string("X", {"azurewebjobsx": "any case"}) == "any case"
    assert _string("", {"AzureWebJobsStorage": "default"}) == "default"
    with pytest.raises(ConfigError, match="'AzureWebJobsX' does not exist"):
        resolve_connection("X", {"X": ""}, "queue")  # an empty value is no value


def test_an_identity_section_hides_a_plain_string_and_each_reader_has_its_order() -> None:
    settings = {
        "X": "plain",
        "AzureWebJobsX__accountName": "acct",
        "AzureWebJobsX__queueServiceUri": "https://other.example/queue",
        "AzureWebJobsX__blobServiceUri": "https://other.example/blob",
        "AzureWebJobsX__credential": "managedidentity",
        "AzureWebJobsX__clientId": "client",
    }
    queue = resolve_connection("X", settings, "queue")
    assert queue.connection_string is None
    assert queue.endpoint == "https://acct.queue.core.windows.net"
    assert (queue.managed_identity, queue.client_id) == (True, "client")
    assert resolve_connection("X", settings, "blob").endpoint == "https://other.example/blob"
    only_uri = {"X__queueServiceUri": "https://q.example"}
    assert resolve_connection("X", only_uri, "queue").endpoint == "https://q.example"
