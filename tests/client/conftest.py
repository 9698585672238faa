"""The client and the ``jobs`` command against the service on the local host over Azurite,
the command run as users run it: the console script that scripts/bootstrap installs, in a
process of its own.

The service is tests/e2e's (its settings and ``Api``), on an Azurite of its own and stopped
when this package's tests end. Importing tests/e2e's session fixture here would start a second
host on the shared Azurite that lives on through the other suites, taking their queue messages
and the timers' singleton lease (so their sweeps run in a host whose log they do not read)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.azurite import REPO, start_azurite
from harness.localhost import start_devhost
from jobs.storage.provision import provision
from tests.e2e.conftest import SETTINGS, Api

SCRIPT = Path(sys.executable).parent / "jobs"


@dataclass
class Jobs:
    """Runs ``jobs`` against one service."""

    url: str
    cwd: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOBS_")}
        return {**env, "JOBS_URL": self.url}

    def __call__(
        self, *args: str, input: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self.run(args, input=input, timeout=timeout)

    def run(
        self, args: Sequence[str], *, input: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(SCRIPT), *args],
            input=input,
            capture_output=True,
            cwd=self.cwd,
            env=self.env(),
            timeout=timeout,
            check=False,
        )
        return subprocess.CompletedProcess(
            done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
        )


@pytest.fixture(scope="package")
def api() -> Iterator[Api]:
    storage = start_azurite()
    env = {
        "JobsStorage": storage.connection_string,
        "AzureWebJobsStorage": storage.connection_string,
    }
    try:
        provision(env)
        host = start_devhost(REPO, {**env, **SETTINGS})
        try:
            yield Api(host, storage)
        finally:
            host.stop()
    finally:
        storage.stop()


@pytest.fixture
def jobs(api: Api, tmp_path: Path) -> Jobs:
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing: scripts/bootstrap installs the jobs command")
    return Jobs(api.host.api, tmp_path)
