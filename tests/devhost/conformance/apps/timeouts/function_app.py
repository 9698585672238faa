"""One HTTP function whose duration the test controls: hold, wait for a file, sleep."""

from __future__ import annotations

import os
import time

import azure.functions as func

from tests.devhost.apps.record import record

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="work")
def work(req: func.HttpRequest) -> func.HttpResponse:
    tag = req.params.get("tag", "")
    record(function="work", tag=tag, phase="start")
    time.sleep(float(req.params.get("hold", "0")))
    record(function="work", tag=tag, phase="held")
    marker = req.params.get("wait_for")
    deadline = time.monotonic() + 20
    while marker and not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(float(req.params.get("sleep", "0")))
    record(function="work", tag=tag, phase="end")
    return func.HttpResponse(f"{tag} done")
