"""``steps`` (tests only): ``steps`` steps of ``seconds`` each, reporting progress after each,
so tests and the dashboard can watch a bar move."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from jobs.core.models import JsonValue
from jobs.kinds.base import JobContext, Kind


class StepsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(ge=1, le=1000)
    seconds: float = Field(ge=0, le=60)


def steps(item: StepsInput, context: JobContext) -> JsonValue:
    for step in range(1, item.steps + 1):
        time.sleep(item.seconds)
        context.report_progress(step / item.steps, f"step {step} of {item.steps}")
    return {"steps": item.steps}


KIND = Kind("steps", StepsInput, steps, test_only=True)
