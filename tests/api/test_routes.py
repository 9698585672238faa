"""Each route's answers on the in-memory twin: status codes, error documents naming the field
or item, one spelling of a task id, parameters read strictly."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest

from api import routes
from api.answers import Answer, Request, query_of
from composition import Service
from jobs.core.settings import Settings
from jobs.schedules import firing

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
        ({"kind": "echo", "items": [1], "priority": "urgent"}, 422, {"field": "priority"}),
        ({"kind": "transform", "items": [{"container": "job-inputs", "blob": "a",
          "operation": "upper"}], "priority": "low"}, 422, {"field": "priority"}),
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
    assert list(service.table.store.query("any")) == []


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
     ({"status": "sideways"}, "status"), ({"continuation": "x"}, "continuation"),
     ({"limit": ""}, "limit"), ({"status": ""}, "status"), ({"continuation": ""}, "continuation"),
     ({"continuation": "\u0660" * 7 + "\u0661"}, "continuation")],
)  # fmt: skip
def test_job_listing_parameters_are_read_strictly(
    service: Service, query: dict[str, str], field: str
) -> None:
    task_id = body(submit(service, {"kind": "echo", "items": [1]}))["task_id"]
    answer = routes.list_jobs(service, Request(route={"task_id": task_id}, query=query))
    assert answer.status == 400
    assert body(answer)["details"][0]["field"] == field


@pytest.mark.parametrize("purge", ["", "yes", "TRUE"])
def test_a_delete_with_a_bad_purge_value_is_refused_and_cancels_nothing(
    service: Service, purge: str
) -> None:
    task_id = body(submit(service, {"kind": "echo", "items": [1]}))["task_id"]
    request = Request(route={"task_id": task_id}, query={"purge": purge})
    answer = routes.cancel_task(service, request)
    assert answer.status == 400
    assert body(answer)["details"][0]["field"] == "purge"
    status = routes.get_task(service, Request(route={"task_id": task_id}))
    assert body(status)["counts"]["cancelled"] == 0


def test_a_job_id_is_eight_ascii_digits(service: Service) -> None:
    task_id = body(submit(service, {"kind": "echo", "items": [1, 2]}))["task_id"]
    for job_id, status in (("00000001", 200), ("\u0660" * 7 + "\u0661", 404), ("0000001", 404)):
        answer = routes.get_job(service, Request(route={"task_id": task_id, "job_id": job_id}))
        assert answer.status == status, job_id


def test_parameters_sent_empty_reach_the_handlers_as_empty() -> None:
    """The host leaves out parameters sent empty; they are read back from the URL."""
    host = {"limit": "5", "Kind": "echo"}
    url = "http://h/api/tasks?state=&limit=5&kind=&Kind=echo&continuation"
    assert query_of(host, url) == {"limit": "5", "Kind": "echo", "state": "", "continuation": ""}
    assert query_of({}, "http://h/api/tasks") == {}


def test_a_task_says_what_submitted_it(service: Service) -> None:
    by_caller = body(submit(service, {"kind": "echo", "items": [1]}))["task_id"]
    schedule = json.dumps({"cron": "* * * * * *", "kind": "echo", "items": [1]}).encode()
    saved = routes.put_schedule(service, Request(route={"name": "nightly"}, body=schedule))
    [fired] = firing.run_due(service, datetime.fromisoformat(body(saved)["next_run"]))

    def source(task_id: str | None) -> Any:
        return body(routes.get_task(service, Request(route={"task_id": str(task_id)})))["source"]

    assert source(by_caller) is None
    assert source(fired.task_id) == f"schedule:nightly@{fired.fire_time}"
    listed = body(routes.list_tasks(service, Request()))["tasks"]
    assert {t["task_id"]: t["source"] for t in listed} == {
        by_caller: None,
        fired.task_id: f"schedule:nightly@{fired.fire_time}",
    }


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
    service.table.read_status = lambda task_id, now: broken()  # type: ignore[method-assign]
    answer = routes.get_results(service, Request(route={"task_id": TASK}))
    assert (answer.status, body(answer)["error"]) == (500, "internal error")


# -- listing, stats and the dashboard ------------------------------------------------------


def test_tasks_are_listed_newest_first_as_the_task_document(service: Service) -> None:
    made = [body(submit(service, {"kind": "echo", "items": [n]}))["task_id"] for n in range(3)]
    listed = body(routes.list_tasks(service, Request(query={"limit": "2"})))
    assert len(listed["tasks"]) == 2
    one = body(routes.get_task(service, Request(route={"task_id": listed["tasks"][0]["task_id"]})))
    assert listed["tasks"][0] == one
    rest = body(routes.list_tasks(service, Request(query={"continuation": listed["continuation"]})))
    found = [t["task_id"] for t in listed["tasks"] + rest["tasks"]]
    assert sorted(found) == sorted(made)
    assert rest["continuation"] is None
    running = body(routes.list_tasks(service, Request(query={"state": "running", "kind": "echo"})))
    assert len(running["tasks"]) == 3
    assert body(routes.list_tasks(service, Request(query={"kind": "sleep"})))["tasks"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"state": "done"}, "state"),
        ({"state": "Running"}, "state"),
        ({"kind": "nope"}, "kind"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "٣"}, "limit"),
        ({"continuation": "00000007"}, "continuation"),
        ({"continuation": "8232774399999-not-a-task"}, "continuation"),
        ({"state": ""}, "state"),
        ({"kind": ""}, "kind"),
        ({"limit": ""}, "limit"),
        ({"continuation": ""}, "continuation"),
    ],
)
def test_task_listing_parameters_are_read_strictly(
    service: Service, query: dict[str, str], field: str
) -> None:
    answer = routes.list_tasks(service, Request(query=query))
    assert answer.status == 400
    assert [d["field"] for d in body(answer)["details"]] == [field]
    assert body(answer)["error"]


def test_stats_show_each_queue_running_tasks_and_sixty_minutes(service: Service) -> None:
    submit(service, {"kind": "echo", "items": [1]})
    stats = body(routes.get_stats(service, Request()))
    queues = {q["queue"]: (q["depth"], q["poison"]) for q in stats["queues"]}
    assert list(queues) == [
        "jobs", "jobs-long", "jobs-small", "jobs-control", "jobs-high", "jobs-low",
    ]  # fmt: skip
    # Dispatched at submit (its job's message); the fan-out message behind it taken back.
    assert (queues["jobs-small"], queues["jobs-control"]) == ((1, 0), (0, 0))
    assert stats["running_tasks"] == 1
    assert len(stats["per_minute"]) == 60
    assert set(stats["per_minute"][-1]) == {"minute", "completed", "failed"}
    assert stats["per_minute"][-1]["minute"].endswith(":00Z")


def test_the_dashboard_is_one_page_that_allows_only_its_own_style_and_script(
    service: Service,
) -> None:
    answer = routes.dashboard(service, Request())
    assert answer.status == 200
    assert answer.mimetype == "text/html"
    page = answer.body.decode()
    assert page.count("<script>") == 1
    assert page.count("<style>") == 1
    assert re.findall(r'(?:src|href)="(?!data:)', page) == []  # nothing to fetch but the API
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert policy.count("sha256-") == 2


def test_a_task_shows_its_priority(service: Service) -> None:
    high = body(submit(service, {"kind": "echo", "items": [1], "priority": "high"}))["task_id"]
    plain = body(submit(service, {"kind": "echo", "items": [1]}))["task_id"]
    for task_id, priority in ((high, "high"), (plain, "normal")):
        status = body(routes.get_task(service, Request(route={"task_id": task_id})))
        assert status["priority"] == priority
    listed = body(routes.list_tasks(service, Request()))["tasks"]  # same millisecond: any order
    assert {t["task_id"]: t["priority"] for t in listed} == {high: "high", plain: "normal"}


def test_the_kinds_are_listed_with_their_limits(service: Service) -> None:
    answer = routes.list_kinds(service, Request())
    assert answer.status == 200
    kinds = {kind["name"]: kind for kind in body(answer)["kinds"]}
    assert list(kinds) == sorted(kinds)
    assert kinds["gated"] == {
        "name": "gated", "queue": "jobs", "max_attempts": 5, "timeout": None,
        "concurrency": 8, "rate": None,
    }  # fmt: skip
    assert (kinds["paced"]["rate"], kinds["paced"]["concurrency"]) == (20, None)
    assert kinds["transform"]["queue"] == "jobs-long"
    plain = Service.in_memory(Settings())
    assert "gated" not in {
        kind["name"] for kind in body(routes.list_kinds(plain, Request()))["kinds"]
    }
