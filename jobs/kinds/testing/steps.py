"""``steps`` (tests only): ``steps`` steps of ``seconds`` each, reporting progress and saving a
checkpoint after each. An attempt carries on after the last step an earlier attempt saved, and
with ``fail_at`` the first attempt raises after that step, so tests can watch a job resume.
Returns where its last attempt began: ``{"steps": 10, "resumed_at": 7}``."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field

from jobs.core.models import JsonValue
from jobs.kinds.base import JobContext, Kind


class StepsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(ge=1, le=1000)
    seconds: float = Field(ge=0, le=60)
    fail_at: int | None = Field(default=None, ge=1, le=1000)


class StepFailed(Exception):
    """The first attempt's planned failure."""


def steps(item: StepsInput, context: JobContext) -> JsonValue:
    saved = context.checkpoint_state
    done = int(saved["done"]) if isinstance(saved, dict) else 0
    first = done + 1
    for step in range(first, item.steps + 1):
        time.sleep(item.seconds)
        context.checkpoint({"done": step})
        context.report_progress(step / item.steps, f"step {step} of {item.steps}")
        if step == item.fail_at and context.attempt == 1:
            raise StepFailed(f"failing after step {step}, as asked")
    return {"steps": item.steps, "resumed_at": first}


KIND = Kind("steps", StepsInput, steps, test_only=True)
