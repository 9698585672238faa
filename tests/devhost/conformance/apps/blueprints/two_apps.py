"""A script with two function apps at top level: the worker refuses to pick one."""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
asgi_app = func.AsgiFunctionApp()  # type: ignore[call-arg]  # as the upstream app writes it


@app.route(route="hello")
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never served")
