"""Every key of the ``jobs`` table, in one place. The table holds seven families of rows; each
family's partitions are told apart by their first characters, so no two can ever meet:

| family | PartitionKey | RowKey |
| --- | --- | --- |
| a task | its id, a UUID | ``task``, ``shard-…`` (counters, progress), ``job-NNNNNNNN`` |
| an idempotency key | ``key-<sha256 of the key>`` | ``key`` |
| the task index | ``tasks-<state>`` | ``t-<position>``, ``k-<kind>-<position>`` |
| throughput | ``stats-minutes`` | ``minute-NN``, ``clock`` |
| schedules | ``schedules`` | the schedule's name |
| retention | ``retention-<YYYYMMDD>`` | the task id |
| a kind's limits | ``limit-<kind>`` | ``slot-NNN``, ``rate-N`` |

A UUID starts with a hex digit; every other family's partition starts with a letter past
``f`` (k, t, s, r, l), and none of their prefixes starts another's. ``family_of`` says which
family a partition belongs to, and the tests hold every scheme to it.

Which rows a family's module writes, and how they map to its model, is that module's: the
task's own rows and the keys in jobs.storage.jobs_table, the index in jobs.reads.task_index,
minutes in jobs.reads.throughput, schedules in jobs.schedules.definitions, retention rows in
jobs.task_end.retention_index, a kind's limits in jobs.lifecycle.limits."""

from __future__ import annotations

import uuid
from enum import StrEnum

# -- a task's partition ---------------------------------------------------------------------
TASK_ROW = "task"
SHARD_PREFIX = "shard-"
JOB_PREFIX = "job-"
JOBS_END = "job."  # the first key after every job row


def job_key(index: int) -> str:
    return f"{JOB_PREFIX}{index:08d}"


def shard_key(number: int) -> str:
    return f"{SHARD_PREFIX}{number:02d}"


def shard_number(row: str) -> int | None:
    """The counter shard ``row`` is, or None for another row of the status read's range."""
    rest = row.removeprefix(SHARD_PREFIX)
    return int(rest) if rest != row and rest.isascii() and rest.isdigit() else None


# One row per writer (a worker process, or one of its threads) that moves the task's jobs:
# the counts of the moves it wrote, as changes (a task counted by writers: jobs.lifecycle).
WRITER_PREFIX = f"{SHARD_PREFIX}w-"


def writer_key(writer: str) -> str:
    return f"{WRITER_PREFIX}{writer}"


def is_counter(row: str) -> bool:
    """A counter row of either layout: a shard (``shard-NN``) or a writer's (``shard-w-…``)."""
    return shard_number(row) is not None or row.startswith(WRITER_PREFIX)


# One row per writer (a worker process) that runs the task's jobs: the progress its running
# jobs reported, added up. Inside the status read's range (``shard-`` to the task row).
PROGRESS_PREFIX = f"{SHARD_PREFIX}p-"


def progress_key(writer: str) -> str:
    return f"{PROGRESS_PREFIX}{writer}"


# -- idempotency keys -------------------------------------------------------------------------
KEY_PREFIX = "key-"
KEY_ROW = "key"


def key_partition(key_hash: str) -> str:
    return f"{KEY_PREFIX}{key_hash}"


# -- the task index ---------------------------------------------------------------------------
INDEX_PREFIX = "tasks-"
INDEX_ALL_ROWS = "t-"
INDEX_KIND_ROWS = "k-"


def index_partition(state: str) -> str:
    return f"{INDEX_PREFIX}{state}"


# -- throughput -----------------------------------------------------------------------------
MINUTES_PARTITION = "stats-minutes"
MINUTE_ROWS = "minute-"
CLOCK_ROW = "clock"  # when the last sample was taken


def minute_key(minute_of_hour: int) -> str:
    return f"{MINUTE_ROWS}{minute_of_hour:02d}"


# -- schedules ------------------------------------------------------------------------------
SCHEDULES_PARTITION = "schedules"

# -- retention ------------------------------------------------------------------------------
RETENTION_PREFIX = "retention-"


def retention_partition(finished_at: str) -> str:
    """The day partition of an end stamped ``finished_at`` (UTC ISO 8601)."""
    return RETENTION_PREFIX + finished_at[:10].replace("-", "")


def prefix_end(prefix: str) -> str:
    """The first key after every key that starts with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# -- a kind's limits -------------------------------------------------------------------------
LIMIT_PREFIX = "limit-"
SLOT_PREFIX = "slot-"
SLOTS_END = "slot."  # the first key after every slot row
RATE_PREFIX = "rate-"


def limit_partition(kind: str) -> str:
    """The partition of ``kind``'s concurrency slots and rate counter (kind names are
    ``[a-z][a-z0-9_-]*``: jobs.kinds.base checks them)."""
    return f"{LIMIT_PREFIX}{kind}"


def slot_key(number: int) -> str:
    return f"{SLOT_PREFIX}{number:03d}"


def rate_key(number: int) -> str:
    return f"{RATE_PREFIX}{number}"


class Family(StrEnum):
    TASK = "task"
    KEY = "key"
    INDEX = "index"
    MINUTES = "minutes"
    SCHEDULES = "schedules"
    RETENTION = "retention"
    LIMIT = "limit"


_PREFIXES = (
    (KEY_PREFIX, Family.KEY),
    (INDEX_PREFIX, Family.INDEX),
    (RETENTION_PREFIX, Family.RETENTION),
    (LIMIT_PREFIX, Family.LIMIT),
)


def family_of(partition: str) -> Family:
    """The one family ``partition`` belongs to; ValueError for a key none of them makes."""
    if partition == MINUTES_PARTITION:
        return Family.MINUTES
    if partition == SCHEDULES_PARTITION:
        return Family.SCHEDULES
    for prefix, family in _PREFIXES:
        if partition.startswith(prefix):
            return family
    try:
        if str(uuid.UUID(partition)) == partition:
            return Family.TASK
    except ValueError:
        pass
    raise ValueError(f"no family of the jobs table has the partition {partition!r}")
