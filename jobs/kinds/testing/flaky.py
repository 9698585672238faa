"""``flaky`` (tests only): raises on its first ``fail_times`` attempts, then returns the item."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from jobs.core.models import JsonValue
from jobs.kinds.base import JobContext, Kind


class FlakyInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_times: int = Field(ge=0, le=100)


class FlakyFailure(RuntimeError):
    pass


def flaky(item: FlakyInput, context: JobContext) -> JsonValue:
    if context.attempt <= item.fail_times:
        raise FlakyFailure(f"failing attempt {context.attempt} of {item.fail_times}")
    return item.model_dump()


KIND = Kind("flaky", FlakyInput, flaky, test_only=True)
