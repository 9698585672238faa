"""Indexing failures: the host starts anyway and says why (partial startup).

A function the host cannot index is disabled and logged; one the worker cannot load fails the
worker's whole index, and the host then runs with no functions (GrpcWorkerChannel.cs in
Azure/azure-functions-host, loader.py/functions.py in azure-functions-python-worker).
"""

from __future__ import annotations

from pathlib import Path

import requests

from harness.azurite import Azurite
from harness.localhost import RunningHost, start_devhost
from harness.polling import wait_until
from tests.devhost.conftest import APPS


def _started(app: Path, env: dict[str, str]) -> RunningHost:
    host = start_devhost(app, env)
    wait_until(lambda: "Host started" in host.logs(), timeout=10, message="start-up logged")
    return host


def test_duplicate_function_names_fail_the_whole_index_and_the_host_serves_nothing() -> None:
    host = _started(APPS / "duplicate", {})
    try:
        logs = host.logs()
        assert "Worker failed to index functions" in logs
        assert "does not have a unique function name" in logs
        assert "No job functions found." in logs
        assert requests.get(f"{host.api}/one").status_code == 404
    finally:
        assert host.stop() == 0


def test_an_unsupported_trigger_is_disabled_not_fatal() -> None:
    host = _started(APPS / "unsupported", {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    try:
        assert "The 'on_blob' function is in error" in host.logs()
        assert "'blobTrigger' are not supported by devhost" in host.logs()
    finally:
        assert host.stop() == 0


def test_a_missing_setting_disables_only_its_function(azurite: Azurite, tmp_path: Path) -> None:
    env = {
        "Store": azurite.connection_string,
        "RECORD_FILE": str(tmp_path / "r.jsonl"),
        "FAIL_QUEUE": "a-queue",
        "FLAKY_QUEUE": "b-queue",
        "ASYNC_QUEUE": "c-queue",
    }
    host = _started(APPS / "queues", env)
    try:
        logs = host.logs()
        assert "Error indexing method 'Functions.work'" in logs
        assert "'%WORK_QUEUE%' does not resolve to a value" in logs
        assert "Function 'Functions.work' failed indexing and will be disabled." in logs
        assert "failed indexing" not in logs.replace("'Functions.work' failed indexing", "")
    finally:
        assert host.stop() == 0


def test_a_missing_connection_disables_the_functions_that_use_it(tmp_path: Path) -> None:
    env = {
        "RECORD_FILE": str(tmp_path / "r.jsonl"),
        "FAIL_QUEUE": "a-queue",
        "FLAKY_QUEUE": "b-queue",
        "WORK_QUEUE": "c-queue",
        "ASYNC_QUEUE": "d-queue",
    }
    host = _started(APPS / "queues", env)
    try:
        logs = host.logs()
        assert "Storage account connection string 'AzureWebJobsStore' does not exist" in logs
        for name in ("always_fails", "async_work", "flaky", "work"):
            assert f"Function 'Functions.{name}' failed indexing and will be disabled." in logs
    finally:
        assert host.stop() == 0
