"""A Flask app served through ``WsgiFunctionApp``, with the routes the worker's end-to-end
WSGI app has."""

from __future__ import annotations

from typing import Any

import azure.functions as func
from flask import Flask, request

web = Flask(__name__)


@web.get("/get_query_param")
def get_query_param() -> str:
    return f"hello {request.args.get('name') or 'world'}"


@web.post("/post_str")
def post_str() -> str:
    return f"hello {request.data.decode()}"


@web.post("/post_json_return_json_response")
def post_json_return_json_response() -> Any:
    return request.get_json()


@web.get("/get_path_param/<item>")
def get_path_param(item: str) -> str:
    return f"hello {item}"


@web.get("/raise_http_exception")
def raise_http_exception() -> tuple[dict[str, str], int]:
    return {"detail": "Item not found"}, 404


app = func.WsgiFunctionApp(app=web.wsgi_app, http_auth_level=func.AuthLevel.ANONYMOUS)
