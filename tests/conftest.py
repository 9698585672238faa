"""Fixtures shared by every suite: one private Azurite per test session, and one local host
running the service over it (a second host on the same storage would take half the work)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.azurite import Azurite, start_azurite
from tests.e2e.conftest import SETTINGS, Api, start_api


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = start_azurite()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def api(azurite: Azurite) -> Iterator[Api]:
    running = start_api(azurite, SETTINGS)
    yield running
    running.host.stop()
