"""These tests drive the domain directly, so they get an Azurite no local host listens to; and
what tests of several packages share on the in-memory twin: a service that sends webhooks, a
picker for the transaction that writes a given task property, and a crash."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest

from composition import Service
from harness.azurite import Azurite, start_azurite
from jobs.core.resources import all_queues
from jobs.core.settings import Settings
from jobs.dispatch import small_tasks
from jobs.storage import Write
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore
from tests.jobs.lifecycle.test_writer import Crash, Interfering

SECRET = "test-secret"
HOOK = "https://receiver.test/hook"
PERMANENT = {"permanent": True}


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


def make_service(table: Interfering, window: int = 32) -> Service:
    settings = Settings(
        test_kinds=True,
        dispatch_window=window,
        webhook_secret=SECRET,
        callback_allowed_hosts=frozenset({"receiver.test"}),
    )
    return Service.over(settings, table, MemoryQueueStore(all_queues()), MemoryBlobStore())


def writes_task(prop: str, value: object = None) -> Callable[[Sequence[Write]], bool]:
    """Picks a transaction that writes ``prop`` (with ``value``, when given) on the task row."""

    def picks(writes: Sequence[Write]) -> bool:
        return any(
            w.row == "task" and prop in w.props and (value is None or w.props[prop] == value)
            for w in writes
        )

    return picks


def crash() -> None:
    raise Crash
