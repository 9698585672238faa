"""Stages: what a submit's ``then`` asks for once its task ends, and how it is checked.

``then`` names the next task of a chain: its ``kind``, whether it runs ``over`` each
completed job's result (one job per result, in item order) or over ``all`` of them (one job
given every result), ``when`` it starts (only after an end with every job ``completed``, or
after any end: ``finished``), optionally its ``queue``, and the stage after it (``then``
again, at most ``MAX_STAGES`` deep). It is checked at submit, with the field named
(``then.then.kind``), and stored on the task row; the end's follow-up submits the next stage
(jobs.task_end.next_stage), whose own ``then`` is the rest of the chain."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobs.core.errors import InvalidBody, Problem
from jobs.core.models import TaskStatus
from jobs.core.resources import JOB_QUEUES
from jobs.kinds import Kinds

MAX_STAGES = 5  # ``then`` nested at most this deep: a chain of at most six tasks


class Stage(BaseModel):
    """The task to submit once this one ends, over its results."""

    # One schema in the OpenAPI document for the request and the task document alike.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_mode_override="validation")

    kind: str = Field(description="the next task's kind")
    over: Literal["each", "all"] = Field(
        description="`each`: one job per completed job's result, in item order; `all`: one job "
        'given `{"previous", "status", "results"}`, every completed job\'s result in item order'
    )
    when: Literal["completed", "finished"] = Field(
        default="completed",
        description="`completed`: only after an end with every job completed; `finished`: after "
        "any end (failures or a cancel included)",
    )
    queue: str | None = Field(default=None, description="a queue other than the kind's own")
    then: Stage | None = Field(default=None, description="the stage after this one")

    def stored(self) -> dict[str, Any]:
        """The stage as kept on the task row and shown in its document."""
        return self.model_dump(mode="json", exclude_none=True)


def check(kinds: Kinds, first: Stage | None) -> None:
    """InvalidBody naming the field (``then.then.kind``) unless every stage of the chain names
    a known kind and queue and the chain is at most MAX_STAGES deep."""
    stage, path, depth = first, "then", 1
    while stage is not None:
        if depth > MAX_STAGES:
            problem = f"at most {MAX_STAGES} stages may follow a task"
            raise InvalidBody(f"{path}: {problem}", [Problem(path, problem)])
        if stage.kind not in kinds:
            known = ", ".join(sorted(kinds))
            raise InvalidBody(
                f"unknown kind {stage.kind!r} in {path}",
                [Problem(f"{path}.kind", f"unknown kind; known kinds: {known}")],
            )
        queue = stage.queue or kinds[stage.kind].queue
        if queue not in JOB_QUEUES:
            raise InvalidBody(
                f"unknown queue {queue!r} in {path}",
                [Problem(f"{path}.queue", f"unknown queue; known queues: {', '.join(JOB_QUEUES)}")],
            )
        stage, path, depth = stage.then, f"{path}.then", depth + 1


def fires(stage: Stage, status: str | None) -> bool:
    """Whether an end with ``status`` starts ``stage``."""
    if stage.when == "finished":
        return status is not None
    return status == TaskStatus.COMPLETED.value
