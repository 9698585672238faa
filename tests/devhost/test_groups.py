"""``--group``: the HTTP-triggered functions in one host, every other function in another, as
Flex Consumption scales its http group on instances of its own (scripts/serve runs both)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import requests

from harness.azurite import Azurite
from harness.localhost import RunningHost, start_devhost
from harness.polling import wait_until
from tests.devhost.conftest import APPS


@pytest.fixture
def hosts(azurite: Azurite) -> Iterator[dict[str, RunningHost]]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "AzureFunctionsWebHost__hostid": f"g{uuid.uuid4().hex[:20]}",
    }
    started: dict[str, RunningHost] = {}
    try:
        for group in ("http", "background"):
            started[group] = start_devhost(APPS / "groups", env, args=["--group", group])
        yield started
    finally:
        for host in started.values():
            host.kill()


def test_each_group_runs_only_its_own_functions(hosts: dict[str, RunningHost]) -> None:
    http, background = hosts["http"], hosts["background"]

    assert requests.get(f"{http.api}/ping", timeout=30).text == "pong"
    assert requests.get(f"{background.api}/ping", timeout=30).status_code == 404
    wait_until(
        lambda: "timer ran at start-up" in background.logs(),
        timeout=30,
        message="the timer in the background host",
    )
    assert "Group 'http': left to the other group's host: at_startup" in http.logs()
    assert "Group 'background': left to the other group's host: ping" in background.logs()
    assert "Functions.at_startup" not in http.logs()
    assert "timer ran at start-up" not in http.logs()


def test_an_unknown_group_is_refused(azurite: Azurite) -> None:
    host = start_devhost(APPS / "groups", {}, args=["--group", "queues"], wait=False)
    assert host.process.wait(timeout=30) == 2
    assert "invalid choice: 'queues'" in host.logs()
