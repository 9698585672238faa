"""``collect`` (tests only): a fan-in. Its item is what an ``all`` stage gives its one job
(jobs.task_end.next_stage): the earlier task's id, its status and its completed jobs' results,
numbers here; it returns how many there were and their sum."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from jobs.core.models import JsonValue
from jobs.kinds.base import JobContext, Kind


class CollectInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    previous: str
    status: str
    results: list[int | float]


def collect(item: CollectInput, context: JobContext) -> JsonValue:
    return {"previous": item.previous, "count": len(item.results), "sum": sum(item.results)}


KIND = Kind("collect", CollectInput, collect, test_only=True)
