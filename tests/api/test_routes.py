"""Each route's answers on the in-memory twin: status codes, error documents naming the field
or item, one spelling of a task id, parameters read strictly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api import routes
from api.answers import Answer, Request
from jobs.service import Service
from jobs.settings import Settings

TASK = "5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c"


@pytest.fixture
def service() -> Service:
    return Service.in_memory(Settings(test_kinds=True, max_items=10, max_body_bytes=2000))


def body(answer: Answer) -> Any:
    return json.loads(answer.body)


def submit(service: Service, document: Any, **headers: str) -> Answer:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return routes.submit_task(service, Request(body=raw, headers=headers))


def test_a_submit_is_accepted_with_where_to_poll(service: Service) -> None:
    answer = submit(service, {"kind": "echo", "items": [1, 2]})
    assert answer.status == 202
    task_id = body(answer)["task_id"]
    assert answer.headers["Location"] == f"/api/tasks/{task_id}" == body(answer)["status_url"]
    status = routes.get_task(service, Request(route={"task_id": task_id}))
    assert body(status)["status"] == "running"
    assert body(status)["counts"]["pending"] == 2
    assert body(status)["results_url"] == f"/api/tasks/{task_id}/results"


@pytest.mark.parametrize(
    ("document", "status", "detail"),
    [
        (b"{not json", 400, None),
        ({"kind": "nope", "items": [1]}, 422, {"field": "kind"}),
        ({"kind": "echo", "items": []}, 422, {"field": "items"}),
        ({"kind": "echo", "items": [1] * 11}, 422, {"field": "items"}),
        ({"kind": "echo", "items": [1], "extra": 1}, 422, {"field": "extra"}),
        ({"kind": "flaky", "items": [{"fail_times": 1}, {"fail_times": -1}]}, 422,
         {"index": 1, "field": "fail_times"}),
        ({"kind": "echo", "items": ["x" * 3000]}, 413, None),
    ],
)  # fmt: skip
def test_a_bad_submit_says_what_is_wrong_and_writes_nothing(
    service: Service, document: Any, status: int, detail: dict[str, Any] | None
) -> None:
    answer = submit(service, document)
    assert answer.status == status
    assert body(answer)["error"]
    if detail is not None:
        assert {k: body(answer)["details"][0][k] for k in detail} == detail
    assert list(service.tables.query("any")) == []


def test_every_route_reads_a_task_id_in_any_spelling_of_it(service: Service) -> None:
    task_id = body(submit(service, {"kind": "echo", "items": [1]}))["task_id"]
    for spelled in (task_id.upper(), "{" + task_id + "}"):
        route = {"task_id": spelled}
        assert routes.get_task(service, Request(route=route)).status == 200
        assert routes.list_jobs(service, Request(route=route)).status == 200
        assert routes.cancel_task(service, Request(route=route)).status == 202


@pytest.mark.parametrize("task_id", [TASK, "not-a-task", "../x"])
def test_an_unknown_or_malformed_task_is_404(service: Service, task_id: str) -> None:
    route = {"task_id": task_id}
    for handler in (routes.get_task, routes.cancel_task, routes.list_jobs, routes.get_results,
                    routes.retry_task):  # fmt: skip
        answer = handler(service, Request(route=route))
        assert answer.status == 404, handler.__name__
        assert body(answer)["error"]


@pytest.mark.parametrize(
    ("query", "field"),
    [({"limit": "²"}, "limit"), ({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"),
     ({"status": "sideways"}, "status"), ({"continuation": "x"}, "continuation")],
)  # fmt: skip
def test_job_listing_parameters_are_read_strictly(
    service: Service, query: dict[str, str], field: str
) -> None:
    task_id = body(submit(service, {"kind": "echo", "items": [1]}))["task_id"]
    answer = routes.list_jobs(service, Request(route={"task_id": task_id}, query=query))
    assert answer.status == 400
    assert body(answer)["details"][0]["field"] == field


def test_a_key_reused_with_another_body_is_a_conflict(service: Service) -> None:
    assert submit(service, {"kind": "echo", "items": [1]}, **{"idempotency-key": "k"}).status == 202
    again = submit(service, {"kind": "echo", "items": [2]}, **{"idempotency-key": "k"})
    assert again.status == 409
    assert "Idempotency-Key" in body(again)["error"]


def test_an_unexpected_error_is_answered_as_json(service: Service) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    service.check = broken  # type: ignore[method-assign]
    assert routes.health(service, Request()).status == 503
    service.table.read_counts = lambda task_id: broken()  # type: ignore[method-assign]
    answer = routes.get_results(service, Request(route={"task_id": TASK}))
    assert (answer.status, body(answer)["error"]) == (500, "internal error")
