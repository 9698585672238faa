"""These tests drive the domain directly, so they get an Azurite no local host listens to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.azurite import Azurite, start_azurite


@pytest.fixture(scope="module")
def azurite() -> Iterator[Azurite]:
    server = start_azurite()
    yield server
    server.stop()
