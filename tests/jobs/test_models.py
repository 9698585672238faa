"""Counting, messages and settings: the rules that need no storage."""

from __future__ import annotations

import base64

import pytest

from jobs.connection import StorageConnection
from jobs.errors import ConfigurationError
from jobs.models import (
    CancelMessage,
    Counts,
    FanOutMessage,
    Job,
    JobStatus,
    RunMessage,
    parse_message,
)
from jobs.queues import _decode
from jobs.runner import _runnable
from jobs.settings import Settings


def test_a_move_takes_one_from_the_old_status_and_gives_it_to_the_new() -> None:
    counts = Counts().moved(JobStatus.PENDING, JobStatus.IN_PROGRESS)
    counts = counts.moved(JobStatus.IN_PROGRESS, JobStatus.COMPLETED)
    counts = counts.moved(JobStatus.PENDING, JobStatus.FAILED)
    assert counts == Counts(in_progress=0, completed=1, failed=1, cancelled=0)
    assert counts.as_dict(total=5) == {
        "pending": 3, "in_progress": 0, "completed": 1, "failed": 1, "cancelled": 0,
    }  # fmt: skip


def test_shards_add_up() -> None:
    assert Counts(1, 2, 3, 4) + Counts(10, 20, 30, 40) == Counts(11, 22, 33, 44)


@pytest.mark.parametrize(
    "message",
    [RunMessage("t-1", 42, 3), RunMessage("t-1", 0), FanOutMessage("t-2"), CancelMessage("t-3")],
)
def test_messages_round_trip(message: RunMessage | FanOutMessage | CancelMessage) -> None:
    assert parse_message(message.to_json()) == message


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "[]",
        '{"op": "run"}',
        '{"op": "run", "task_id": "t", "job_id": "12"}',
        '{"op": "run", "task_id": "t", "job_id": "00000001", "gen": "x"}',
        '{"op": "launch", "task_id": "t"}',
    ],
)
def test_anything_else_is_not_a_message(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every rejection is a ValueError
        parse_message(text)


def test_poison_messages_are_read_base64_or_raw() -> None:
    message = RunMessage("t", 7)
    encoded = base64.b64encode(message.to_json().encode()).decode()
    assert _decode(encoded) == message
    assert _decode(message.to_json()) == message  # a raw copy from the decode-failure path
    assert _decode("%%% not ours %%%") is None


def test_only_a_newer_generation_reopens_a_failed_job() -> None:
    failed = Job("t", 0, "echo", status=JobStatus.FAILED, generation=1)
    assert not _runnable(failed, RunMessage("t", 0, 1))
    assert _runnable(failed, RunMessage("t", 0, 2))
    assert not _runnable(Job("t", 0, "echo", generation=2), RunMessage("t", 0, 1))
    assert not _runnable(Job("t", 0, "echo", status=JobStatus.COMPLETED), RunMessage("t", 0, 5))
    assert _runnable(Job("t", 0, "echo", status=JobStatus.IN_PROGRESS), RunMessage("t", 0))


def test_settings_have_defaults_and_reject_nonsense() -> None:
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({"JOBS_TEST_KINDS": "True", "JOBS_MAX_ITEMS": "7"}).max_items == 7
    for bad in (
        {"JOBS_MAX_ITEMS": "many"},
        {"JOBS_MAX_ITEMS": "0"},
        {"JOBS_TEST_KINDS": "perhaps"},
        {"JOBS_DISPATCH_WINDOW": "100"},  # not a multiple of the counter shards
    ):
        with pytest.raises(ConfigurationError, match=next(iter(bad))):
            Settings.from_env(bad)


def test_connections_resolve_like_the_host() -> None:
    assert StorageConnection.from_env("S", {"S": "UseDevelopmentStorage=true"}).connection_string
    assert StorageConnection.from_env("S", {"AzureWebJobsS": "x=y"}).connection_string == "x=y"
    identity = StorageConnection.from_env("S", {"S__accountName": "acct", "S__clientId": "id-1"})
    assert identity.connection_string is None
    assert identity.queue_url == "https://acct.queue.core.windows.net"
    assert identity.client_id == "id-1"
    custom = StorageConnection.from_env("S", {"S__tableServiceUri": "https://t.example"})
    assert custom.table_url == "https://t.example"
    assert custom.blob_url is None
    with pytest.raises(ConfigurationError, match="S__accountName"):
        StorageConnection.from_env("S", {})
