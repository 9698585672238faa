"""The queue messages, as JSON objects with an ``op``: ``run`` on a task's job queue; ``fanout``,
``cancel``, ``retry``, ``finished``, ``deliver`` and ``purge`` on the control queue. On the wire
they are base64 text (jobs.storage.queues); what each one does is routed in
jobs.control.handlers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from jobs.core.models import canonical_task_id, job_id, job_index

# Bounds of a run message's carried counts: far above what the app ever writes (the host's 5
# attempts; holds end at jobs.lifecycle.admission.MAX_PRIORITY_HOLDS), so anything past them
# is not one of ours.
MAX_CARRIED = 100
MAX_HOLDS = 1000


@dataclass(frozen=True)
class _Message:
    """What every message has: its task, its ``op``, and the JSON it goes on the wire as: a
    compact object of the op, the task id, then each attribute in ``keys`` under its key there
    (left out when it is None). Each message class names its own: ``op=..., keys=...``."""

    op: ClassVar[str]
    keys: ClassVar[Mapping[str, str]]  # attribute: its key in the JSON

    task_id: str

    def __init_subclass__(cls, *, op: str, keys: Mapping[str, str] | None = None) -> None:
        super().__init_subclass__()
        cls.op = op
        cls.keys = keys or {}

    def wire_value(self, attribute: str) -> object:
        """An attribute's value on the wire; None leaves it out."""
        return getattr(self, attribute)

    def to_json(self) -> str:
        data: dict[str, object] = {"op": self.op, "task_id": self.task_id}
        for attribute, key in self.keys.items():
            value = self.wire_value(attribute)
            if value is not None:
                data[key] = value
        return json.dumps(data, separators=(",", ":"))


@dataclass(frozen=True)
class RunMessage(
    _Message,
    op="run",
    keys={"job_id": "job_id", "generation": "gen", "carried": "a", "holds": "h", "grown": "grown"},
):
    """The queue message for one job: which job, and which retry generation it belongs to.

    A job held back before it starts (jobs.lifecycle.admission) goes out again as a new
    message, whose dequeue count starts over; it carries what the old one had spent:
    ``carried``, the attempts already made (``"a"``), and ``holds``, how often it has been held
    back for higher-priority work (``"h"``). ``grown``: sent by the task's window growing
    (jobs.dispatch.growth) rather than by the job's predecessor. Each is left out when 0 or
    None, so every other run message is exactly what it always was."""

    index: int
    generation: int = 0
    carried: int = 0
    holds: int = 0
    grown: bool | None = None

    def wire_value(self, attribute: str) -> object:
        value = getattr(self, attribute)
        return None if attribute in ("carried", "holds") and not value else value

    @property
    def job_id(self) -> str:
        return job_id(self.index)


@dataclass(frozen=True)
class FanOutMessage(_Message, op="fanout", keys={"claim": "claim"}):
    """The queue message that turns a stored batch into job rows and the first messages (sent
    with a visibility delay for a task with ``not_before``). ``claim`` names the dispatch it
    stands behind: a submit that dispatches a small task itself sends one with its own claim,
    so that message may finish what the submit started (None: the message's id is its claim)."""

    claim: str | None = None


@dataclass(frozen=True)
class CancelMessage(_Message, op="cancel"):
    """The queue message that cancels every job of a task that has not started."""


@dataclass(frozen=True)
class PurgeMessage(_Message, op="purge"):
    """The queue message for one bounded step of deleting a finished task (jobs.control.purge)."""


@dataclass(frozen=True)
class RetryMessage(_Message, op="retry", keys={"round": "round"}):
    """The queue message that resets a task's failed jobs, for retry round ``round``."""

    round: int


@dataclass(frozen=True)
class FinishedMessage(_Message, op="finished", keys={"number": "n"}):
    """The queue message that follows up completion ``number`` of a task: its results file,
    its event, its webhook."""

    number: int


@dataclass(frozen=True)
class DeliverMessage(_Message, op="deliver", keys={"number": "n", "attempt": "try"}):
    """The queue message for one attempt at delivering completion ``number``'s webhook."""

    number: int
    attempt: int


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
        grown = data.get("grown")
        if grown is not None and grown is not True:
            raise ValueError("bad grown")
        carried, holds = data.get("a", 0), data.get("h", 0)
        if type(carried) is not int or not 0 <= carried <= MAX_CARRIED:
            raise ValueError("bad a")
        if type(holds) is not int or not 0 <= holds <= MAX_HOLDS:
            raise ValueError("bad h")
        index = job_index(str(data.get("job_id")))
        return RunMessage(task_id, index, generation, carried, holds, grown)
    raise ValueError(f"unknown op {data.get('op')!r}")
