"""The next stage of a chain, submitted by a task's end (jobs.task_end.completion.follow_up).

Each end whose status the stage's ``when`` accepts submits the next task once, through
jobs.dispatch.submit, with an Idempotency-Key derived from the end (the task id and the end's
number) and a body built from that end's results file, which is written once: a repeated
follow-up, or one after a crash between the submit and its record, sends the same key with the
same bytes and gets the same task. The key holds a line break, which no caller's key may
(a caller's key is printable text), so no caller can take it first. The new task is created knowing
its ``previous``; the earlier task then records ``next_task`` (or ``stage_error``) for that
end, ETag-guarded and only if no later end has recorded its own.

``each``: one item per completed job's result, in item order (failed and cancelled jobs are
skipped); ``all``: one item, ``{"previous", "status", "results"}``. The next task carries the
earlier one's metadata and callback_url, and the rest of the chain as its own ``then``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from jobs.core import logs
from jobs.core.errors import Conflict, InvalidRequest, JobsError
from jobs.core.models import JsonValue, Task
from jobs.dispatch import stages, submit
from jobs.dispatch.stages import Stage
from jobs.dispatch.submit import Accepting
from jobs.storage import ConcurrentUpdate

MAX_DETAILS = 3  # problems of a refused stage quoted in its error


class Refused(JobsError):
    """The next stage cannot be built from the end's results."""


def idempotency_key(task_id: str, number: int) -> str:
    """The key of the stage that end ``number`` of ``task_id`` submits."""
    return f"stage\n{task_id}\n{number}"


def start(service: Accepting, task: Task, number: int) -> None:
    """Submit the stage that end ``number`` of ``task`` (read once that end was recorded)
    starts, if any, and record it on ``task``; a stage that cannot be submitted is recorded as
    its ``stage_error``. Storage errors propagate: the follow-up's message comes back."""
    if task.then is None or task.stage_for >= number:
        return  # no chain, or this end's stage is on record already
    stage = Stage.model_validate_json(task.then)
    if not stages.fires(stage, task.completion.status):
        return
    next_task, error = None, None
    try:
        body = _body(service, task, stage, number)
        done = submit.submit(
            service, body, idempotency_key(task.task_id, number), previous=task.task_id
        )
        next_task = done.task.task_id
    except (InvalidRequest, Conflict, Refused) as refused:
        error = f"the next stage ({stage.kind}, over {stage.over}) was not submitted: " + _why(
            refused
        )
    _record(service, task.task_id, number, next_task, error)
    if error is None:
        logs.event("stage_submitted", task_id=task.task_id, next_task_id=next_task, kind=stage.kind)
    else:
        logs.event(
            "stage_refused", logging.WARNING, task_id=task.task_id, kind=stage.kind, error=error
        )


def _body(service: Accepting, task: Task, stage: Stage, number: int) -> bytes:
    results = list(_completed_results(service, task, number))
    if stage.over == "each":
        if not results:
            raise Refused("no job completed, so there is nothing to run it over")
        items: list[JsonValue] = results
    else:
        items = [{"previous": task.task_id, "status": task.completion.status, "results": results}]
    request: dict[str, Any] = {"kind": stage.kind, "items": items}
    if stage.queue:
        request["queue"] = stage.queue
    if task.metadata:
        request["metadata"] = json.loads(task.metadata)
    if task.callback_url:
        request["callback_url"] = task.callback_url
    if stage.then is not None:
        request["then"] = stage.then.stored()
    return json.dumps(request, separators=(",", ":")).encode()


def _completed_results(service: Accepting, task: Task, number: int) -> Iterator[JsonValue]:
    """The completed jobs' results in item order, from end ``number``'s results file (its lines
    carry ``result`` for a completed job, ``error`` otherwise); Refused past what a submit body
    may hold."""
    chunks = service.payloads.read_results(task.task_id, number)
    if chunks is None:
        raise LookupError(f"task {task.task_id}: the results file of end {number} is missing")
    limit, size = service.settings.max_body_bytes, 0
    for line in _lines(chunks):
        size += len(line)
        if size > limit:
            raise Refused(
                f"the results are over {limit} bytes, more than a submit may carry "
                "(JOBS_MAX_BODY_BYTES)"
            )
        found = json.loads(line)
        if "result" in found:
            yield found["result"]


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        rest += chunk
        *whole, rest = rest.split(b"\n")
        yield from (line for line in whole if line.strip())
    if rest.strip():
        yield rest


def _why(refused: JobsError) -> str:
    if not isinstance(refused, InvalidRequest):
        return str(refused)
    details = [
        ", ".join(
            part
            for part in (
                None if p.index is None else f"item {p.index}",
                p.field or None,
                p.message,
            )
            if part
        )
        for p in refused.problems[:MAX_DETAILS]
    ]
    more = len(refused.problems) - MAX_DETAILS
    if more > 0:
        details.append(f"{more} more")
    return refused.message + (f" ({'; '.join(details)})" if details else "")


def _record(
    service: Accepting, task_id: str, number: int, next_task: str | None, error: str | None
) -> None:
    """Record end ``number``'s stage on the task, unless that end or a later one has recorded
    its own (a twin of this follow-up, or a retry's end, got there first)."""
    while True:
        task = service.table.get_task(task_id)
        if task is None or task.stage_for >= number:
            return
        try:
            service.table.update_task(
                task_id,
                etag=task.etag,
                stage_for=number,
                next_task=next_task,  # None keeps the stage an earlier end started
                stage_error=error or "",
            )
        except ConcurrentUpdate:
            continue
        return
