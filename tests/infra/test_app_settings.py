"""The function app's settings in Bicep are exactly the ones the code and host read."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest

from jobs.core import settings
from tests.infra.bicep import FUNCTION_MODULE, ROOT, STORAGE_MODULE, parse, variable

FUNCTION_APP = ROOT / "function_app.py"
IDENTITY_KEYS = ("accountName", "credential", "clientId")

# Settings read by the platform rather than by our code (host.json reads none):
PLATFORM_SETTINGS = frozenset(
    {
        "APPLICATIONINSIGHTS_CONNECTION_STRING",  # where the host and the worker send telemetry
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",  # Entra ID ingestion (local auth is off)
        "PYTHON_THREADPOOL_THREAD_COUNT",  # threads for sync functions, sized to the queue batch
    }
)
# Set by functionAppConfig on Flex Consumption; as app settings they are rejected or ignored.
FLEX_FORBIDDEN = frozenset(
    {
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "FUNCTIONS_WORKER_RUNTIME_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
        "WEBSITE_CONTENTSHARE",
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "AzureWebJobsStorage",
    }
)


def identity_connection(name: str) -> set[str]:
    return {f"{name}__{key}" for key in IDENTITY_KEYS}


def bicep_settings() -> dict[str, Any]:
    values: dict[str, Any] = variable(FUNCTION_MODULE, "appSettings")
    return values


@cache
def function_app_bindings() -> list[dict[str, Any]]:
    """The bindings the host indexes from function_app.py, as it sees them (setting names in
    f-strings and constants resolved), rather than a regex over the source. Once per session:
    the SDK's get_functions() refuses to run twice."""
    if not FUNCTION_APP.exists():
        pytest.fail(f"{FUNCTION_APP.name} is missing: its bindings are checked against infra/")
    import function_app

    return [
        binding.get_dict_repr()
        for function in function_app.app.get_functions()
        for binding in function.get_bindings()
    ]


def test_bicep_sets_exactly_the_settings_the_app_reads() -> None:
    expected = (
        set(settings.APP_SETTINGS)
        | identity_connection(settings.STORAGE_CONNECTION)
        | identity_connection("AzureWebJobsStorage")
        | PLATFORM_SETTINGS
    )
    actual = set(bicep_settings())
    assert actual == expected, (
        f"missing from Bicep: {sorted(expected - actual)}; not read by the app: "
        f"{sorted(actual - expected)}"
    )
    assert not actual & FLEX_FORBIDDEN


def test_connections_are_identity_based() -> None:
    values = bicep_settings()
    for name in ("AzureWebJobsStorage", settings.STORAGE_CONNECTION):
        assert values[f"{name}__credential"] == "managedidentity"
    assert not any("ConnectionString" in key or "AccountKey" in str(v) for key, v in values.items())


def test_bicep_values_are_valid_for_the_app() -> None:
    values = bicep_settings()
    secret = settings.WEBHOOK_SECRET  # a secure parameter, new per deployment: not a literal
    env = {name: values[name] for name in settings.APP_SETTINGS if name != secret}
    assert all(isinstance(value, str) for value in env.values())
    assert settings.Settings.from_env(env) == settings.Settings()
    assert "webhookSecret" in str(values[secret])
    assert "@secure()\n" in FUNCTION_MODULE.read_text().split("param webhookSecret")[0][-200:]
    assert len(env[settings.SWEEP_SCHEDULE].split()) == 6  # NCRONTAB with seconds


def test_the_site_deploys_the_checked_settings() -> None:
    site = parse(FUNCTION_MODULE)["resources"]["app"]["config"]
    loop = site["properties"]["siteConfig"]["appSettings"]["loop_type"]["detail"]["array_name"]
    assert loop == {"function": {"type": "items", "parameters": {"arg_1": "appSettings"}}}
    config_children = [
        r for r in parse(FUNCTION_MODULE)["resources"].values() if r["type"].endswith("/config")
    ]
    assert not config_children, "app settings belong in appSettings, in one place"


def test_every_binding_setting_in_function_app_is_set() -> None:
    values = [v for b in function_app_bindings() for v in b.values() if isinstance(v, str)]
    referenced = {name for value in values for name in re.findall(r"%([A-Za-z0-9_]+)%", value)}
    assert settings.SWEEP_SCHEDULE in referenced, "the timer's schedule comes from a setting"
    assert referenced <= set(bicep_settings()), sorted(referenced - set(bicep_settings()))


def test_every_binding_connection_in_function_app_is_set() -> None:
    connections = {
        binding.get("connection") or "AzureWebJobsStorage"
        for binding in function_app_bindings()
        if binding["type"] in ("queueTrigger", "queue", "blobTrigger", "blob", "table")
    }
    assert settings.STORAGE_CONNECTION in connections
    for name in connections:
        assert identity_connection(name) <= set(bicep_settings()), name


def test_every_triggered_queue_is_created() -> None:
    queues = {b["queueName"] for b in function_app_bindings() if b["type"] == "queueTrigger"}
    assert queues == set(variable(STORAGE_MODULE, "jobQueues"))
