"""Fixtures shared by every suite: one private Azurite per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.azurite import Azurite, start_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = start_azurite()
    yield server
    server.stop()
