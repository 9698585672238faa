"""HTTP-trigger test app: echoes what the function received so tests can compare."""

from __future__ import annotations

import asyncio
import json
import os

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _describe(req: func.HttpRequest, function: str) -> func.HttpResponse:
    body = {
        "function": function,
        "method": req.method,
        "url": req.url,
        "headers": dict(req.headers),
        "params": dict(req.params),
        "route_params": dict(req.route_params),
        "body_hex": req.get_body().hex(),
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="items/{id:int}", methods=["GET"])
def item_by_number(req: func.HttpRequest) -> func.HttpResponse:
    return _describe(req, "item_by_number")


@app.route(route="items/{id:guid}", methods=["GET", "DELETE"])
def item_by_guid(req: func.HttpRequest) -> func.HttpResponse:
    return _describe(req, "item_by_guid")


@app.route(route="items/special", methods=["GET"])
def item_special(req: func.HttpRequest) -> func.HttpResponse:
    return _describe(req, "item_special")


@app.route(route="optional/{name?}")
def optional(req: func.HttpRequest) -> func.HttpResponse:
    return _describe(req, "optional")


@app.route(route="files/{*path}")
async def files(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return _describe(req, "files")


@app.route(route="")
def empty_route(req: func.HttpRequest) -> func.HttpResponse:
    return _describe(req, "empty_route")


@app.route(route="echo", methods=["POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    """The body and chosen headers back, byte for byte."""
    return func.HttpResponse(
        req.get_body(),
        status_code=int(req.params.get("status", "200")),
        headers={"X-Echo": req.headers.get("x-custom", ""), "X-Multi": "a, b"},
        mimetype=req.headers.get("content-type", "application/octet-stream"),
    )


@app.route(route="text", methods=["GET"])
def text(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("héllo", mimetype="text/html", charset="utf-8")


@app.route(route="settings", methods=["GET"])
def settings(req: func.HttpRequest) -> func.HttpResponse:
    names = ("FROM_FILE", "FROM_BOTH", "AZURE_FUNCTIONS_ENVIRONMENT")
    return func.HttpResponse(json.dumps({n: os.environ.get(n) for n in names}))


@app.route(route="secured/function", auth_level=func.AuthLevel.FUNCTION)
def secured_function(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("function ok")


@app.route(route="secured/admin", auth_level=func.AuthLevel.ADMIN)
def secured_admin(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("admin ok")


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("boom")
