"""Helpers for devhost tests: fresh queue names per test, records written by the test apps."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueClient, QueueServiceClient

from harness.azurite import Azurite
from harness.localhost import RunningHost

APPS = Path(__file__).parent / "apps"
QUEUE_SETTINGS = ("FAIL_QUEUE", "FLAKY_QUEUE", "WORK_QUEUE", "ASYNC_QUEUE")


@dataclass
class Records:
    path: Path

    def all(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def of(self, function: str, **match: Any) -> list[dict[str, Any]]:
        return [
            r
            for r in self.all()
            if r.get("function") == function and all(r.get(k) == v for k, v in match.items())
        ]


@dataclass
class QueueApp:
    """Settings for the queues test app: one fresh queue per function, one record file."""

    azurite: Azurite
    records: Records
    queues: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    hosts: list[RunningHost] = field(default_factory=list)

    def client(self, setting: str, suffix: str = "") -> QueueClient:
        service = QueueServiceClient.from_connection_string(self.azurite.connection_string)
        return service.get_queue_client(self.queues[setting] + suffix)

    def send(self, setting: str, body: bytes | str, *, raw: bool = False) -> str:
        client = self.client(setting)
        data = body.encode() if isinstance(body, str) else body
        content = data.decode() if raw else base64.b64encode(data).decode()
        return str(client.send_message(content).id)

    def peek_all(self, setting: str, suffix: str = "") -> list[str]:
        client = self.client(setting, suffix)
        try:
            return [str(m.content) for m in client.peek_messages(max_messages=32)]
        except Exception:
            return []


@pytest.fixture
def queue_app(azurite: Azurite, tmp_path: Path) -> Iterator[QueueApp]:
    tag = uuid.uuid4().hex[:10]
    queues = {name: f"t{tag}-{name.split('_')[0].lower()}" for name in QUEUE_SETTINGS}
    env = {
        "Store": azurite.connection_string,
        "AzureWebJobsStorage": azurite.connection_string,
        "RECORD_FILE": str(tmp_path / "records.jsonl"),
        **queues,
    }
    app = QueueApp(azurite, Records(tmp_path / "records.jsonl"), queues, env)
    service = QueueServiceClient.from_connection_string(azurite.connection_string)
    for name in queues.values():
        service.create_queue(name)
    yield app
    for host in app.hosts:
        host.kill()
