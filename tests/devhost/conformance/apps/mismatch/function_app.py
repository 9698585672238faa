"""A parameter without a binding: the worker cannot load the app, so nothing is served."""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="fine")
def fine(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("fine")


@app.route(route="extra")
def extra(req: func.HttpRequest, unbound: str) -> func.HttpResponse:
    return func.HttpResponse(unbound)
