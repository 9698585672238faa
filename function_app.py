"""The job service's triggers, and nothing else: each HTTP route hands its request to api/,
each queue message and timer tick to jobs/. Nothing here touches storage at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import azure.functions as func

from api import routes
from api.answers import Answer, Request, query_of
from composition import Service
from jobs.control import handlers, sweep
from jobs.core.resources import LISTENED_QUEUES
from jobs.core.settings import (
    RETENTION_SCHEDULE,
    SCHEDULER_SCHEDULE,
    STORAGE_CONNECTION,
    SWEEP_SCHEDULE,
)
from jobs.reads import queue_depth, throughput
from jobs.schedules import firing
from jobs.storage.connection import REQUEST
from jobs.task_end import retention

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
HTTP_THREADS = 8


@cache
def service() -> Service:
    """Built on first use and kept for the worker's life, so clients reuse their connections."""
    return Service.from_env()


@cache
def http_service() -> Service:
    """The same, with clients that give up within seconds: a caller is waiting."""
    return Service.from_env(patience=REQUEST)


@cache
def http_threads() -> ThreadPoolExecutor:
    """HTTP requests run on threads of their own, never behind queue invocations: a backlog,
    or storage retries holding every worker thread, must not keep a caller waiting."""
    return ThreadPoolExecutor(HTTP_THREADS, thread_name_prefix="http")


async def _http(
    route: Callable[[Service, Request], Answer], req: func.HttpRequest
) -> func.HttpResponse:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(http_threads(), _answer, route, req)


def _answer(
    route: Callable[[Service, Request], Answer], req: func.HttpRequest
) -> func.HttpResponse:
    request = Request(
        route=dict(req.route_params),
        query=query_of(req.params, req.url),
        headers={name.lower(): value for name, value in req.headers.items()},
        body=req.get_body(),
    )
    answer = route(http_service(), request)
    return func.HttpResponse(
        answer.body,
        status_code=answer.status,
        headers=dict(answer.headers),
        mimetype=answer.mimetype,
    )


# -- HTTP ------------------------------------------------------------------------------------


@app.route(route="tasks", methods=["POST"])
async def submit_task(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.submit_task, req)


@app.route(route="tasks", methods=["GET"])
async def list_tasks(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.list_tasks, req)


@app.route(route="tasks/{task_id}", methods=["GET"])
async def get_task(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.get_task, req)


@app.route(route="tasks/{task_id}", methods=["DELETE"])
async def cancel_task(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.cancel_task, req)


@app.route(route="tasks/{task_id}/jobs", methods=["GET"])
async def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.list_jobs, req)


@app.route(route="tasks/{task_id}/jobs/{job_id}", methods=["GET"])
async def get_job(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.get_job, req)


@app.route(route="tasks/{task_id}/results", methods=["GET"])
async def get_results(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.get_results, req)


@app.route(route="tasks/{task_id}/retry", methods=["POST"])
async def retry_task(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.retry_task, req)


@app.route(route="stats", methods=["GET"])
async def get_stats(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.get_stats, req)


@app.route(route="dashboard", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def dashboard(req: func.HttpRequest) -> func.HttpResponse:
    """Static files only: the page asks for the function key the API routes need."""
    return await _http(routes.dashboard, req)


@app.route(route="schedules", methods=["GET"])
async def list_schedules(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.list_schedules, req)


@app.route(route="schedules/{name}", methods=["PUT"])
async def put_schedule(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.put_schedule, req)


@app.route(route="schedules/{name}", methods=["GET"])
async def get_schedule(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.get_schedule, req)


@app.route(route="schedules/{name}", methods=["DELETE"])
async def delete_schedule(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.delete_schedule, req)


@app.route(route="kinds", methods=["GET"])
async def list_kinds(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.list_kinds, req)


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.health, req)


# Anonymous like /health: it says nothing the repository does not, and tools that generate
# clients or draw the API read it before anyone has handed them a key.
@app.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def openapi_document(req: func.HttpRequest) -> func.HttpResponse:
    return await _http(routes.openapi_document, req)


# -- queues and timer ------------------------------------------------------------------------


def _job_queue_function(queue: str) -> None:
    """One queue-triggered function per queue; the host retries and poisons its messages."""

    @app.function_name(f"run_{queue.replace('-', '_')}")
    @app.queue_trigger(arg_name="msg", queue_name=queue, connection=STORAGE_CONNECTION)
    def run(msg: func.QueueMessage) -> None:
        body = msg.get_body().decode("utf-8")
        handlers.handle(service(), queue, body, msg.dequeue_count or 1, msg.id, msg.insertion_time)


for _queue in LISTENED_QUEUES:
    _job_queue_function(_queue)


@app.timer_trigger(schedule=f"%{SWEEP_SCHEDULE}%", arg_name="timer")
def sweep_poison(timer: func.TimerRequest) -> None:
    report = sweep.sweep(service())
    if report.failed or report.discarded or report.set_aside:
        logging.info(
            "poison sweep: %d jobs failed, %d stale messages, %d set aside, per queue %s",
            report.failed,
            report.discarded,
            report.set_aside,
            report.by_queue,
        )


@app.timer_trigger(schedule=f"%{SCHEDULER_SCHEDULE}%", arg_name="timer")
def run_schedules(timer: func.TimerRequest) -> None:
    """Submit each due recurring schedule's task, once per fire time (jobs.schedules.firing)."""
    firing.run_due(service())


@app.timer_trigger(schedule=RETENTION_SCHEDULE, arg_name="timer")
def purge_old_tasks(timer: func.TimerRequest) -> None:
    """Daily: start purging finished tasks older than JOBS_RETENTION_DAYS
    (jobs.task_end.retention)."""
    run = service()
    retention.run(run, run.settings.retention_days)


@app.timer_trigger(schedule=f"%{SWEEP_SCHEDULE}%", arg_name="timer")
def sample_queue_depth(timer: func.TimerRequest) -> None:
    """Each queue's depth and oldest waiting message, and the running tasks' jobs completed
    and failed since the last sample, on the sweep's schedule (one wake-up a minute for all in
    Azure)."""
    queue_depth.report(service())
    throughput.sample(service().table, settle=service().lifecycle.settle)
