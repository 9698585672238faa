"""``fail`` (tests only): raises on every attempt; ``permanent`` makes it fail at once."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from jobs.core.errors import PermanentJobError
from jobs.core.models import JsonValue
from jobs.kinds.base import JobContext, Kind


class FailInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = "this job always fails"
    permanent: bool = False


class AlwaysFails(RuntimeError):
    pass


def fail(item: FailInput, context: JobContext) -> JsonValue:
    if item.permanent:
        raise PermanentJobError(item.message)
    raise AlwaysFails(f"{item.message} (attempt {context.attempt})")


KIND = Kind("fail", FailInput, fail, test_only=True)
