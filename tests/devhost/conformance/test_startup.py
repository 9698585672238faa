"""Partial startup: a function that cannot be indexed does not take the others down."""

from __future__ import annotations

import requests

from tests.devhost.conformance.conftest import Stage


def test_a_broken_function_is_disabled_and_logged_and_the_working_one_served(
    stage: Stage,
) -> None:
    """Azure/azure-webjobs-sdk src/Microsoft.Azure.WebJobs.Host/Indexers/FunctionIndexer.cs
    (an indexing error is logged and the function disabled when the host allows partial
    startup, which Azure/azure-functions-host src/WebJobs.Script/ScriptHostBuilderExtensions.cs
    sets); the error is the storage extension's missing-connection message from
    Azure/azure-sdk-for-net sdk/extensions/Microsoft.Azure.WebJobs.Extensions.Clients/src/
    Shared/StorageClientProvider.cs."""
    host = stage.start("partial")
    response = requests.get(f"{host.api}/working", timeout=30)
    assert (response.status_code, response.text) == (200, "still here")
    logs = host.logs()
    assert "Error indexing method 'Functions.broken'" in logs
    assert "'AzureWebJobsNoSuchConnection' does not exist" in logs
    assert "Function 'Functions.broken' failed indexing and will be disabled." in logs
    assert "Functions.working' failed" not in logs
