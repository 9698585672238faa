"""Accepting a batch: validate everything, then store it once and hand it to the fan-out.

The answer never waits on the batch's size in storage round trips: the items go to one blob,
the task to one row, and one message asks a queue function to write the job rows; a small
batch's rows and messages are written here as well (jobs.dispatch.small_tasks), so its jobs
start a queue hop sooner. Task ids are random; an Idempotency-Key claims a key row (named by
the key's hash) that records which task it made, so a repeat finds the same task and a guessed
key reveals no id."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import from_json, to_json

from jobs.collaborators import Storage
from jobs.core import logs
from jobs.core.clock import stamp, utcnow
from jobs.core.errors import (
    Conflict,
    InvalidBody,
    InvalidItems,
    MalformedRequest,
    Problem,
    TooLarge,
)
from jobs.core.messages import FanOutMessage
from jobs.core.models import Setup, Task
from jobs.core.resources import CONTROL_QUEUE, DEFAULT_QUEUE, JOB_QUEUES
from jobs.core.settings import Settings
from jobs.dispatch import delays, small_tasks, stages
from jobs.dispatch.stages import Stage
from jobs.kinds import Kind, Kinds
from jobs.reads import task_index
from jobs.storage.jobs_table import AlreadyExists
from jobs.task_end import webhooks

MAX_DETAILS = 100  # item errors listed in one answer
MAX_METADATA_BYTES = 4096


class Accepting(Storage, Protocol):
    """What a submit uses: storage, the kinds its items are checked against, the limits."""

    kinds: Kinds
    settings: Settings


class SubmitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    items: list[Any]
    queue: str | None = None
    callback_url: str | None = None
    metadata: dict[str, Any] | None = None
    not_before: str | None = None
    then: Stage | None = None  # the next stage, submitted once this task ends
    # high work is taken before normal and low (jobs.dispatch.queue_choice); default normal.
    priority: Literal["high", "normal", "low"] | None = None


@dataclass(frozen=True)
class Submitted:
    task: Task
    created: bool  # False: an earlier request with the same Idempotency-Key made it


def submit(
    service: Accepting,
    body: bytes,
    idempotency_key: str | None = None,
    *,
    source: str | None = None,
    previous: str | None = None,
) -> Submitted:
    """Accept the batch ``body`` (``source`` says what submitted it when not a caller;
    ``previous``, the task whose end submitted it as its next stage)."""
    request, kind, queue = validate(service, body)
    not_before = delays.not_before(request.not_before, datetime.now(UTC))
    key_hash = None
    # The fingerprint of a request is its bytes: a repeat sends the same body.
    request_hash = hashlib.sha256(body).hexdigest()
    task_id = str(uuid.uuid4())  # random whatever the key: knowing a key tells nothing
    if idempotency_key is not None:
        key_hash = hashlib.sha256(idempotency_key.encode()).hexdigest()
        task_id, first_hash = service.table.claim_key(key_hash, task_id, request_hash, utcnow())
        if first_hash != request_hash:
            raise Conflict("this Idempotency-Key was used with a different request body")
        earlier = _earlier(service, task_id)
        if earlier is not None:
            return earlier
        # Ours, or a first request that died after claiming the key: create the task now.

    now = utcnow()
    task = Task(
        task_id=task_id,
        kind=kind.name,
        queue=queue,
        total=len(request.items),
        window=service.settings.dispatch_window,
        counters=service.settings.counter_layout,
        created_at=now,
        updated_at=now,
        request_hash=request_hash,
        metadata=None if request.metadata is None else to_json(request.metadata).decode(),
        callback_url=request.callback_url,
        not_before=None if not_before is None else stamp(not_before),
        key_hash=key_hash,
        source=source,
        then=None if request.then is None else to_json(request.then.stored()).decode(),
        previous=previous,
        priority=request.priority or "normal",
    )
    # Stored as received: the fan-out reads its items back, nothing is serialised twice.
    service.payloads.put_request(task, body)
    try:
        service.table.create_task(task)
    except AlreadyExists:
        # A repeat of this request raced us here: the answer is the same task.
        earlier = _earlier(service, task_id)
        if earlier is None:
            raise
        return earlier
    task_index.record_submitted(service.table, task)
    # A small, due task is dispatched here, behind a fan-out message (hidden a while, carrying
    # the dispatch's claim) that finishes it should this process die half-way, and is taken
    # back once the dispatch is done.
    claim = uuid.uuid4().hex if small_tasks.eligible(task, len(body)) else None
    delay = small_tasks.SAFETY_NET if claim else delays.remaining(task)
    sent = service.queues.send(CONTROL_QUEUE, FanOutMessage(task_id, claim), delay)
    logs.event(
        "task_submitted",
        task_id=task_id,
        kind=kind.name,
        queue=queue,
        total=task.total,
        priority=task.priority,
    )
    if claim and small_tasks.dispatch(service, task, request.items, claim):
        small_tasks.withdraw(service, sent)
    return Submitted(task, created=True)


def _earlier(service: Accepting, task_id: str) -> Submitted | None:
    task = service.table.get_task(task_id)
    if task is None:
        return None
    if task.setup is Setup.ACCEPTED:
        # The first request may have died before its fan-out message went out. A duplicate
        # message is harmless: only one fan-out of a task dispatches (jobs.dispatch.fanout). Its
        # index rows may be missing for the same reason; writing them again is harmless too.
        task_index.record_submitted(service.table, task)
        service.queues.send(CONTROL_QUEUE, FanOutMessage(task_id))
    return Submitted(task, created=False)


def validate(service: Accepting, body: bytes) -> tuple[SubmitRequest, Kind, str]:
    """The request, its kind and its queue, or the error a caller must fix (not_before is
    checked against the clock by ``submit``, as a schedule's body never carries one)."""
    settings = service.settings
    if len(body) > settings.max_body_bytes:
        raise TooLarge(f"request body is {len(body)} bytes; the limit is {settings.max_body_bytes}")
    if b"NaN" in body or b"Infinity" in body:  # rare: check strictly only then
        try:
            from_json(body, allow_inf_nan=False)
        except ValueError as error:
            raise MalformedRequest(f"request body is not valid JSON: {error}") from None
    try:
        # Parsed and checked in one pass by pydantic-core: the cost of a 50,000-item batch.
        request = SubmitRequest.model_validate_json(body)
    except ValidationError as error:
        if any(issue["type"] == "json_invalid" for issue in error.errors()):
            reason = error.errors()[0]["msg"]
            raise MalformedRequest(f"request body is not valid JSON: {reason}") from None
        raise InvalidBody("request body does not match the schema", _problems(error)) from None

    kind = service.kinds.get(request.kind)
    if kind is None:
        known = ", ".join(sorted(service.kinds))
        raise InvalidBody(
            f"unknown kind {request.kind!r}",
            [Problem("kind", f"unknown kind; known kinds: {known}")],
        )
    queue = kind.queue if request.queue is None else request.queue  # "" is no queue
    if queue not in JOB_QUEUES:
        raise InvalidBody(
            f"unknown queue {queue!r}",
            [Problem("queue", f"unknown queue; known queues: {', '.join(JOB_QUEUES)}")],
        )
    stages.check(service.kinds, request.then)
    _check_priority(request, queue)
    count = len(request.items)
    if not count:
        raise InvalidBody("items is empty", [Problem("items", "no items")])
    if count > settings.max_items:
        raise InvalidBody(
            f"{count} items; the limit is {settings.max_items}",
            [Problem("items", f"at most {settings.max_items} items")],
        )
    if len(body) > settings.max_item_bytes:  # otherwise no item can be over the limit
        _check_item_sizes(request.items, settings.max_item_bytes)
    try:
        kind.items.validate_python(request.items, context=service.kinds.context)
    except ValidationError as error:
        raise InvalidItems(
            f"items are not valid for kind {kind.name!r}", _item_problems(error)
        ) from None
    _check_notification(service, request)
    return request, kind, queue


def _check_priority(request: SubmitRequest, queue: str) -> None:
    """Only the default queue has priority lanes (jobs.dispatch.queue_choice)."""
    if request.priority not in (None, "normal") and queue != DEFAULT_QUEUE:
        problem = (
            f"only tasks on queue {DEFAULT_QUEUE!r} have priorities; this task runs on {queue!r}"
        )
        raise InvalidBody(
            f"priority {request.priority!r}: {problem}", [Problem("priority", problem)]
        )


def _check_notification(service: Accepting, request: SubmitRequest) -> None:
    settings = service.settings
    if request.metadata is not None:
        size = len(to_json(request.metadata))
        if size > MAX_METADATA_BYTES:
            raise InvalidBody(
                f"metadata is {size} bytes; the limit is {MAX_METADATA_BYTES}",
                [Problem("metadata", f"at most {MAX_METADATA_BYTES} bytes of JSON")],
            )
    if request.callback_url is not None:
        problem = webhooks.url_problem(request.callback_url, settings.callback_allowed_hosts)
        if problem is None and not settings.webhook_secret:
            problem = "callbacks are off: the service has no JOBS_WEBHOOK_SECRET to sign with"
        if problem is not None:
            raise InvalidBody(f"callback_url {problem}", [Problem("callback_url", problem)])


def _check_item_sizes(items: list[Any], limit: int) -> None:
    problems = []
    for index, item in enumerate(items):
        size = len(to_json(item))
        if size > limit:
            problems.append(Problem("", f"{size} bytes; limit {limit}", index))
            if len(problems) >= MAX_DETAILS:
                break
    if problems:
        raise TooLarge(f"items over the size limit of {limit} bytes", problems)


def _problems(error: ValidationError) -> list[Problem]:
    return [
        Problem(".".join(str(part) for part in issue["loc"]), issue["msg"])
        for issue in error.errors()[:MAX_DETAILS]
    ]


def _item_problems(error: ValidationError) -> list[Problem]:
    """Each issue of a list validation, as the item's index and the field inside it."""
    problems = []
    for issue in error.errors()[:MAX_DETAILS]:
        index, *inside = issue["loc"]
        problems.append(Problem(".".join(str(p) for p in inside), issue["msg"], int(index)))
    return problems
