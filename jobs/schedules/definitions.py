"""Recurring schedules: a named NCRONTAB expression and the batch to submit at each fire time.

A schedule is one row in the jobs table, partition ``schedules`` (jobs.storage.keys), row key
its name. Its batch is checked
when it is saved, exactly as a submit checks it, and kept as the submit body it will send, so
every fire time sends the same bytes. jobs.schedules.firing fires them."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

import ncrontab
from jobs.core.clock import utcnow
from jobs.core.errors import InvalidBody, MalformedRequest, NotFound, Problem
from jobs.core.models import JsonValue
from jobs.dispatch import submit
from jobs.dispatch.stages import Stage
from jobs.dispatch.submit import Accepting
from jobs.storage import Entity, EntityMissing, Write
from jobs.storage.keys import SCHEDULES_PARTITION

NAME = re.compile(r"[a-z0-9-]{1,63}")
MAX_REQUEST_CHARS = 30_000  # the stored submit body: one table property, inline


class ScheduleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cron: str
    kind: str
    items: list[Any]
    queue: str | None = None
    metadata: dict[str, Any] | None = None
    callback_url: str | None = None
    then: Stage | None = None


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    request: str  # the submit body each fire time sends
    next_run: str  # the next fire time (fire_stamp form)
    version: str  # new at each save: fire times of a replaced schedule are its own
    created_at: str
    updated_at: str
    last_run: str | None = None
    last_task_id: str | None = None
    last_error: str | None = None
    etag: str | None = None

    @property
    def batch(self) -> dict[str, JsonValue]:
        loaded: dict[str, JsonValue] = json.loads(self.request)
        return loaded


def fire_stamp(when: datetime) -> str:
    """A fire time as stored and compared: UTC to the second, ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def next_run(expression: str, after: datetime) -> str:
    return fire_stamp(ncrontab.parse(expression).next_after(after))


def is_name(text: str) -> bool:
    return NAME.fullmatch(text) is not None


def save(service: Accepting, name: str, body: bytes) -> Schedule:
    """Create or replace the schedule ``name``; InvalidBody (naming the field, or the item's
    index and field) and nothing written when anything is wrong."""
    if not is_name(name):
        problem = "1 to 63 characters of a-z, 0-9 and -"
        raise InvalidBody(f"bad schedule name {name!r}", [Problem("name", problem)])
    request = _parse(body)
    try:
        upcoming = next_run(request.cron, datetime.now(UTC))
    except ValueError as error:
        raise InvalidBody(f"bad cron: {error}", [Problem("cron", str(error))]) from None
    batch = request.model_dump(exclude={"cron"}, exclude_none=True)
    text = json.dumps(batch, separators=(",", ":"))
    submit.validate(service, text.encode())  # the same checks as a submit, index and field
    if len(text) > MAX_REQUEST_CHARS:
        problem = f"a schedule's batch is at most {MAX_REQUEST_CHARS} characters of JSON"
        raise InvalidBody(problem, [Problem("items", problem)])
    now = utcnow()
    earlier = service.table.store.get(SCHEDULES_PARTITION, name)
    props = {
        "Cron": request.cron,
        "Request": text,
        "NextRun": upcoming,
        "Version": uuid.uuid4().hex,
        "Created": now if earlier is None else earlier.props.get("Created", now),
        "Updated": now,
    }
    service.table.store.transact(SCHEDULES_PARTITION, [Write("upsert", name, props)])
    return get(service, name)


def get(service: Accepting, name: str) -> Schedule:
    entity = service.table.store.get(SCHEDULES_PARTITION, name) if is_name(name) else None
    if entity is None:
        raise NotFound(name)
    return schedule_from(entity)


def all_schedules(service: Accepting) -> list[Schedule]:
    return [schedule_from(entity) for entity in service.table.store.query(SCHEDULES_PARTITION)]


def delete(service: Accepting, name: str) -> None:
    if not is_name(name):
        raise NotFound(name)
    try:
        service.table.store.transact(SCHEDULES_PARTITION, [Write("delete", name)])
    except EntityMissing:
        raise NotFound(name) from None


def record_fire(
    service: Accepting, schedule: Schedule, task_id: str | None, error: str | None, upcoming: str
) -> None:
    """Record a fire time's task and the next fire time, guarded by the row's ETag:
    ConcurrentUpdate (or EntityMissing) when it was replaced, deleted or recorded meanwhile."""
    props = {
        "LastRun": schedule.next_run,
        "LastTaskId": task_id or "",
        "LastError": error or "",
        "NextRun": upcoming,
    }
    service.table.store.transact(
        SCHEDULES_PARTITION, [Write("merge", schedule.name, props, schedule.etag)]
    )


def schedule_from(entity: Entity) -> Schedule:
    props = entity.props
    return Schedule(
        name=entity.row,
        etag=entity.etag,
        cron=props["Cron"],
        request=props["Request"],
        next_run=props["NextRun"],
        version=props["Version"],
        created_at=props["Created"],
        updated_at=props["Updated"],
        last_run=props.get("LastRun") or None,
        last_task_id=props.get("LastTaskId") or None,
        last_error=props.get("LastError") or None,
    )


def _parse(body: bytes) -> ScheduleRequest:
    try:
        return ScheduleRequest.model_validate_json(body)
    except ValidationError as error:
        if any(issue["type"] == "json_invalid" for issue in error.errors()):
            reason = error.errors()[0]["msg"]
            raise MalformedRequest(f"request body is not valid JSON: {reason}") from None
        problems = [
            Problem(".".join(str(part) for part in issue["loc"]), issue["msg"])
            for issue in error.errors()[: submit.MAX_DETAILS]
        ]
        raise InvalidBody("request body does not match the schema", problems) from None
