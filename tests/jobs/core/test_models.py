"""Counting, a task's overall status, messages and ids: the rules that need no storage."""

from __future__ import annotations

import re

import pytest

from jobs.core.messages import (
    CancelMessage,
    FanOutMessage,
    Message,
    RetryMessage,
    RunMessage,
    parse_message,
)
from jobs.core.models import (
    Counts,
    JobStatus,
    RetryRound,
    Setup,
    Task,
    TaskStatus,
    TaskSummary,
    canonical_task_id,
    job_index,
)

TASK = "5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c"


def test_a_move_takes_one_from_the_old_status_and_gives_it_to_the_new() -> None:
    counts = Counts().moved(JobStatus.PENDING, JobStatus.IN_PROGRESS)
    counts = counts.moved(JobStatus.IN_PROGRESS, JobStatus.COMPLETED)
    counts = counts.moved(JobStatus.PENDING, JobStatus.FAILED)
    assert counts == Counts(in_progress=0, completed=1, failed=1, cancelled=0)
    summary = TaskSummary.of(_task(total=5), counts)
    assert dict(summary.counts) == {
        JobStatus.PENDING: 3, JobStatus.IN_PROGRESS: 0, JobStatus.COMPLETED: 1,
        JobStatus.FAILED: 1, JobStatus.CANCELLED: 0,
    }  # fmt: skip


def test_shards_add_up() -> None:
    assert Counts(1, 2, 3, 4) + Counts(10, 20, 30, 40) == Counts(11, 22, 33, 44)


@pytest.mark.parametrize(
    "message",
    [
        RunMessage(TASK, 42, 3),
        RunMessage(TASK, 0),
        FanOutMessage(TASK),
        CancelMessage(TASK),
        RetryMessage(TASK, 2),
    ],
)
def test_messages_round_trip(message: Message) -> None:
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
        '{"op": "fanout", "task_id": "not-a-uuid"}',
        f'{{"op": "fanout", "task_id": "{TASK.upper()}"}}',  # ours are always lower case
        f'{{"op": "run", "task_id": "{TASK}", "job_id": "00000001", "gen": -1}}',
        f'{{"op": "retry", "task_id": "{TASK}", "round": 0}}',
    ],
)
def test_anything_else_is_not_a_message(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - every rejection is a ValueError
        parse_message(text)


def _task(total: int, **fields: object) -> Task:
    now = "2026-01-01T00:00:00.000Z"
    return Task("t", "echo", "jobs", total, 32, now, now, "hash", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counts", "fields", "status"),
    [
        (Counts(completed=3), {}, TaskStatus.RUNNING),  # one job not yet counted: pending
        (Counts(in_progress=1, completed=3), {}, TaskStatus.RUNNING),
        (Counts(completed=4), {}, TaskStatus.COMPLETED),
        (Counts(completed=3, failed=1), {}, TaskStatus.COMPLETED_WITH_FAILURES),
        (Counts(completed=1, cancelled=3), {"cancelled": True}, TaskStatus.CANCELLED),
        (Counts(completed=4), {"cancelled": True}, TaskStatus.COMPLETED),  # cancelled too late
        (Counts(completed=1), {"setup": Setup.FAILED}, TaskStatus.COMPLETED_WITH_FAILURES),
        (Counts(completed=3, failed=1), {"retry": RetryRound(number=1)}, TaskStatus.RUNNING),
    ],
)
def test_a_task_is_running_until_every_job_has_ended(
    counts: Counts, fields: dict[str, object], status: TaskStatus
) -> None:
    summary = TaskSummary.of(_task(4, **fields), counts)
    assert summary.status is status
    assert sum(summary.counts.values()) == 4


def test_a_task_whose_batch_never_became_jobs_counts_its_unstarted_jobs_failed() -> None:
    summary = TaskSummary.of(_task(10, setup=Setup.FAILED), Counts(completed=2))
    assert summary.counts[JobStatus.FAILED] == 8
    assert summary.counts[JobStatus.PENDING] == 0


def test_task_ids_have_one_spelling() -> None:
    spelled = "5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c"
    for other in (spelled.upper(), "{" + spelled + "}", spelled.replace("-", "")):
        assert canonical_task_id(other) == spelled
    for other in ("urn:uuid:" + spelled, "{" + spelled.upper() + "}"):
        assert canonical_task_id(other) == spelled
    arabic = spelled.translate(str.maketrans("0123456789", "".join(map(chr, range(0x660, 0x66A)))))
    for nonsense in ("", "not-a-task", "5b0c7a7e", "../x", arabic, " " + spelled[1:],
                     "+" + spelled[1:], "{{" + spelled + "}"):  # fmt: skip
        assert canonical_task_id(nonsense) is None


def test_job_ids_are_eight_ascii_digits() -> None:
    assert job_index("00000001") == 1
    arabic = "\u0660" * 7 + "\u0661"  # 00000001 in Arabic-Indic digits
    for nonsense in (arabic, "0000001", "000000001", "+0000001", " 0000001", "0000000x"):
        with pytest.raises(ValueError, match=re.escape(nonsense)):
            job_index(nonsense)
