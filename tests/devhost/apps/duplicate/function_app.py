"""Two functions with one name: the host must refuse to start."""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.function_name("same")
@app.route(route="one")
def one(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("one")


@app.function_name("same")
@app.route(route="two")
def two(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("two")
