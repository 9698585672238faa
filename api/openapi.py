"""The API's OpenAPI 3.1 document, generated: schemas come from the models the service
validates submits with (jobs.dispatch.submit.SubmitRequest) and builds its answers through
(api/schemas.py); limits from the constants that enforce them. What is written here is only
which operation answers what, and tests/api/test_openapi.py checks it against the routes
function_app.py registers.

Adding a route: list its Operation in OPERATIONS, with every status code it can answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api import params, schemas
from jobs.core.models import TaskStatus
from jobs.dispatch.submit import SubmitRequest

VERSION = "1.0.0"
REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Reply:
    status: int
    description: str
    model: type[BaseModel] | None = None  # None: a body with no schema of ours, or none at all
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
    {"type": "string", "pattern": r"^\d{8}$"},
)

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
                {"type": "string", "minLength": 1, "maxLength": params.MAX_KEY_LENGTH},
            ),
        ),
        replies=(
            Reply(
                202,
                "accepted; poll `status_url`",
                schemas.Accepted,
                headers=("Location", "Retry-After"),
            ),
            _error(400, "malformed JSON (NaN and Infinity too) or Idempotency-Key"),
            _error(409, "the Idempotency-Key was used with another body"),
            _error(413, "the body or an item is over its size limit (`details` name the items)"),
            _error(
                422,
                "unknown kind, queue or field, no items, too many, or items invalid for the kind "
                "(`details` give each bad item's `index` and `field`)",
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
            Parameter("kind", "query", "only tasks of this kind", {"type": "string"}),
            Parameter("limit", "query", "tasks per page", {"type": "integer", "minimum": 1}),
            Parameter(
                "continuation", "query", "the previous page's `continuation`", {"type": "string"}
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
            Reply(202, "cancel requested", schemas.CancelAccepted, headers=("Location",)),
            UNKNOWN,
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
            UNKNOWN,
            _error(409, "the task is still running"),
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
            _error(409, "the task was cancelled"),
        ),
    ),
    Operation(
        "get",
        "/schedules",
        "list_schedules",
        "Every recurring schedule",
        replies=(Reply(200, '`{"schedules": [...]}`'),),
    ),
    Operation(
        "put",
        "/schedules/{name}",
        "put_schedule",
        "Create or replace a recurring schedule: a task per fire time of its NCRONTAB `cron`",
        parameters=(SCHEDULE,),
        replies=(
            Reply(200, "the schedule, with `next_run`"),
            _error(400, "malformed JSON"),
            _error(422, "a bad name, cron, kind or item (`details` name the field or item)"),
        ),
    ),
    Operation(
        "get",
        "/schedules/{name}",
        "get_schedule",
        "One schedule, with `next_run`, `last_run` and `last_task_id`",
        parameters=(SCHEDULE,),
        replies=(Reply(200, "the schedule"), _error(404, "no such schedule")),
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

HEADERS = {
    "Location": {"description": "where to poll the task", "schema": {"type": "string"}},
    "Retry-After": {
        "description": "seconds to wait before asking again",
        "schema": {"type": "integer"},
    },
}


def document() -> dict[str, Any]:
    """The whole document, built afresh."""
    refs, definitions = models_json_schema(
        [(SubmitRequest, "validation"), *((m, "serialization") for m in schemas.RESPONSE_MODELS)],
        ref_template=REF,
    )
    ref: dict[type[BaseModel], Any] = {}
    for model, mode in refs:
        if isinstance(model, type) and issubclass(model, BaseModel):
            ref[model] = refs[(model, mode)]
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, ref)
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
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "headers": HEADERS,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
            },
        },
    }


@cache
def document_bytes() -> bytes:
    return json.dumps(document(), indent=1).encode()


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
            name: {"$ref": f"#/components/headers/{name}"} for name in reply.headers
        }
    if reply.model is not None:
        found["content"] = {reply.media: {"schema": ref[reply.model]}}
    elif reply.status < 300:
        found["content"] = {reply.media: {"schema": {"type": "object"}}}
    return found


def _parameter(parameter: Parameter) -> dict[str, Any]:
    return {
        "name": parameter.name,
        "in": parameter.where,
        "required": parameter.where == "path",
        "description": parameter.description,
        "schema": parameter.schema,
    }
