"""A working function beside one whose connection does not exist."""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="working")
def working(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("still here")


@app.queue_trigger(arg_name="msg", queue_name="anything", connection="NoSuchConnection")
def broken(msg: func.QueueMessage) -> None:
    raise AssertionError("a disabled function never runs")
