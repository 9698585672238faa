"""Indexing failures stop the start, with a non-zero exit and the reason in the output."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.azurite import Azurite
from harness.localhost import start_devhost
from tests.devhost.conftest import APPS


def _failed_start(app: Path, env: dict[str, str]) -> str:
    host = start_devhost(app, env, wait=False)
    try:
        code = host.process.wait(timeout=30)
    finally:
        host.kill()
    assert code != 0
    return host.logs()


def test_duplicate_function_names() -> None:
    assert "does not have a unique function name" in _failed_start(APPS / "duplicate", {})


def test_unsupported_trigger() -> None:
    env = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    assert "'blobTrigger' is not supported" in _failed_start(APPS / "unsupported", env)


def test_missing_setting_in_a_binding_expression(azurite: Azurite, tmp_path: Path) -> None:
    env = {
        "Store": azurite.connection_string,
        "RECORD_FILE": str(tmp_path / "r.jsonl"),
        "FAIL_QUEUE": "a-queue",
        "FLAKY_QUEUE": "b-queue",
        "ASYNC_QUEUE": "c-queue",
    }
    assert "'%WORK_QUEUE%' does not resolve to a value" in _failed_start(APPS / "queues", env)


@pytest.mark.parametrize("missing", ["Store"])
def test_missing_connection(missing: str, tmp_path: Path) -> None:
    env = {
        "RECORD_FILE": str(tmp_path / "r.jsonl"),
        "FAIL_QUEUE": "a-queue",
        "FLAKY_QUEUE": "b-queue",
        "WORK_QUEUE": "c-queue",
        "ASYNC_QUEUE": "d-queue",
    }
    assert f"AzureWebJobs{missing}' does not exist" in _failed_start(APPS / "queues", env)
