"""The queue messages, as JSON objects with an ``op``: ``run`` on a task's job queue; ``fanout``,
``cancel``, ``retry``, ``finished``, ``deliver`` and ``purge`` on the control queue. On the wire
they are base64 text (jobs.storage.queues); what each one does is routed in
jobs.control.handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass

from jobs.core.models import canonical_task_id, job_id, job_index

# Bounds of a run message's carried counts: far above what the app ever writes (the host's 5
# attempts; holds end at jobs.lifecycle.admission.MAX_PRIORITY_HOLDS), so anything past them
# is not one of ours.
MAX_CARRIED = 100
MAX_HOLDS = 1000


@dataclass(frozen=True)
class RunMessage:
    """The queue message for one job: which job, and which retry generation it belongs to.

    A job held back before it starts (jobs.lifecycle.admission) goes out again as a new
    message, whose dequeue count starts over; it carries what the old one had spent:
    ``carried``, the attempts already made (``"a"``), and ``holds``, how often it has been held
    back for higher-priority work (``"h"``). Both are left out when 0, so every other run
    message is exactly what it always was."""

    task_id: str
    index: int
    generation: int = 0
    carried: int = 0
    holds: int = 0

    def to_json(self) -> str:
        data: dict[str, object] = {
            "op": "run", "task_id": self.task_id, "job_id": job_id(self.index),
            "gen": self.generation,
        }  # fmt: skip
        if self.carried:
            data["a"] = self.carried
        if self.holds:
            data["h"] = self.holds
        return json.dumps(data, separators=(",", ":"))


@dataclass(frozen=True)
class FanOutMessage:
    """The queue message that turns a stored batch into job rows and the first messages (sent
    with a visibility delay for a task with ``not_before``). ``claim`` names the dispatch it
    stands behind: a submit that dispatches a small task itself sends one with its own claim,
    so that message may finish what the submit started (None: the message's id is its claim)."""

    task_id: str
    claim: str | None = None

    def to_json(self) -> str:
        data = {"op": "fanout", "task_id": self.task_id}
        if self.claim is not None:
            data["claim"] = self.claim
        return json.dumps(data, separators=(",", ":"))


@dataclass(frozen=True)
class CancelMessage:
    """The queue message that cancels every job of a task that has not started."""

    task_id: str

    def to_json(self) -> str:
        return json.dumps({"op": "cancel", "task_id": self.task_id}, separators=(",", ":"))


@dataclass(frozen=True)
class PurgeMessage:
    """The queue message for one bounded step of deleting a finished task (jobs.control.purge)."""

    task_id: str

    def to_json(self) -> str:
        return json.dumps({"op": "purge", "task_id": self.task_id}, separators=(",", ":"))


@dataclass(frozen=True)
class RetryMessage:
    """The queue message that resets a task's failed jobs, for retry round ``round``."""

    task_id: str
    round: int

    def to_json(self) -> str:
        return json.dumps(
            {"op": "retry", "task_id": self.task_id, "round": self.round}, separators=(",", ":")
        )


@dataclass(frozen=True)
class FinishedMessage:
    """The queue message that follows up completion ``number`` of a task: its results file,
    its event, its webhook."""

    task_id: str
    number: int

    def to_json(self) -> str:
        return json.dumps(
            {"op": "finished", "task_id": self.task_id, "n": self.number}, separators=(",", ":")
        )


@dataclass(frozen=True)
class DeliverMessage:
    """The queue message for one attempt at delivering completion ``number``'s webhook."""

    task_id: str
    number: int
    attempt: int

    def to_json(self) -> str:
        return json.dumps(
            {"op": "deliver", "task_id": self.task_id, "n": self.number, "try": self.attempt},
            separators=(",", ":"),
        )


Message = (
    RunMessage
    | FanOutMessage
    | CancelMessage
    | RetryMessage
    | FinishedMessage
    | DeliverMessage
    | PurgeMessage
)


def parse_message(text: str) -> Message:
    """A message body as the app wrote it; ValueError for anything else."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    task_id = data.get("task_id")
    if not isinstance(task_id, str) or canonical_task_id(task_id) != task_id:
        raise ValueError("no task_id")
    if data.get("op") == "fanout":
        claim = data.get("claim")
        if claim is not None and (not isinstance(claim, str) or not claim):
            raise ValueError("bad claim")
        return FanOutMessage(task_id, claim)
    if data.get("op") == "cancel":
        return CancelMessage(task_id)
    if data.get("op") == "purge":
        return PurgeMessage(task_id)
    if data.get("op") in ("finished", "deliver"):
        number = data.get("n")
        if type(number) is not int or number < 1:
            raise ValueError("bad n")
        if data["op"] == "finished":
            return FinishedMessage(task_id, number)
        attempt = data.get("try")
        if type(attempt) is not int or attempt < 1:
            raise ValueError("bad try")
        return DeliverMessage(task_id, number, attempt)
    if data.get("op") == "retry":
        number = data.get("round")
        if type(number) is not int or number < 1:
            raise ValueError("bad round")
        return RetryMessage(task_id, number)
    if data.get("op") == "run":
        generation = data.get("gen", 0)
        if type(generation) is not int or generation < 0:
            raise ValueError("bad gen")
        carried, holds = data.get("a", 0), data.get("h", 0)
        if type(carried) is not int or not 0 <= carried <= MAX_CARRIED:
            raise ValueError("bad a")
        if type(holds) is not int or not 0 <= holds <= MAX_HOLDS:
            raise ValueError("bad h")
        index = job_index(str(data.get("job_id")))
        return RunMessage(task_id, index, generation, carried, holds)
    raise ValueError(f"unknown op {data.get('op')!r}")
