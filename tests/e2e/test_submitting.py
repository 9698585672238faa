"""Bad input gets a clear error and leaves storage untouched; idempotent submits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harness.polling import wait_until
from jobs.core.resources import JOBS_TABLE
from tests.e2e.conftest import Api, own_api, quiet_snapshot


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A host and Azurite of this module's own: its checks that a rejected submit writes
    nothing compare storage before and after, which other suites' background work (schedules
    firing, webhook retries) would move on the shared host."""
    with own_api() as running:
        yield running


def _bad(api: Api, body: Any, raw: bytes | None = None) -> tuple[int, dict[str, Any]]:
    before = quiet_snapshot(api)
    if raw is not None:
        response = api.post("tasks", data=raw, headers={"Content-Type": "application/json"})
    else:
        response = api.post("tasks", json=body)
    assert api.storage_snapshot() == before, "a rejected submit wrote something"
    return response.status_code, response.json()


def test_malformed_json_is_400(api: Api) -> None:
    status, body = _bad(api, None, raw=b'{"kind": "echo", "items": [1,')
    assert status == 400
    assert "not valid JSON" in body["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "nope", "items": [1]}, "kind"),
        ({"kind": "echo", "items": [1], "queue": "elsewhere"}, "queue"),
        ({"kind": "echo", "items": []}, "items"),
        ({"kind": "echo", "items": list(range(1001))}, "items"),
        ({"kind": "echo"}, "items"),
        ({"kind": "echo", "items": "not a list"}, "items"),
        ({"kind": "echo", "items": [1], "colour": "red"}, "colour"),
    ],
)
def test_requests_that_cannot_be_run_are_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    status, answer = _bad(api, body)
    assert status == 422
    assert answer["error"]
    assert [detail["field"] for detail in answer["details"]] == [field]


def test_invalid_items_are_422_with_each_bad_items_index_and_field(api: Api) -> None:
    items = [{"fail_times": 1}, {"fail_times": "many"}, {}, {"fail_times": 2, "extra": True}]
    status, answer = _bad(api, {"kind": "flaky", "items": items})

    assert status == 422
    assert "flaky" in answer["error"]
    found = {(d["index"], d["field"]) for d in answer["details"]}
    assert found == {(1, "fail_times"), (2, "fail_times"), (3, "extra")}
    assert all(d["message"] for d in answer["details"])


def test_a_body_over_the_size_limit_is_413(api: Api) -> None:
    items = ["x" * 1000] * 250  # about 250 kB against a 200 kB limit
    status, answer = _bad(api, {"kind": "echo", "items": items})
    assert status == 413
    assert "limit" in answer["error"]


def test_an_item_over_the_size_limit_is_413_naming_it(api: Api) -> None:
    items = ["small", "y" * 30_000, "small"]
    status, answer = _bad(api, {"kind": "echo", "items": items})
    assert status == 413
    assert [d["index"] for d in answer["details"]] == [1]


def test_the_same_idempotency_key_and_body_return_the_same_task_and_create_nothing(
    api: Api,
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"kind": "echo", "items": [1, 2, 3]}
    first = api.post("tasks", json=body, headers=key)
    assert first.status_code == 202
    task_id = first.json()["task_id"]
    api.wait_finished(task_id)
    # Its end's follow-up (results file, event, retention index row, written last) is done.
    table = api.tables().get_table_client(JOBS_TABLE)
    indexed = (
        f"PartitionKey ge 'retention-' and PartitionKey lt 'retention.' and RowKey eq '{task_id}'"
    )
    wait_until(lambda: any(table.query_entities(indexed)), message="the end's follow-up")

    before = quiet_snapshot(api)  # the submit's hidden fan-out message has come and gone
    again = api.post("tasks", json=body, headers=key)
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert api.storage_snapshot() == before

    other = api.post("tasks", json={"kind": "echo", "items": [4]}, headers=key)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["error"]
    assert api.storage_snapshot() == before
