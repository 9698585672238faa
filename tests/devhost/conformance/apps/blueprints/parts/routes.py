"""Functions on a blueprint in a folder of its own (no ``__init__.py``), registered by the app."""

from __future__ import annotations

import os
import time

import azure.functions as func

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="hello")
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"Hello, {req.params.get('name', 'blueprint')}.")


@bp.route(route="slow")
def slow(req: func.HttpRequest) -> func.HttpResponse:
    """Takes a second; answers when it started and which process ran it."""
    started = time.time()
    time.sleep(1)
    return func.HttpResponse(f"{started} {os.getpid()}")
