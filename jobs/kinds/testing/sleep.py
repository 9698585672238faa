"""``sleep`` (tests only): takes ``seconds`` to finish, to hold a job in progress."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from jobs.core.models import JsonValue
from jobs.kinds.base import JobContext, Kind


class SleepInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0, le=600)


def sleep(item: SleepInput, context: JobContext) -> JsonValue:
    time.sleep(item.seconds)
    return {"slept": item.seconds}


KIND = Kind("sleep", SleepInput, sleep, test_only=True)
