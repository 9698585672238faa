"""A task that knows it has finished: one signed webhook per end, delivered through failures,
refused for addresses it must never call; progress that moves; the end's fields in status."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.polling import wait_until
from tests.e2e.conftest import SETTINGS, Api, own_api, quiet_snapshot


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    """A host and Azurite of this module's own: one test compares storage before and after a
    refused submit, which other suites' background work on the shared host would move."""
    with own_api() as running:
        yield running


SECRET = SETTINGS["JOBS_WEBHOOK_SECRET"]


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 answering each POST with the next of ``answers``."""

    url: str
    answers: list[int] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.posts]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def verified(headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does: recompute the signature over "<t>.<body>" and compare."""
    parts = dict(part.split("=", 1) for part in headers["x-jobs-signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])


def delivered(api: Api, task_id: str) -> dict[str, Any]:
    return wait_until(
        lambda: (
            (s := api.status(task_id))["notification"]
            and s["notification"]["state"] == "delivered"
            and s
        ),
        timeout=60,
        interval=0.2,
        message=f"task {task_id}'s webhook to be delivered",
    )


def test_a_finished_task_posts_one_signed_notification(api: Api, receiver: Receiver) -> None:
    task_id = api.submit("echo", [1, 2, 3], callback_url=receiver.url, metadata={"order": "A-7"})

    status = delivered(api, task_id)

    [(headers, body)] = receiver.posts
    assert verified(headers, body)
    event = json.loads(body)
    assert event["event"] == "task.finished"
    assert event["event_id"] == headers["x-jobs-event-id"]
    assert (event["task_id"], event["status"], event["metadata"]) == (
        task_id, "completed", {"order": "A-7"},
    )  # fmt: skip
    assert status["notification"] == {"state": "delivered", "attempts": 1, "last_error": None}
    assert status["metadata"] == {"order": "A-7"}
    assert status["progress"] == 1.0
    assert status["started_at"] <= status["finished_at"]
    tampered = body.replace(b"completed", b"cancelled")
    assert not verified(headers, tampered)


def test_a_receiver_failing_twice_gets_the_third_try(api: Api, receiver: Receiver) -> None:
    receiver.answers = [500, 500]
    task_id = api.submit("echo", [1], callback_url=receiver.url)

    status = delivered(api, task_id)

    assert status["notification"]["attempts"] == 3
    assert len(receiver.posts) == 3
    assert len({headers["x-jobs-event-id"] for headers, _ in receiver.posts}) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/hook",
        "https://localhost/hook",
        "http://example.com/hook",
        "ftp://example.com/hook",
    ],
)
def test_a_callback_it_must_never_call_is_refused_and_nothing_is_written(
    api: Api, url: str
) -> None:
    before = quiet_snapshot(api)  # earlier submits' hidden fan-out messages come and go
    answer = api.post("tasks", json={"kind": "echo", "items": [1], "callback_url": url})
    assert answer.status_code == 422
    assert answer.json()["details"][0]["field"] == "callback_url"
    assert api.storage_snapshot() == before


def test_metadata_over_4_kib_is_refused(api: Api) -> None:
    answer = api.post("tasks", json={"kind": "echo", "items": [1], "metadata": {"x": "y" * 5000}})
    assert answer.status_code == 422
    assert answer.json()["details"][0]["field"] == "metadata"


def test_a_retry_reopens_the_task_and_its_next_end_is_a_new_event(
    api: Api, receiver: Receiver
) -> None:
    task_id = api.submit("fail", [{"permanent": True}], callback_url=receiver.url)
    delivered(api, task_id)
    assert api.post(f"tasks/{task_id}/retry").status_code == 202

    wait_until(lambda: len(receiver.posts) == 2, timeout=60, message="a second notification")
    first, second = receiver.bodies()
    assert first["event_id"] != second["event_id"]
    assert (first["completion"], second["completion"]) == (1, 2)
    assert all(verified(headers, body) for headers, body in receiver.posts)


def test_progress_moves_between_polls_of_a_steps_job(api: Api) -> None:
    task_id = api.submit("steps", [{"steps": 10, "seconds": 0.3}])

    first = wait_until(
        lambda: 0 < (p := api.status(task_id)["progress"]) < 0.7 and p,
        timeout=30,
        interval=0.1,
        message="the job to report some progress",
    )
    later = wait_until(
        lambda: (p := api.status(task_id)["progress"]) > first and p,
        timeout=30,
        interval=0.1,
        message="the progress to move",
    )
    assert later > first
    [job] = api.jobs(task_id)
    report = job["progress"] or {}
    assert report.get("message", "").startswith("step ") or job["status"] == "completed"
    assert api.wait_finished(task_id)["progress"] == 1.0


def test_results_are_served_from_the_file_written_when_the_task_ended(api: Api) -> None:
    task_id = api.submit("echo", [{"n": n} for n in range(20)])
    api.wait_finished(task_id)
    path = f"{task_id}/results-1.ndjson"
    container = api.blobs().get_container_client("job-payloads")
    wait_until(lambda: container.get_blob_client(path).exists(), message="the results file")

    answer = api.get(f"tasks/{task_id}/results")
    assert answer.status_code == 200
    assert answer.content == container.get_blob_client(path).download_blob().readall()
    assert [json.loads(line)["result"] for line in answer.text.splitlines()] == [
        {"n": n} for n in range(20)
    ]
