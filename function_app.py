"""The job service's triggers. Each one parses its input, calls the domain in jobs/ and shapes
the answer; nothing here touches storage at import time."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import cache
from typing import Any

import azure.functions as func

from jobs import cancel, submit, sweep, tasks, worker
from jobs.errors import ConfigurationError, Conflict, InvalidRequest, JobsError, NotFound
from jobs.resources import LISTENED_QUEUES
from jobs.service import Service
from jobs.settings import STORAGE_CONNECTION, SWEEP_SCHEDULE

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@cache
def service() -> Service:
    """Built on first use and kept for the worker's life, so clients reuse their connections."""
    return Service.from_env()


# -- HTTP ------------------------------------------------------------------------------------


@app.route(route="tasks", methods=["POST"])
def submit_task(req: func.HttpRequest) -> func.HttpResponse:
    def accepted() -> func.HttpResponse:
        done = submit.submit(service(), req.get_body(), req.headers.get("Idempotency-Key"))
        location = f"/api/tasks/{done.task.task_id}"
        body = {"task_id": done.task.task_id, "status_url": location, "total": done.task.total}
        return _json(body, 202, {"Location": location, "Retry-After": "2"})

    return _answer(accepted)


@app.route(route="tasks/{task_id}", methods=["GET"])
def get_task(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(lambda: _json(tasks.status(service(), req.route_params["task_id"])))


@app.route(route="tasks/{task_id}", methods=["DELETE"])
def cancel_task(req: func.HttpRequest) -> func.HttpResponse:
    def cancelled() -> func.HttpResponse:
        task = cancel.request_cancel(service(), req.route_params["task_id"])
        location = f"/api/tasks/{task.task_id}"
        return _json({"task_id": task.task_id, "status_url": location}, 202, {"Location": location})

    return _answer(cancelled)


@app.route(route="tasks/{task_id}/jobs", methods=["GET"])
def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(
        lambda: _json(
            tasks.jobs_page(
                service(),
                req.route_params["task_id"],
                req.params.get("status"),
                req.params.get("limit"),
                req.params.get("continuation"),
            )
        )
    )


@app.route(route="tasks/{task_id}/jobs/{job_id}", methods=["GET"])
def get_job(req: func.HttpRequest) -> func.HttpResponse:
    params = req.route_params
    return _answer(lambda: _json(tasks.job_detail(service(), params["task_id"], params["job_id"])))


@app.route(route="tasks/{task_id}/results", methods=["GET"])
def get_results(req: func.HttpRequest) -> func.HttpResponse:
    def download() -> func.HttpResponse:
        lines = tasks.results(service(), req.route_params["task_id"])
        return func.HttpResponse(b"".join(lines), status_code=200, mimetype="application/x-ndjson")

    return _answer(download)


@app.route(route="tasks/{task_id}/retry", methods=["POST"])
def retry_task(req: func.HttpRequest) -> func.HttpResponse:
    def requeued() -> func.HttpResponse:
        count = tasks.retry(service(), req.route_params["task_id"])
        return _json({"requeued": count}, 202)

    return _answer(requeued)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    try:
        service().check()
    except Exception as error:
        logging.warning("health check failed: %s", error)
        return _json({"status": "unavailable", "error": type(error).__name__}, 503)
    return _json({"status": "ok"})


def _answer(handler: Callable[[], func.HttpResponse]) -> func.HttpResponse:
    """Run ``handler``, turning the domain's errors into the API's error answers."""
    try:
        return handler()
    except InvalidRequest as error:
        return _error(error.status, error.message, error.details)
    except NotFound:
        return _error(404, "no such task or job")
    except Conflict as error:
        return _error(409, str(error))
    except ConfigurationError as error:
        logging.error("configuration error: %s", error)
        return _error(500, "the service is misconfigured; see its logs")
    except JobsError:
        logging.exception("request failed")
        return _error(500, "internal error")


def _error(
    status: int, message: str, details: list[dict[str, Any]] | None = None
) -> func.HttpResponse:
    return _json({"error": message, "details": details or []}, status)


def _json(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body), status_code=status, headers=headers, mimetype="application/json"
    )


# -- queues and timer ------------------------------------------------------------------------


def _job_queue_function(queue: str) -> None:
    """One queue-triggered function per queue; the host retries and poisons its messages."""

    @app.function_name(f"run_{queue.replace('-', '_')}")
    @app.queue_trigger(arg_name="msg", queue_name=queue, connection=STORAGE_CONNECTION)
    def run(msg: func.QueueMessage) -> None:
        worker.handle(service(), queue, msg.get_body().decode("utf-8"), msg.dequeue_count or 1)


for _queue in LISTENED_QUEUES:
    _job_queue_function(_queue)


@app.timer_trigger(schedule=f"%{SWEEP_SCHEDULE}%", arg_name="timer")
def sweep_poison(timer: func.TimerRequest) -> None:
    report = sweep.sweep(service())
    if report.failed or report.discarded:
        logging.info(
            "poison sweep: %d jobs failed, %d messages discarded, per queue %s",
            report.failed,
            report.discarded,
            report.by_queue,
        )


@app.timer_trigger(schedule=f"%{SWEEP_SCHEDULE}%", arg_name="timer")
def sample_queue_depth(timer: func.TimerRequest) -> None:
    """Each queue's depth and oldest waiting message, on the sweep's schedule (one wake-up a
    minute for both in Azure)."""
    from jobs import depth  # appended without touching the imports above; fold in there

    depth.report(service())
