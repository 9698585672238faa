"""One handler per route: read the request, call the domain once, shape the answer."""

from __future__ import annotations

import logging

from api import dashboard as page
from api import documents, openapi, params
from api.answers import Answer, Request, json_answer
from api.errors import answering
from composition import Service
from jobs.control import cancel, purge, retry
from jobs.dispatch import submit
from jobs.reads import stats, task_index, tasks
from jobs.schedules import definitions

logger = logging.getLogger("api")

RETRY_AFTER = "2"  # seconds a caller should wait before polling a task


def submit_task(service: Service, request: Request) -> Answer:
    def accepted() -> Answer:
        key = params.idempotency_key(request.header("Idempotency-Key"))
        done = submit.submit(service, request.body, key)
        url = documents.task_url(done.task.task_id)
        body = documents.accepted(done.task)
        return json_answer(body, 202, {"Location": url, "Retry-After": RETRY_AFTER})

    return answering(accepted)


def get_task(service: Service, request: Request) -> Answer:
    return answering(
        lambda: json_answer(
            documents.task(tasks.status(service, params.task_id(request.route["task_id"])))
        )
    )


def list_tasks(service: Service, request: Request) -> Answer:
    def found() -> Answer:
        query = request.query
        state = params.task_state(query.get("state"))
        kind = params.kind(query.get("kind"), service.kinds)
        limit = params.task_limit(query.get("limit"))
        after = params.task_continuation(query.get("continuation"))
        return json_answer(
            documents.task_page(task_index.page(service.table, state, kind, limit, after))
        )

    return answering(found)


def get_stats(service: Service, request: Request) -> Answer:
    return answering(lambda: json_answer(documents.stats(stats.read(service))))


def dashboard(service: Service, request: Request) -> Answer:
    """The page itself: static, so it needs no key; it asks for one to call the API."""
    return answering(page.answer)


def cancel_task(service: Service, request: Request) -> Answer:
    def cancelled() -> Answer:
        task_id = params.task_id(request.route["task_id"])
        if params.purge(request.query.get("purge")):
            purge.request_purge(service, task_id)
            return json_answer(documents.purge_accepted(task_id), 202)
        task = cancel.request_cancel(service, task_id)
        url = documents.task_url(task.task_id)
        return json_answer(documents.cancel_accepted(task), 202, {"Location": url})

    return answering(cancelled)


def list_jobs(service: Service, request: Request) -> Answer:
    def page() -> Answer:
        task_id = params.task_id(request.route["task_id"])
        status = params.status(request.query.get("status"))
        limit = params.limit(request.query.get("limit"))
        after = params.continuation(request.query.get("continuation"))
        found = tasks.jobs_page(service, task_id, status, limit, after)
        return json_answer(documents.job_page(found))

    return answering(page)


def get_job(service: Service, request: Request) -> Answer:
    def detail() -> Answer:
        task_id = params.task_id(request.route["task_id"])
        index = params.job_number(request.route["job_id"])
        return json_answer(documents.job_detail(tasks.job_detail(service, task_id, index)))

    return answering(detail)


def get_results(service: Service, request: Request) -> Answer:
    def download() -> Answer:
        found = tasks.results(service, params.task_id(request.route["task_id"]))
        if found.link is not None:  # a large file: the caller reads it from storage
            return Answer(303, b"", headers={"Location": found.link})
        return Answer(200, b"".join(found.lines or ()), mimetype="application/x-ndjson")

    return answering(download)


def retry_task(service: Service, request: Request) -> Answer:
    return answering(
        lambda: json_answer(
            documents.retry_accepted(
                retry.request_retry(service, params.task_id(request.route["task_id"]))
            ),
            202,
        )
    )


def put_schedule(service: Service, request: Request) -> Answer:
    return answering(
        lambda: json_answer(
            documents.schedule(definitions.save(service, request.route["name"], request.body))
        )
    )


def get_schedule(service: Service, request: Request) -> Answer:
    return answering(
        lambda: json_answer(
            documents.schedule(
                definitions.get(service, params.schedule_name(request.route["name"]))
            )
        )
    )


def list_schedules(service: Service, request: Request) -> Answer:
    return answering(lambda: json_answer(documents.schedules(definitions.all_schedules(service))))


def delete_schedule(service: Service, request: Request) -> Answer:
    def deleted() -> Answer:
        definitions.delete(service, params.schedule_name(request.route["name"]))
        return Answer(204, b"")

    return answering(deleted)


def list_kinds(service: Service, request: Request) -> Answer:
    return answering(lambda: json_answer(documents.kinds(service.kinds)))


def health(service: Service, request: Request) -> Answer:
    try:
        service.check()
    except Exception as error:
        logger.warning("health check failed: %s", error)
        return json_answer(documents.health(error), 503)
    return json_answer(documents.health(None))


def openapi_document(service: Service, request: Request) -> Answer:
    return Answer(200, openapi.document_bytes(openapi.Limits.of(service.settings, service.kinds)))
