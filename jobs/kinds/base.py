"""What a kind is, and what its handler is given besides the item."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import TypeAdapter

from jobs.core.models import JsonValue
from jobs.core.resources import DEFAULT_QUEUE
from jobs.kinds.files import Files

Reporter = Callable[[float, "str | None"], None]
Saver = Callable[[JsonValue], None]

# host.json's maxDequeueCount: the host runs a job's message this many times, then poisons it.
HOST_MAX_ATTEMPTS = 5
# host.json's functionTimeout (10 minutes): a kind's own time limit must be shorter.
MAX_TIMEOUT = 600.0
# A kind's name is part of table keys (jobs.storage.keys.limit_partition) and of URLs.
KIND_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
# The most a kind may declare: a claim reads every slot in one query (a page holds 1,000 rows),
# and the rate counter is one row written at each start.
MAX_CONCURRENCY = 1000
MAX_RATE = 1000


def _ignore(fraction: float, message: str | None) -> None:
    return None


def _forget(state: JsonValue) -> None:
    return None


@dataclass(frozen=True)
class JobContext:
    task_id: str
    job_id: str
    attempt: int  # 1 on the first run; the queue message's dequeue count
    files: Files  # inputs it may read, outputs it writes
    reporter: Reporter = _ignore
    # The state an earlier attempt of this job saved with ``checkpoint`` (None: none did).
    checkpoint_state: JsonValue = None
    saver: Saver = _forget

    def report_progress(self, fraction: float, message: str | None = None) -> None:
        """Say how far the job has got (0 to 1), with an optional word on what it is doing.
        Shown on the job and rolled into its task's progress; cheap to call often (the
        runner writes at most about one report a second)."""
        self.reporter(min(1.0, max(0.0, float(fraction))), message)

    def checkpoint(self, state: JsonValue) -> None:
        """Save how far the job has got, as JSON: an attempt after a crash, a time-out or a
        failure reads it back as ``checkpoint_state`` and can carry on from there. Kept on the
        job (a blob when large) until the job ends. Each call writes it: checkpoint after a
        step worth keeping, not in a tight loop."""
        self.saver(state)


@dataclass(frozen=True)
class Kind:
    name: str
    # What an item must be: a pydantic model, or any type pydantic validates.
    input: Any
    # Called with the item validated as ``input``. Raise PermanentJobError when retrying
    # cannot help; any other exception is retried by the host.
    handler: Callable[[Any, JobContext], JsonValue]
    queue: str = DEFAULT_QUEUE
    test_only: bool = False
    # Attempts before a job fails for good, when fewer than the host's: the attempt that
    # reaches it fails the job (its error kept) instead of leaving the message to be retried.
    max_attempts: int = HOST_MAX_ATTEMPTS
    # Seconds one attempt may run: past it the attempt fails (and is retried like any failed
    # attempt) instead of holding its slot until the host's functionTimeout. None: no limit.
    timeout: float | None = None
    # At most this many of its jobs run at once across every instance (1: a singleton);
    # jobs beyond it wait, queued, and start as running ones end. None: no limit.
    concurrency: int | None = None
    # At most this many of its jobs start in any one second across every instance; jobs
    # beyond it wait, queued, for a later second. None: no limit.
    rate: int | None = None

    def __post_init__(self) -> None:
        if not KIND_NAME.fullmatch(self.name):
            raise ValueError(
                f"kind {self.name!r}: a name is 1 to 63 of a-z, 0-9, _ and -, "
                "starting with a letter"
            )
        for name, value, most in (
            ("concurrency", self.concurrency, MAX_CONCURRENCY), ("rate", self.rate, MAX_RATE),
        ):  # fmt: skip
            if value is not None and (type(value) is not int or not 1 <= value <= most):
                raise ValueError(
                    f"kind {self.name!r}: {name} must be a whole number from 1 to {most}, "
                    f"got {value!r}"
                )
        if not 1 <= self.max_attempts <= HOST_MAX_ATTEMPTS:
            raise ValueError(
                f"kind {self.name!r}: max_attempts must be 1 to {HOST_MAX_ATTEMPTS} "
                f"(host.json maxDequeueCount), got {self.max_attempts}"
            )
        if self.timeout is not None and not 0 < self.timeout <= MAX_TIMEOUT:
            raise ValueError(
                f"kind {self.name!r}: timeout must be above 0 and at most {MAX_TIMEOUT} s "
                f"(host.json functionTimeout), got {self.timeout}"
            )

    @property
    def limited(self) -> bool:
        """Its jobs wait for a free place or a second's turn before they start."""
        return self.concurrency is not None or self.rate is not None

    @cached_property
    def item(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.input)

    @cached_property
    def items(self) -> TypeAdapter[list[Any]]:
        """Validates a whole batch in one call; errors carry each bad item's index."""
        return TypeAdapter(list[self.input])  # type: ignore[name-defined]
