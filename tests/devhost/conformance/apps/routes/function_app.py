"""Overlapping routes: the host tries them in function name order, methods included."""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="things/{name}", methods=["GET"])
def a_any_thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("a_any_thing")


@app.route(route="things/special", methods=["GET"])
def b_special_thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("b_special_thing")


@app.route(route="orders", methods=["POST"])
def c_post_only(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("c_post_only")


@app.route(route="dup", methods=["GET", "PUT"])
def d_first(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("d_first")


@app.route(route="DUP/", methods=["PUT"])
def e_conflicting(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("e_conflicting")
