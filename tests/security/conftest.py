"""The service as an attacker with a valid function key meets it: function_app.py on the local
host, over an Azurite of its own (so no other test's host takes its jobs), with the input
settings these tests cross. Plus a look at the worker process's memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.azurite import Azurite, start_azurite
from jobs.core.resources import INPUTS_CONTAINER
from tests.e2e.conftest import SETTINGS, Api, start_api

MiB = 1024 * 1024
MAX_INPUT_BYTES = 96 * MiB
GUARDED_SETTINGS = {
    **SETTINGS,
    "JOBS_INPUT_CONTAINERS": INPUTS_CONTAINER,
    "JOBS_MAX_INPUT_BYTES": str(MAX_INPUT_BYTES),
    "JOBS_OUTPUT_LINK_MINUTES": "5",
}


@pytest.fixture(scope="package")
def own_azurite() -> Iterator[Azurite]:
    server = start_azurite()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def guarded(own_azurite: Azurite) -> Iterator[Api]:
    """The API of a host that may read only `job-inputs`, inputs of at most 96 MiB."""
    running = start_api(own_azurite, GUARDED_SETTINGS)
    yield running
    running.host.stop()


@dataclass(frozen=True)
class Memory:
    rss: int  # resident now, bytes
    peak: int  # the most resident since the last reset_peak, bytes


class Worker:
    """The host's worker process (the one running function_app.py), read from /proc."""

    def __init__(self, api: Api) -> None:
        self.api = api

    @property
    def pid(self) -> int:
        host = self.api.host.process.pid
        children = Path(f"/proc/{host}/task/{host}/children").read_text().split()
        workers = [
            int(pid)
            for pid in children
            if b"devhost.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(workers) == 1, f"expected one worker process under the host, found {workers}"
        return workers[0]

    def memory(self) -> Memory:
        fields = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
        )
        return Memory(_kib(fields["VmRSS"]), _kib(fields["VmHWM"]))

    def reset_peak(self) -> None:
        """From now on the peak counts from the current resident size (Linux: clear_refs 5)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")


def _kib(value: str) -> int:
    number, unit = value.split()
    assert unit == "kB"
    return int(number) * 1024
