"""The behaviours the Python worker's own HTTP test app exercises (its unit-test
``http_functions_stein`` app and the end-to-end ``http_functions_stein`` apps), written here
for the conformance suite: returns and outputs, the request as the function sees it, the
context, errors, cookies, logging, and event-loop use."""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import sys
import typing
from typing import Any

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app_log = logging.getLogger("conformance-app")
system_log = logging.getLogger("azure_functions_worker")
depth: contextvars.ContextVar[int] = contextvars.ContextVar("depth")


@app.route(route="text")
def text(req: func.HttpRequest) -> str:
    return "plain words"


@app.route(route="html")
def html(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("<p>markup™</p>", mimetype="text/html")


@app.route(route="gone")
def gone(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("not here", status_code=404)


@app.route(route="empty")
def empty(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse()


@app.route(route="moved")
def moved(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=302, headers={"location": "html"})


@app.route(route="via_out", binding_arg_name="answer")
def via_out(req: func.HttpRequest, answer: func.Out[func.HttpResponse]) -> None:
    answer.set(func.HttpResponse("set through Out", status_code=201))


@app.route(route="enqueue")
@app.queue_output(arg_name="msg", queue_name="%OUT_QUEUE%", connection="AzureWebJobsStorage")
def enqueue(req: func.HttpRequest, msg: func.Out[str]) -> str:
    msg.set(req.params.get("text", "nothing"))
    return "queued"


# typing.List, not list[str]: the worker's typing_inspect does not see a builtin generic as a
# type and refuses the annotation at load (functions.py ``validate_function_params``).
@app.route(route="enqueue_many")
@app.queue_output(arg_name="msgs", queue_name="%OUT_QUEUE%", connection="AzureWebJobsStorage")
def enqueue_many(req: func.HttpRequest, msgs: func.Out[typing.List[str]]) -> str:  # noqa: UP006
    msgs.set(["first", "second"])
    return "queued two"


@app.route(route="unannotated_return")
def unannotated_return(req):  # type: ignore[no-untyped-def]
    return "no annotations at all"


# A return annotation would have to suit the http output (the worker checks it at load), so
# these two, like the upstream ones, have none.
@app.route(route="returns_none")
def returns_none(req: func.HttpRequest):  # type: ignore[no-untyped-def]
    app_log.info("returning nothing")


@app.route(route="returns_bytes")
def returns_bytes(req: func.HttpRequest):  # type: ignore[no-untyped-def]
    return b"bytes are not an answer"


# Not "body": the host reads a returned JSON string with a body key as a response object
# (HttpBinding.cs), which is why the upstream app's key is get_body too.
@app.route(route="echo", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> str:
    body = req.get_body()
    params = dict(req.params)
    params.pop("code", None)
    try:
        parsed = req.get_json()
    except ValueError:
        parsed = None
    return json.dumps(
        {
            "method": req.method,
            "url": req.url,
            "headers": dict(req.headers),
            "params": params,
            "get_body": body.decode(errors="replace"),
            "json": parsed,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
    )


@app.route(route="bytes_back", methods=["POST"])
def bytes_back(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    return func.HttpResponse(body=body, headers={"body-len": str(len(body))})


@app.route(route="params/{first}/{second}")
def params(req: func.HttpRequest) -> str:
    return json.dumps(dict(req.route_params))


@app.route(route="context")
def context(req: func.HttpRequest, context: func.Context) -> str:
    trace: Any = context.trace_context
    return json.dumps(
        {
            "function_name": context.function_name,
            "invocation_id": context.invocation_id,
            "Traceparent": trace.Traceparent,
            "Tracestate": trace.Tracestate,
            "Attributes": trace.Attributes,
            "trace_parent": trace.trace_parent,
            "retry_count": context.retry_context.retry_count,
            "max_retry_count": context.retry_context.max_retry_count,
        }
    )


@app.route(route="divide")
def divide(req: func.HttpRequest) -> str:
    return str(1 / 0)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message for you")


@app.route(route="unprintable")
def unprintable(req: func.HttpRequest) -> str:
    raise Unprintable()


@app.route(route="cookies")
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse("with cookies")
    for value in req.params.get("set", "").split("|"):
        response.headers.add("Set-Cookie", value)
    return response


@app.route(route="logs")
def logs(req: func.HttpRequest) -> str:
    tag = req.params.get("tag", "")
    app_log.info(f"app info {tag}")
    logging.debug(f"root debug {tag}")
    logging.warning(f"root warning {tag}")
    system_log.info(f"system info {tag}")
    print(f"printed {tag}")
    print(f"LanguageWorkerConsoleLog console {tag}")
    print(f"LanguageWorkerConsoleLog console stderr {tag}", file=sys.stderr)
    return "logged"


async def _tick(name: str, times: int) -> str:
    for _ in range(times):
        await asyncio.sleep(0.01)
    return f"{name}:{times}"


async def _tick_depth(name: str) -> str:
    return await _tick(name, depth.get())


@app.route(route="tasks")
async def tasks(req: func.HttpRequest) -> str:
    depth.set(2)
    first = asyncio.create_task(_tick_depth("a"), context=contextvars.copy_context())
    depth.set(3)
    second = asyncio.create_task(_tick_depth("b"), context=contextvars.copy_context())
    background = asyncio.get_running_loop().create_task(_tick("c", 1))
    app_log.info("tasks scheduled")
    return f"{await first} {await second} {await background}"


@app.route(route="own_loop")
def own_loop(req: func.HttpRequest) -> str:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_tick("own", 2))
    finally:
        loop.close()


@app.route(route="retried")
@app.retry(strategy="fixed_delay", max_retry_count="1", delay_interval="00:00:01")
def retried(req: func.HttpRequest, context: func.Context) -> str:
    return f"attempt {context.retry_context.retry_count}"


@app.queue_trigger(arg_name="msg", queue_name="%OUT_QUEUE%", connection="AzureWebJobsStorage")
def drain(msg: func.QueueMessage) -> None:
    app_log.info(f"drained {msg.get_body().decode()}")
