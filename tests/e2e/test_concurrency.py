"""Cancellation, duplicated messages and concurrent workers leave exact counts."""

from __future__ import annotations

from collections import Counter

from azure.storage.queue import TextBase64EncodePolicy

from harness.polling import wait_until
from jobs.core.messages import RunMessage
from jobs.core.resources import JOBS_TABLE
from tests.e2e.conftest import Api


def test_cancel_stops_pending_jobs_and_lets_running_ones_finish(api: Api) -> None:
    task_id = api.submit("sleep", [{"seconds": 0.5}] * 300)
    wait_until(
        lambda: api.status(task_id)["counts"]["completed"] > 0, message="the first jobs to finish"
    )

    response = api.delete(f"tasks/{task_id}")
    assert response.status_code == 202
    assert api.delete(f"tasks/{task_id}").status_code == 202  # harmless twice

    status = api.wait_finished(task_id)
    counts = status["counts"]
    assert status["status"] == "cancelled"
    assert counts["cancelled"] > 0
    assert counts["completed"] + counts["cancelled"] == 300
    jobs = api.jobs(task_id)
    by_status = Counter(job["status"] for job in jobs)
    assert by_status == {"completed": counts["completed"], "cancelled": counts["cancelled"]}
    never_ran = [job for job in jobs if job["status"] == "cancelled" and job["attempts"] == 0]
    # Only jobs already started when the cancel landed may have run; the rest never did.
    assert len(never_ran) >= counts["cancelled"] - 64
    assert api.get(f"tasks/{task_id}/results").status_code == 200


def test_cancelling_an_unknown_task_is_404(api: Api) -> None:
    assert api.delete("tasks/00000000-0000-4000-8000-000000000000").status_code == 404


def test_counts_stay_exact_with_concurrent_workers_and_duplicated_messages(api: Api) -> None:
    total = 400
    task_id = api.submit("echo", list(range(total)))
    table = api.tables().get_table_client(JOBS_TABLE)
    wait_until(
        lambda: table.get_entity(task_id, "task")["State"] == "dispatched",
        message="the fan-out to finish",
    )
    # Every job's message sent twice more, as an at-least-once queue may.
    queue = api.queues().get_queue_client("jobs", message_encode_policy=TextBase64EncodePolicy())
    for _ in range(2):
        for index in range(total):
            queue.send_message(RunMessage(task_id, index).to_json())

    status = api.wait_finished(task_id)
    assert status["counts"] == {
        "pending": 0, "in_progress": 0, "completed": total, "failed": 0, "cancelled": 0,
    }  # fmt: skip
    rows = table.query_entities(
        "PartitionKey eq @pk and RowKey ge 'job-' and RowKey lt 'job.'", parameters={"pk": task_id}
    )
    assert Counter(row["Status"] for row in rows) == {"Completed": total}
    # The host ran many at once: the log shows overlapping invocations.
    assert _max_concurrency(api.host.logs()) >= 16


def _max_concurrency(log: str) -> int:
    running = peak = 0
    for line in log.splitlines():
        if "Executing 'Functions.run_jobs'" in line:
            running += 1
            peak = max(peak, running)
        elif "Executed 'Functions.run_jobs'" in line:
            running -= 1
    return peak
