"""What a request names, read through the host as a caller sends it: a parameter sent empty is
a bad one (the host drops it before the app sees it), ids take ASCII digits only, any character
of an id reaches the app, and a purged task leaves the listing at once."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.e2e.conftest import Api


@pytest.mark.parametrize("query", ["state=", "limit=", "kind=", "continuation=", "state=&limit=5"])
def test_a_listing_parameter_sent_empty_is_refused(api: Api, query: str) -> None:
    response = api.get(f"tasks?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == query.split("=")[0]


def test_a_delete_with_purge_sent_empty_is_refused_and_cancels_nothing(api: Api) -> None:
    task_id = api.submit("sleep", [{"seconds": 0.2}])
    response = api.delete(f"tasks/{task_id}?purge=")
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == "purge"
    assert api.wait_finished(task_id)["status"] == "completed"


def test_job_ids_and_continuations_are_ascii_digits(api: Api) -> None:
    task_id = api.submit("echo", [1, 2])
    arabic = "\u0660" * 7 + "\u0661"  # 00000001 in Arabic-Indic digits
    assert api.get(f"tasks/{task_id}/jobs/00000001").status_code == 200
    assert api.get(f"tasks/{task_id}/jobs/{quote(arabic)}").status_code == 404
    response = api.get(f"tasks/{task_id}/jobs", params={"continuation": arabic})
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("task_id", ["%0A", "a%0Ab", "%0D%0A"])
def test_an_id_with_a_line_break_is_the_service_s_404(api: Api, task_id: str) -> None:
    response = api.get(f"tasks/{task_id}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]


def test_a_purged_task_leaves_the_listing_at_once(api: Api) -> None:
    task_id = api.submit("echo", [1], metadata={"purged": "listing"})
    api.wait_finished(task_id)
    assert api.delete(f"tasks/{task_id}?purge=true").status_code == 202
    assert api.get(f"tasks/{task_id}").status_code == 404
    listed = api.get("tasks", params={"limit": "100"}).json()["tasks"]
    assert task_id not in [task["task_id"] for task in listed]
