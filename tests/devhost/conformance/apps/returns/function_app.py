"""Functions whose return values the worker's rules reject (a queue or timer function that
returns something, an HTTP function that returns None or bytes) beside ones it accepts."""

from __future__ import annotations

from typing import Any

import azure.functions as func

from tests.devhost.apps.record import record

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.queue_trigger(arg_name="msg", queue_name="%RETURNS_QUEUE%", connection="AzureWebJobsStorage")
def queue_returns(msg: func.QueueMessage) -> Any:
    record(function="queue_returns", dequeue_count=msg.dequeue_count)
    return "a value nobody binds"


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def timer_returns(timer: func.TimerRequest) -> Any:
    record(function="timer_returns")
    return 1


# An HTTP function's return annotation must be a type its output accepts (HttpResponse or
# str), so these two lie about what they return, as a buggy function would.
@app.route(route="none")
def http_none(req: func.HttpRequest) -> func.HttpResponse:
    return None  # type: ignore[return-value]


@app.route(route="bytes")
def http_bytes(req: func.HttpRequest) -> func.HttpResponse:
    return b"bytes are not an HTTP answer"  # type: ignore[return-value]


@app.route(route="text")
def http_text(req: func.HttpRequest) -> str:
    return "plain text"
