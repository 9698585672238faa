"""What a kind is, and what its handler is given besides the item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import TypeAdapter

from jobs.core.models import JsonValue
from jobs.core.resources import DEFAULT_QUEUE
from jobs.kinds.files import Files

Reporter = Callable[[float, "str | None"], None]

# host.json's maxDequeueCount: the host runs a job's message this many times, then poisons it.
HOST_MAX_ATTEMPTS = 5


def _ignore(fraction: float, message: str | None) -> None:
    return None


@dataclass(frozen=True)
class JobContext:
    task_id: str
    job_id: str
    attempt: int  # 1 on the first run; the queue message's dequeue count
    files: Files  # inputs it may read, outputs it writes
    reporter: Reporter = _ignore

    def report_progress(self, fraction: float, message: str | None = None) -> None:
        """Say how far the job has got (0 to 1), with an optional word on what it is doing.
        Shown on the job and rolled into its task's progress; cheap to call often (the
        runner writes at most about one report a second)."""
        self.reporter(min(1.0, max(0.0, float(fraction))), message)


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

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= HOST_MAX_ATTEMPTS:
            raise ValueError(
                f"kind {self.name!r}: max_attempts must be 1 to {HOST_MAX_ATTEMPTS} "
                f"(host.json maxDequeueCount), got {self.max_attempts}"
            )

    @cached_property
    def item(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.input)

    @cached_property
    def items(self) -> TypeAdapter[list[Any]]:
        """Validates a whole batch in one call; errors carry each bad item's index."""
        return TypeAdapter(list[self.input])  # type: ignore[name-defined]
