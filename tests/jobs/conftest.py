"""These tests drive the domain directly, so they get an Azurite no local host listens to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.azurite import Azurite, start_azurite
from jobs.dispatch import small_tasks


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    server = start_azurite()
    yield server
    server.stop()


@pytest.fixture
def fan_out_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Submit leaves every task to its fan-out message, as it does a large or delayed one, so a
    test of the fan-out's own races can use a batch small enough to read."""
    monkeypatch.setattr(small_tasks, "eligible", lambda task, body_bytes: False)
