"""Stages through HTTP on the local host: a chain of three runs with exact counts, each stage
over the one before's results; ``when: completed`` waits for an end without failures; a bad
``then`` is refused naming its field; a stage that cannot be submitted is an error a caller
reads on the earlier task."""

from __future__ import annotations

import json
from typing import Any

import requests
from azure.core.exceptions import ResourceNotFoundError

from harness.polling import wait_until
from jobs.core.resources import PAYLOADS_CONTAINER
from jobs_client import Client
from jobs_client.output import task_summary
from tests.e2e.conftest import Api

SLOW = 120  # seconds: a stage's whole run on a busy machine


def polled(api: Api, task_id: str) -> dict[str, Any] | None:
    """The task's document, or None while storage is too slow to answer (a 503 with
    Retry-After, which a loaded machine may give): the poll asks again."""
    response = api.get(f"tasks/{task_id}")
    if response.status_code == 503:
        return None
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def field_of(api: Api, task_id: str, field: str) -> Any:
    """``field`` of the task's document, once it is set."""
    return wait_until(
        lambda: (found := polled(api, task_id)) and found[field], timeout=SLOW, interval=0.5,
        message=f"task {task_id}'s {field}",
    )  # fmt: skip


def next_of(api: Api, task_id: str) -> str:
    """The next stage of a finished task, once its end's follow-up has submitted it."""
    return str(field_of(api, task_id, "next"))


def finished(api: Api, task_id: str) -> dict[str, Any]:
    document: dict[str, Any] = wait_until(
        lambda: (found := polled(api, task_id)) and found["finished_at"] and found,
        timeout=SLOW, interval=0.5, message=f"task {task_id} to finish",
    )  # fmt: skip
    return document


def followed_up(api: Api, task_id: str) -> None:
    """Waits for the end's event document: the follow-up writes it after the next stage."""
    blob = api.blobs().get_blob_client(PAYLOADS_CONTAINER, f"{task_id}/event-1.json")

    def written() -> bool:
        try:
            blob.get_blob_properties()
        except ResourceNotFoundError:
            return False
        return True

    wait_until(written, timeout=SLOW, interval=0.2, message=f"task {task_id}'s follow-up")


def results(api: Api, task_id: str) -> list[dict[str, Any]]:
    response = api.get(f"tasks/{task_id}/results")
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.text.splitlines()]


def test_a_chain_of_three_stages_over_1000_items_ends_with_exact_counts(api: Api) -> None:
    then = {"kind": "echo", "over": "each", "then": {"kind": "collect", "over": "all"}}
    first = api.submit("echo", list(range(1000)), then=then, metadata={"run": "chain"})

    second = next_of(api, first)
    third = next_of(api, second)
    ended = [finished(api, task_id) for task_id in (first, second, third)]

    assert [t["status"] for t in ended] == ["completed"] * 3
    assert [t["counts"]["completed"] for t in ended] == [1000, 1000, 1]
    assert [t["total"] for t in ended] == [1000, 1000, 1]
    assert [(t["previous"], t["next"]) for t in ended] == [
        (None, second), (first, third), (second, None),
    ]  # fmt: skip
    assert [t["then"] for t in ended] == [
        {"kind": "echo", "over": "each", "when": "completed",
         "then": {"kind": "collect", "over": "all", "when": "completed"}},
        {"kind": "collect", "over": "all", "when": "completed"},
        None,
    ]  # fmt: skip
    assert {json.dumps(t["metadata"]) for t in ended} == {'{"run": "chain"}'}
    assert {t["stage_error"] for t in ended} == {None}
    assert [line["result"] for line in results(api, second)] == list(range(1000))
    [last] = results(api, third)
    assert last["result"] == {"previous": second, "count": 1000, "sum": sum(range(1000))}

    with Client(api.host.api) as client:  # what `jobs status` prints of the middle stage
        summary = task_summary(client.get_task(second))
    assert f"previous  {first}" in summary
    assert f"next      {third}" in summary
    assert "then      collect over all" in summary


def test_when_completed_starts_nothing_after_a_failure_and_finished_does(api: Api) -> None:
    items = [{"permanent": True}, {"message": "x", "permanent": True}]
    strict = api.submit("fail", items, then={"kind": "echo", "over": "all"})
    lenient = api.submit("fail", items, then={"kind": "echo", "over": "all", "when": "finished"})

    fan_in = finished(api, next_of(api, lenient))
    followed_up(api, strict)

    status = api.status(strict)
    assert status["status"] == "completed_with_failures"
    assert (status["next"], status["stage_error"]) == (None, None)
    assert status["then"] == {"kind": "echo", "over": "all", "when": "completed"}
    [line] = results(api, fan_in["task_id"])
    assert line["result"] == {"previous": lenient, "status": "completed_with_failures",
                              "results": []}  # fmt: skip


def test_a_bad_stage_is_refused_naming_its_field_and_nothing_is_written(api: Api) -> None:
    cases = [
        ({"kind": "echo", "over": "each", "then": {"kind": "nope", "over": "all"}},
         "then.then.kind"),
        ({"kind": "echo", "over": "sideways"}, "then.over"),
        ({"kind": "echo", "over": "all", "when": "later"}, "then.when"),
        ({"kind": "echo"}, "then.over"),
        ({"kind": "echo", "over": "each", "queue": "nowhere"}, "then.queue"),
    ]  # fmt: skip
    for then, field in cases:
        response = api.post(
            "tasks", json={"kind": "echo", "items": [1], "then": then},
            headers={"Idempotency-Key": f"bad-stage-{field}"},
        )  # fmt: skip
        assert response.status_code == 422, response.text
        assert [d["field"] for d in response.json()["details"]] == [field]
        again = api.post(
            "tasks", json={"kind": "echo", "items": [1]},
            headers={"Idempotency-Key": f"bad-stage-{field}"},
        )  # fmt: skip
        assert again.status_code == 202  # the refused request claimed no key

    schedule: dict[str, Any] = {
        "cron": "0 0 * * * *",
        "kind": "echo",
        "items": [1],
        "then": {"kind": "echo", "over": "each", "then": {"kind": "nope", "over": "all"}},
    }
    response = requests.put(api.url("schedules/bad-stage"), json=schedule, timeout=30)
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["details"]] == ["then.then.kind"]
    assert api.get("schedules/bad-stage").status_code == 404


def test_a_stage_that_cannot_be_submitted_is_an_error_on_the_earlier_task(api: Api) -> None:
    first = api.submit("echo", ["a", "b"], then={"kind": "collect", "over": "all"})

    error = field_of(api, first, "stage_error")

    assert error.startswith("the next stage (collect, over all) was not submitted: ")
    assert "items are not valid for kind 'collect'" in error
    assert "item 0, results.0" in error
    status = api.status(first)
    assert (status["status"], status["next"]) == ("completed", None)
