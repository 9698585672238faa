"""Settings and storage connections, read as the host reads them."""

from __future__ import annotations

import pytest

from jobs.core.errors import ConfigurationError
from jobs.core.settings import Settings
from jobs.storage.connection import StorageConnection


def test_settings_have_defaults_and_reject_nonsense() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"JOBS_TEST_KINDS": "True", "JOBS_MAX_ITEMS": "7"}).max_items == 7
    inputs = Settings.from_env({"JOBS_MAX_INPUT_BYTES": "1024", "JOBS_OUTPUT_LINK_MINUTES": "5"})
    assert (inputs.max_input_bytes, inputs.output_link_minutes) == (1024, 5)
    for bad in (
        {"JOBS_MAX_ITEMS": "many"},
        {"JOBS_MAX_ITEMS": "0"},
        {"JOBS_TEST_KINDS": "perhaps"},
        {"JOBS_DISPATCH_WINDOW": "100"},  # not a multiple of the counter shards
        {"JOBS_MAX_INPUT_BYTES": "-1"},
        {"JOBS_OUTPUT_LINK_MINUTES": "0"},
        {"JOBS_OUTPUT_LINK_MINUTES": "10081"},  # past what a user delegation key signs
        {"JOBS_INPUT_CONTAINERS": "no_such/container"},
    ):
        with pytest.raises(ConfigurationError, match=next(iter(bad))):
            Settings.from_env(bad)


def test_connections_resolve_like_the_host() -> None:
    assert StorageConnection.from_env("S", {"S": "UseDevelopmentStorage=true"}).connection_string
    assert StorageConnection.from_env("S", {"AzureWebJobsS": "x=y"}).connection_string == "x=y"
    identity = StorageConnection.from_env("S", {"S__accountName": "acct", "S__clientId": "id-1"})
    assert identity.connection_string is None
    assert identity.queue_url == "https://acct.queue.core.windows.net"
    assert identity.client_id == "id-1"
    custom = StorageConnection.from_env("S", {"S__tableServiceUri": "https://t.example"})
    assert custom.table_url == "https://t.example"
    assert custom.blob_url is None
    with pytest.raises(ConfigurationError, match="S__accountName"):
        StorageConnection.from_env("S", {})
