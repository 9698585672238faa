"""Jobs run with the host's retries: success, transient failures, poison, retry."""

from __future__ import annotations

import json

import requests

from harness.polling import wait_until
from jobs.core.resources import INPUTS_CONTAINER, LISTENED_QUEUES
from tests.e2e.conftest import Api


def test_a_batch_of_echo_items_completes_with_exact_counts_and_ordered_results(api: Api) -> None:
    items = [{"n": n, "text": f"item {n}"} for n in range(100)]
    response = api.post("tasks", json={"kind": "echo", "items": items})

    assert response.status_code == 202
    body = response.json()
    task_id = body["task_id"]
    assert body["total"] == 100
    assert response.headers["Location"] == f"/api/tasks/{task_id}" == body["status_url"]
    assert int(response.headers["Retry-After"]) > 0

    status = api.wait_finished(task_id)
    assert status["status"] == "completed"
    assert status["counts"] == {
        "pending": 0, "in_progress": 0, "completed": 100, "failed": 0, "cancelled": 0,
    }  # fmt: skip

    results = api.get(f"tasks/{task_id}/results")
    assert results.status_code == 200
    assert results.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in results.text.splitlines()]
    assert [line["index"] for line in lines] == list(range(100))
    assert [line["result"] for line in lines] == items
    assert {line["status"] for line in lines} == {"completed"}


def test_a_job_failing_twice_completes_on_its_third_attempt(api: Api) -> None:
    task_id = api.submit("flaky", [{"fail_times": 2}])

    assert api.wait_finished(task_id)["status"] == "completed"
    [job] = api.jobs(task_id)
    assert job["status"] == "completed"
    assert job["attempts"] == 3
    assert job["error"] is None
    detail = api.get(f"tasks/{task_id}/jobs/{job['job_id']}").json()
    assert detail["item"] == {"fail_times": 2}
    assert detail["result"] == {"fail_times": 2}


def test_an_always_failing_job_fails_after_five_attempts_through_poison_and_sweep(api: Api) -> None:
    task_id = api.submit("fail", [{"message": "boom"}])

    status = api.wait_finished(task_id)
    assert status["status"] == "completed_with_failures"
    assert status["counts"]["failed"] == 1
    [job] = api.jobs(task_id, status="failed")
    assert job["attempts"] == 5
    assert job["error"] == "AlwaysFails: boom (attempt 5)"
    lines = [json.loads(line) for line in api.get(f"tasks/{task_id}/results").text.splitlines()]
    assert lines == [
        {"index": 0, "job_id": job["job_id"], "status": "failed", "error": job["error"]}
    ]
    # The sweep deleted the poison message once the job was stored as Failed.
    queues = api.queues()
    wait_until(
        lambda: all(
            queues.get_queue_client(f"{q}-poison").get_queue_properties().approximate_message_count
            == 0
            for q in LISTENED_QUEUES
        ),
        message="poison queues to be empty",
    )


def test_a_permanent_error_fails_the_job_at_once(api: Api) -> None:
    task_id = api.submit("fail", [{"message": "cannot ever work", "permanent": True}])

    api.wait_finished(task_id)
    [job] = api.jobs(task_id)
    assert (job["status"], job["attempts"], job["error"]) == ("failed", 1, "cannot ever work")


def test_retry_reruns_failed_jobs_on_their_queue_with_attempts_starting_over(api: Api) -> None:
    container = api.blobs().get_container_client(INPUTS_CONTAINER)  # provisioned, allowed
    items = [
        {"container": INPUTS_CONTAINER, "blob": "present.txt", "operation": "upper"},
        {"container": INPUTS_CONTAINER, "blob": "later.txt", "operation": "upper"},
    ]
    container.upload_blob("present.txt", b"hello\nworld\n", overwrite=True)
    task_id = api.submit("transform", items)

    first = api.wait_finished(task_id)
    assert first["queue"] == "jobs-long"
    assert first["counts"]["completed"] == 1
    assert first["counts"]["failed"] == 1
    [failed] = api.jobs(task_id, status="failed")
    assert "later.txt does not exist" in failed["error"]

    container.upload_blob("later.txt", b"second\n", overwrite=True)
    response = api.post(f"tasks/{task_id}/retry")
    assert response.status_code == 202
    assert response.json() == {"requeued": 1}

    second = api.wait_finished(task_id)
    assert second["status"] == "completed"
    assert second["counts"]["completed"] == 2
    jobs = api.jobs(task_id)
    assert [(j["status"], j["attempts"], j["error"]) for j in jobs] == [
        ("completed", 1, None),
        ("completed", 1, None),
    ]
    results = [json.loads(line) for line in api.get(f"tasks/{task_id}/results").text.splitlines()]
    output = api.blobs().get_blob_client("job-outputs", results[1]["result"]["output"]["blob"])
    assert output.download_blob().readall() == b"SECOND\n"
    link = requests.get(results[1]["result"]["download_url"], timeout=30)  # a SAS: no key needed
    assert link.status_code == 200
    assert link.content == b"SECOND\n"
    assert requests.get(output.url, timeout=30).status_code in (401, 403, 404)  # not without it
    # Nothing is left to retry.
    assert api.post(f"tasks/{task_id}/retry").json() == {"requeued": 0}


def test_status_and_results_of_unknown_tasks_are_404(api: Api) -> None:
    for path in (
        "tasks/5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c",
        "tasks/not-a-task-id",
        "tasks/5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c/jobs",
        "tasks/5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c/results",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]


def test_results_are_409_while_the_task_runs(api: Api) -> None:
    task_id = api.submit("sleep", [{"seconds": 3}])

    response = api.get(f"tasks/{task_id}/results")
    assert response.status_code == 409
    assert "running" in response.json()["error"]
    assert api.wait_finished(task_id)["status"] == "completed"


def test_job_listing_pages_and_filters(api: Api) -> None:
    task_id = api.submit("echo", list(range(25)))
    api.wait_finished(task_id)

    first = api.get(f"tasks/{task_id}/jobs", params={"limit": "10"}).json()
    assert [j["index"] for j in first["jobs"]] == list(range(10))
    assert first["continuation"]
    everything = api.jobs(task_id, limit="10")
    assert [j["index"] for j in everything] == list(range(25))
    assert api.jobs(task_id, status="failed") == []
    bad = api.get(f"tasks/{task_id}/jobs", params={"status": "sideways"})
    assert bad.status_code == 400
    assert bad.json()["details"][0]["field"] == "status"


def test_health_answers_when_storage_does(api: Api) -> None:
    response = api.get("health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
