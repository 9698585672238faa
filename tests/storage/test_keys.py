"""The jobs table's key map: every family's keys land in that family and no other, whatever
the task id, the key, the state, the kind or the day."""

from __future__ import annotations

import hashlib
import string
import uuid

import pytest

from jobs.core.models import TaskStatus
from jobs.storage import keys
from jobs.storage.keys import Family, family_of

TASK_IDS = [str(uuid.uuid4()) for _ in range(200)] + [
    str(uuid.UUID(int=0)),
    str(uuid.UUID(int=2**128 - 1)),
]


def examples() -> list[tuple[str, Family]]:
    made = [(task_id, Family.TASK) for task_id in TASK_IDS]
    made += [
        (keys.key_partition(hashlib.sha256(text.encode()).hexdigest()), Family.KEY)
        for text in ("", "a", "batch-42", "schedule:nightly:1:2026-01-01T00:00:00Z")
    ]
    made += [(keys.index_partition(state.value), Family.INDEX) for state in TaskStatus]
    made += [(keys.MINUTES_PARTITION, Family.MINUTES), (keys.SCHEDULES_PARTITION, Family.SCHEDULES)]
    made += [
        (keys.retention_partition(day), Family.RETENTION)
        for day in ("2026-01-01T00:00:00.000Z", "1999-12-31T23:59:59.999Z")
    ]
    made += [
        (keys.limit_partition(kind), Family.LIMIT)
        for kind in ("gated", "paced", "a", "key", "tasks", "retention", "stats-minutes", "0")
    ]
    return made


def test_any_task_id_is_a_task_partition() -> None:
    for task_id in [str(uuid.uuid4()) for _ in range(1000)]:
        assert family_of(task_id) is Family.TASK, task_id


@pytest.mark.parametrize(("partition", "family"), examples())
def test_every_scheme_lands_in_its_own_family(partition: str, family: Family) -> None:
    assert family_of(partition) is family


def test_no_prefix_can_start_a_task_id_or_another_prefix() -> None:
    named = [keys.KEY_PREFIX, keys.INDEX_PREFIX, keys.RETENTION_PREFIX,
             keys.MINUTES_PARTITION, keys.SCHEDULES_PARTITION, keys.LIMIT_PREFIX]  # fmt: skip
    uuid_characters = set(string.hexdigits.lower()) | {"-"}
    for prefix in named:
        assert prefix[0] not in uuid_characters, prefix
        others = [other for other in named if other != prefix]
        assert not any(other.startswith(prefix) for other in others), prefix


@pytest.mark.parametrize(
    "partition", ["", "Task", "tasks", "key", "stats-minute", "x-1", "limit", "limits"]
)
def test_a_key_no_scheme_makes_belongs_to_no_family(partition: str) -> None:
    with pytest.raises(ValueError, match="no family"):
        family_of(partition)


def test_row_keys_of_a_task_sort_task_shards_jobs() -> None:
    """A status read queries from ``shard-`` on: the task row must sort after every job row
    and shards after jobs, so that one range holds the shards and the task row only."""
    rows = [keys.job_key(0), keys.job_key(99_999_999), keys.shard_key(0), keys.shard_key(31),
            keys.TASK_ROW]  # fmt: skip
    assert rows == sorted(rows)
    assert keys.job_key(99_999_999) < keys.JOBS_END <= keys.SHARD_PREFIX


def test_slot_rows_sort_before_the_rate_row_and_hold_every_slot() -> None:
    """A claim reads the slots in one range query (``slot-`` to ``slot.``): every slot a kind
    may declare is inside it, and the rate row is not."""
    slots = [keys.slot_key(0), keys.slot_key(999)]
    assert all(keys.SLOT_PREFIX <= slot < keys.SLOTS_END for slot in slots)
    assert not keys.SLOT_PREFIX <= keys.rate_key(0) < keys.SLOTS_END
    assert slots == sorted(slots)
