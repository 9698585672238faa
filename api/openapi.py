"""The API's OpenAPI 3.1 document, generated: schemas come from the models the service
validates submits and schedules with (jobs.dispatch.submit.SubmitRequest,
jobs.schedules.definitions.ScheduleRequest) and builds its answers through (api/schemas.py);
limits from the constants and settings that enforce them, at run time (``Limits``: the kinds
this deployment offers, its item count), so the document served is the running service's.
What is written here is only which operation answers what; tests/api/test_openapi.py checks it
against the routes function_app.py registers, and tests/e2e/test_contract.py fuzzes the
running service against it.

Adding a route: list its Operation in OPERATIONS, with every status code it can answer."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api import params, schemas
from jobs.core.models import TaskStatus
from jobs.core.resources import JOB_QUEUES
from jobs.core.settings import Settings
from jobs.dispatch.submit import SubmitRequest
from jobs.kinds import Kinds
from jobs.kinds.inputs import InputPolicy
from jobs.reads.tasks import RESULTS_INLINE_BYTES
from jobs.schedules.definitions import ScheduleRequest

VERSION = "1.0.0"
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Limits:
    """What the running service accepts that its settings decide."""

    kinds: tuple[str, ...]
    max_items: int

    @classmethod
    def of(cls, settings: Settings, kinds: Iterable[str]) -> Limits:
        return cls(tuple(sorted(kinds)), settings.max_items)

    @classmethod
    def default(cls) -> Limits:
        """A deployment's with the default settings."""
        settings = Settings()
        return cls.of(settings, Kinds.from_settings(settings, InputPolicy.from_settings(settings)))


@dataclass(frozen=True)
class Reply:
    status: int
    description: str
    # None: a body with no schema of ours, or none at all; several: one of them
    model: type[BaseModel] | tuple[type[BaseModel], ...] | None = None
    media: str = "application/json"
    headers: tuple[str, ...] = ()  # names of components.headers


@dataclass(frozen=True)
class Parameter:
    name: str
    where: Literal["path", "query", "header"]
    description: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class Operation:
    method: Literal["get", "post", "put", "delete"]
    path: str  # as function_app.py's route, with a leading slash
    operation_id: str  # the function's name in function_app.py
    summary: str
    replies: tuple[Reply, ...]
    parameters: tuple[Parameter, ...] = ()
    body: type[BaseModel] | None = None
    anonymous: bool = False
    answering: bool = True  # runs under api.errors.answering: may answer 500 and 503


def _error(status: int, description: str, *headers: str) -> Reply:
    return Reply(status, description, schemas.Error, headers=headers)


UNAVAILABLE = _error(503, "storage did not answer; ask again after Retry-After", "Retry-After")
INTERNAL = _error(500, "unexpected: logged with its stack")
UNKNOWN = _error(404, "no such task or job, or a malformed id")
# Answered by the Functions host before the app sees the request; no body.
NO_KEY = Reply(401, "the function key is missing or wrong (answered by the host, no body)")

TASK_ID = Parameter(
    "task_id", "path", "a task id: a UUID, in any spelling (`{ID}`, upper case)", {"type": "string"}
)
JOB_ID = Parameter(
    "job_id",
    "path",
    "a job id: the item's index, 8 digits",
    {"type": "string", "pattern": "^[0-9]{8}$"},
)
POSITION = "^[0-9]{13}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
KINDS = "{kinds}"  # a placeholder: the running service's kinds take its place

SCHEDULE = Parameter(
    "name", "path", "1 to 63 of a-z, 0-9 and -",
    {"type": "string", "pattern": "^[a-z0-9-]{1,63}$"},
)  # fmt: skip

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/tasks",
        "submit_task",
        "Submit a batch: one job per item",
        body=SubmitRequest,
        parameters=(
            Parameter(
                "Idempotency-Key",
                "header",
                "the same key with the same body returns the same task and creates nothing",
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": params.MAX_KEY_LENGTH,
                    "pattern": params.KEY_PATTERN,
                },
            ),
        ),
        replies=(
            Reply(
                202,
                "accepted; poll `status_url`",
                schemas.Accepted,
                headers=("Location", "Retry-After"),
            ),
            _error(400, "malformed JSON (NaN and Infinity too), or a bad Idempotency-Key"),
            _error(409, "the Idempotency-Key was used with another body"),
            _error(413, "the body or an item is over its size limit (`details` name the items)"),
            _error(
                422,
                "unknown kind, queue or field, no items, too many, or items invalid for the kind "
                "(`details` give each bad item's `index` and `field`); a bad `then` stage "
                "(`field` names it: `then.then.kind`)",
            ),
        ),
    ),
    Operation(
        "get",
        "/tasks",
        "list_tasks",
        "Tasks newest first, each as GET /tasks/{task_id} answers, a page at a time",
        parameters=(
            Parameter(
                "state",
                "query",
                "only tasks in this state",
                {"type": "string", "enum": [s.value for s in TaskStatus]},
            ),
            Parameter(
                "kind", "query", "only tasks of this kind", {"type": "string", "enum": KINDS}
            ),
            Parameter(
                "limit",
                "query",
                "tasks per page",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": params.MAX_TASK_PAGE,
                    "default": params.DEFAULT_TASK_PAGE,
                },
            ),
            Parameter(
                "continuation",
                "query",
                "the previous page's `continuation`",
                {"type": "string", "pattern": POSITION},
            ),
        ),
        replies=(
            Reply(200, "the page", schemas.TaskPage),
            _error(400, "a bad `state`, `kind`, `limit` or `continuation`"),
        ),
    ),
    Operation(
        "get",
        "/stats",
        "get_stats",
        "Queue depths, running tasks, and jobs ended per minute over the last hour",
        replies=(Reply(200, "the figures", schemas.Stats),),
    ),
    Operation(
        "get",
        "/dashboard",
        "dashboard",
        "The dashboard page (it asks for the function key the API needs)",
        anonymous=True,
        replies=(Reply(200, "an HTML page", media="text/html"),),
    ),
    Operation(
        "get",
        "/tasks/{task_id}",
        "get_task",
        "A task's status and counts",
        parameters=(TASK_ID,),
        replies=(Reply(200, "the task", schemas.Task), UNKNOWN),
    ),
    Operation(
        "delete",
        "/tasks/{task_id}",
        "cancel_task",
        "Cancel a task: jobs not yet started never run; repeatable. With purge=true, delete a "
        "finished task and everything it owns",
        parameters=(
            TASK_ID,
            Parameter(
                "purge",
                "query",
                "`true`: delete the finished task now (409 while it runs)",
                {"type": "string", "enum": ["true", "false"]},
            ),
        ),
        replies=(
            Reply(
                202,
                "cancel requested (CancelAccepted, with Location), or with purge=true, the purge "
                "(PurgeAccepted: the task is 404 from now on)",
                (schemas.CancelAccepted, schemas.PurgeAccepted),
                headers=("Location",),
            ),
            _error(400, "`purge` is neither `true` nor `false`"),
            UNKNOWN,
            _error(409, "purge=true while the task runs or is scheduled"),
        ),
    ),
    Operation(
        "get",
        "/tasks/{task_id}/jobs",
        "list_jobs",
        "A page of a task's jobs in index order",
        parameters=(
            TASK_ID,
            Parameter(
                "status",
                "query",
                "only jobs in this status",
                {"type": "string", "enum": list(get_args(schemas.JobState))},
            ),
            Parameter(
                "limit",
                "query",
                "jobs per page",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": params.MAX_PAGE,
                    "default": params.DEFAULT_PAGE,
                },
            ),
            Parameter("continuation", "query", "the previous page's `continuation`", JOB_ID.schema),
        ),
        replies=(
            Reply(200, "the page", schemas.JobPage),
            _error(400, "a bad `status`, `limit` or `continuation`"),
            UNKNOWN,
        ),
    ),
    Operation(
        "get",
        "/tasks/{task_id}/jobs/{job_id}",
        "get_job",
        "One job with its item and result",
        parameters=(TASK_ID, JOB_ID),
        replies=(Reply(200, "the job", schemas.JobDetail), UNKNOWN),
    ),
    Operation(
        "get",
        "/tasks/{task_id}/results",
        "get_results",
        "The results, one NDJSON line per item in item order",
        parameters=(TASK_ID,),
        replies=(
            Reply(
                200,
                "NDJSON: each line is one ResultLine, in item order",
                schemas.ResultLine,
                media="application/x-ndjson",
            ),
            Reply(
                303,
                f"over {RESULTS_INLINE_BYTES} bytes: the same NDJSON from a ten-minute read-only "
                "link to the results file, in Location",
                headers=("ResultsLink",),
            ),
            UNKNOWN,
            _error(409, "the task is still running or scheduled"),
        ),
    ),
    Operation(
        "post",
        "/tasks/{task_id}/retry",
        "retry_task",
        "Send the failed jobs round again (in the background)",
        parameters=(TASK_ID,),
        replies=(
            Reply(202, "the retry is under way", schemas.RetryAccepted),
            UNKNOWN,
            _error(409, "the task was cancelled, or its jobs still run"),
        ),
    ),
    Operation(
        "get",
        "/schedules",
        "list_schedules",
        "Every recurring schedule",
        replies=(Reply(200, "every schedule", schemas.ScheduleList),),
    ),
    Operation(
        "put",
        "/schedules/{name}",
        "put_schedule",
        "Create or replace a recurring schedule: a task per fire time of its NCRONTAB `cron`",
        parameters=(SCHEDULE,),
        body=ScheduleRequest,
        replies=(
            Reply(200, "the schedule, with `next_run`", schemas.Schedule),
            _error(400, "malformed JSON"),
            _error(
                422,
                "a bad name, cron, kind, queue or item, or a batch over 30,000 characters of JSON "
                "(`details` name the field or item)",
            ),
        ),
    ),
    Operation(
        "get",
        "/schedules/{name}",
        "get_schedule",
        "One schedule, with `next_run`, `last_run` and `last_task_id`",
        parameters=(SCHEDULE,),
        replies=(Reply(200, "the schedule", schemas.Schedule), _error(404, "no such schedule")),
    ),
    Operation(
        "delete",
        "/schedules/{name}",
        "delete_schedule",
        "Stop a schedule (its tasks stay)",
        parameters=(SCHEDULE,),
        replies=(Reply(204, "deleted"), _error(404, "no such schedule")),
    ),
    Operation(
        "get",
        "/kinds",
        "list_kinds",
        "The job kinds this deployment runs, with each one's queue, attempts, time limit and "
        "limits across instances (concurrency, rate)",
        replies=(Reply(200, "every kind, by name", schemas.KindList),),
    ),
    Operation(
        "get",
        "/health",
        "health",
        "Whether storage answers",
        anonymous=True,
        answering=False,
        replies=(
            Reply(200, "storage answers", schemas.Health),
            Reply(503, "storage does not answer", schemas.Health),
        ),
    ),
    Operation(
        "get",
        "/openapi.json",
        "openapi_document",
        "This document",
        anonymous=True,
        answering=False,
        replies=(Reply(200, "the OpenAPI 3.1 document"),),
    ),
)

_TASK = {"task_id": "$response.body#/task_id"}
_SAME_TASK = {"task_id": "$request.path.task_id"}
# Where an answer leads (OpenAPI links): a client, or a stateful fuzzer, follows a submit to
# its task, jobs and results, and a saved schedule to its reads and its deletion.
LINKS: dict[tuple[str, int], dict[str, tuple[str, dict[str, str]]]] = {
    ("submit_task", 202): {
        "status": ("get_task", _TASK),
        "jobs": ("list_jobs", _TASK),
        "results": ("get_results", _TASK),
        "retry": ("retry_task", _TASK),
        "purge": ("cancel_task", {**_TASK, "query.purge": "true"}),
    },
    ("get_task", 200): {
        "jobs": ("list_jobs", _TASK),
        "results": ("get_results", _TASK),
    },
    ("list_jobs", 200): {
        "job": ("get_job", {**_SAME_TASK, "job_id": "$response.body#/jobs/0/job_id"}),
    },
    ("put_schedule", 200): {
        "read": ("get_schedule", {"name": "$response.body#/name"}),
        "delete": ("delete_schedule", {"name": "$response.body#/name"}),
    },
    ("list_schedules", 200): {
        "read": ("get_schedule", {"name": "$response.body#/schedules/0/name"}),
    },
}
HEADER_NAMES = {"ResultsLink": "Location"}  # components.headers named other than their header
HEADERS = {
    "Location": {"description": "where to poll the task", "schema": {"type": "string"}},
    "ResultsLink": {
        "description": "the results file's read-only link",
        "required": True,
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "seconds to wait before asking again",
        "schema": {"type": "integer"},
    },
}


def document(limits: Limits | None = None) -> dict[str, Any]:
    """The whole document, built afresh, for a service with ``limits`` (by default, the
    default settings')."""
    limits = limits or Limits.default()
    refs, definitions = models_json_schema(
        [
            (SubmitRequest, "validation"),
            (ScheduleRequest, "validation"),
            *((m, "serialization") for m in schemas.RESPONSE_MODELS),
        ],
        ref_template=REF,
    )
    ref: dict[type[BaseModel], Any] = {}
    for model, mode in refs:
        if isinstance(model, type) and issubclass(model, BaseModel):
            ref[model] = refs[(model, mode)]
    found: dict[str, Any] = definitions.get("$defs", {})
    for request in (SubmitRequest, ScheduleRequest):
        _limit_batch(found[request.__name__], limits)
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, ref)
    text = json.dumps(paths).replace(json.dumps(KINDS), json.dumps(list(limits.kinds)))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Batch jobs",
            "version": VERSION,
            "description": "Submit a batch of items, poll the task, list failed jobs, retry, "
            "cancel and download the results.",
        },
        "servers": [{"url": "/api"}],
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "paths": json.loads(text),
        "components": {
            "schemas": found,
            "headers": HEADERS,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }


def _limit_batch(schema: dict[str, Any], limits: Limits) -> None:
    """The limits a batch's models cannot know: the kinds offered, the queues, the count."""
    fields = schema["properties"]
    fields["kind"] = {"type": "string", "enum": list(limits.kinds), "title": "Kind"}
    fields["queue"] = {
        "anyOf": [{"type": "string", "enum": list(JOB_QUEUES)}, {"type": "null"}],
        "default": None,
        "title": "Queue",
        "description": "a queue of the service's; null or left out: the kind's own",
    }
    fields["items"] = {**fields["items"], "minItems": 1, "maxItems": limits.max_items}
    if "not_before" in fields:
        fields["not_before"] = {
            "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}],
            "default": None,
            "title": "Not Before",
            "description": "no job starts before this: ISO 8601 with a zone, at most 7 days ahead",
        }


@cache
def document_bytes(limits: Limits | None = None) -> bytes:
    return json.dumps(document(limits), indent=1).encode()


def _operation(operation: Operation, ref: dict[type[BaseModel], Any]) -> dict[str, Any]:
    replies = [*operation.replies]
    if not operation.anonymous:
        replies.append(NO_KEY)
    if operation.answering:
        replies += [INTERNAL, UNAVAILABLE]
    found: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "responses": {str(r.status): _reply(r, ref) for r in sorted(replies, key=_status)},
    }
    for (operation_id, status), links in LINKS.items():
        if operation_id == operation.operation_id:
            found["responses"][str(status)]["links"] = {
                name: {"operationId": target, "parameters": parameters}
                for name, (target, parameters) in links.items()
            }
    if operation.parameters:
        found["parameters"] = [_parameter(p) for p in operation.parameters]
    if operation.body is not None:
        found["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": ref[operation.body]}},
        }
    if operation.anonymous:
        found["security"] = []
    return found


def _status(reply: Reply) -> int:
    return reply.status


def _reply(reply: Reply, ref: dict[type[BaseModel], Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"description": reply.description}
    if reply.headers:
        found["headers"] = {
            HEADER_NAMES.get(name, name): {"$ref": f"#/components/headers/{name}"}
            for name in reply.headers
        }
    if isinstance(reply.model, tuple):
        found["content"] = {reply.media: {"schema": {"oneOf": [ref[m] for m in reply.model]}}}
    elif reply.model is not None:
        found["content"] = {reply.media: {"schema": ref[reply.model]}}
    elif 200 <= reply.status < 300 and reply.status != 204:  # 204 and redirects have no body
        plain = {"type": "object"} if reply.media == "application/json" else {"type": "string"}
        found["content"] = {reply.media: {"schema": plain}}
    return found


def _parameter(parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": parameter.where,
        "required": parameter.where == "path",
        "description": parameter.description,
        "schema": parameter.schema,
    }
