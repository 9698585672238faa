"""The conformance suite: each test runs a tiny app on a real devhost against real Azurite and
checks one rule of the real host, the Python worker or the storage extension, citing the source
file the rule comes from (repository and path in each test's docstring)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient, QueueServiceClient

from harness.azurite import Azurite
from harness.localhost import RunningHost, start_devhost
from tests.devhost.conftest import Records

APPS = Path(__file__).parent / "apps"


@dataclass
class Stage:
    """Fresh queue names, a record file and the hosts a test starts (killed at the end)."""

    azurite: Azurite
    tmp_path: Path
    records: Records
    env: dict[str, str]
    hosts: list[RunningHost] = field(default_factory=list)

    def queue(self, setting: str) -> str:
        """A new queue, created, whose name goes to the app through ``setting``."""
        name = f"c{uuid.uuid4().hex[:12]}-{setting.split('_')[0].lower()}"
        self.service().create_queue(name)
        self.env[setting] = name
        return name

    def service(self) -> QueueServiceClient:
        return QueueServiceClient.from_connection_string(self.azurite.connection_string)

    def client(self, name: str) -> QueueClient:
        return self.service().get_queue_client(name)

    def send(self, queue: str, body: bytes) -> None:
        self.client(queue).send_message(base64.b64encode(body).decode())

    def send_raw(self, queue: str, content: str) -> None:
        self.client(queue).send_message(content)

    def peek(self, queue: str) -> list[str]:
        try:
            return [str(m.content) for m in self.client(queue).peek_messages(max_messages=32)]
        except Exception:
            return []

    def depth(self, queue: str) -> int:
        return int(self.client(queue).get_queue_properties().approximate_message_count or 0)

    def start(self, app: str, **extra: str) -> RunningHost:
        host = start_devhost(APPS / app, {**self.env, **extra})
        self.hosts.append(host)
        return host


@pytest.fixture
def stage(azurite: Azurite, tmp_path: Path) -> Iterator[Stage]:
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "RECORD_FILE": str(tmp_path / "records.jsonl"),
        "AzureFunctionsWebHost__hostid": f"c{uuid.uuid4().hex[:20]}",
    }
    stage = Stage(azurite, tmp_path, Records(tmp_path / "records.jsonl"), env)
    yield stage
    for host in stage.hosts:
        host.kill()
