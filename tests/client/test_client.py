"""The Python client: every route against the service on the local host, and its retries.

What the service cannot be made to answer on cue (a 503 with Retry-After, a lost answer) comes
from a scripted HTTP server on the loopback: real HTTP and real sockets, answers chosen by the
test."""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.azurite import free_port
from jobs_client import ApiError, Client, Unreachable
from tests.e2e.conftest import Api


@pytest.fixture
def client(api: Api) -> Iterator[Client]:
    with Client(api.host.api, retries=2) as found:
        yield found


def test_every_route_through_the_client(client: Client, api: Api) -> None:
    key = str(uuid.uuid4())
    accepted = client.submit("flaky", [{"fail_times": 0}, {"fail_times": 9}], key=key)
    assert client.submit("flaky", [{"fail_times": 0}, {"fail_times": 9}], key=key) == accepted
    assert accepted.total == 2
    assert accepted.status_url == f"/api/tasks/{accepted.task_id}"

    seen: list[str] = []
    task = client.wait(accepted.task_id, interval=0.2, on_update=lambda t: seen.append(t.status))
    assert task.status == "completed_with_failures"
    assert seen[-1] == task.status
    assert task.counts.completed == task.counts.failed == 1
    assert client.get_task(accepted.task_id.upper()) == task

    page = client.list_jobs(accepted.task_id, limit=1)
    assert [job.index for job in page.jobs] == [0]
    assert page.continuation == "00000000"
    failed = list(client.iter_jobs(accepted.task_id, status="failed", page=1))
    assert [(job.index, job.attempts) for job in failed] == [(1, 5)]
    detail = client.get_job(accepted.task_id, 0)
    assert (detail.item, detail.result) == ({"fail_times": 0}, {"fail_times": 0})

    lines = list(client.results(accepted.task_id))
    assert [(line.index, line.status) for line in lines] == [(0, "completed"), (1, "failed")]
    assert lines[1].error is not None
    out = io.BytesIO()
    assert client.download_results(accepted.task_id, out) == 2
    assert [json.loads(line)["index"] for line in out.getvalue().splitlines()] == [0, 1]

    assert client.retry(accepted.task_id).requeued == 1
    assert client.cancel(accepted.task_id).task_id == accepted.task_id
    assert client.health().status == "ok"
    assert client.openapi()["openapi"].startswith("3.1")
    kinds = {kind.name: kind for kind in client.kinds().kinds}
    assert (kinds["gated"].concurrency, kinds["paced"].rate) == (8, 20)
    high = client.submit("echo", [1], priority="high")
    assert client.get_task(high.task_id).priority == "high"
    assert task.priority == "normal"


def test_errors_carry_the_services_details(client: Client) -> None:
    with pytest.raises(ApiError) as raised:
        client.submit("flaky", [{"fail_times": 1}, {"fail_times": -1}])
    assert raised.value.status == 422
    assert [(d.index, d.field) for d in raised.value.details] == [(1, "fail_times")]

    with pytest.raises(ApiError) as missing:
        client.get_task(str(uuid.uuid4()))
    assert missing.value.status == 404
    assert not missing.value.bare


def test_the_function_key_goes_in_its_header_from_the_argument_or_jobs_key(
    stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.answers = [(200, {}, b'{"status": "ok"}')] * 2
    Client(stub.url, key="from-argument").health()
    monkeypatch.setenv("JOBS_KEY", "from-environment")
    Client(stub.url).health()
    assert [r.headers.get("x-functions-key") for r in stub.requests] == [
        "from-argument",
        "from-environment",
    ]


# -- retries, against a scripted server ------------------------------------------------------

UNAVAILABLE = (503, {"Retry-After": "0"}, b'{"error": "storage is unavailable", "details": []}')
TASK_ID = "5b0c7a7e-3f0e-4d6b-9a55-3a8f0a1f2b3c"
TASK = {
    "task_id": TASK_ID,
    "kind": "echo",
    "queue": "jobs",
    "status": "running",
    "total": 1,
    "counts": {"pending": 1, "in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0},
    "created_at": "2026-01-01T00:00:00.000Z",
    "updated_at": "2026-01-01T00:00:00.000Z",
    "error": None,
    "results_url": f"/api/tasks/{TASK_ID}/results",
}
ACCEPTED = {"task_id": TASK_ID, "status_url": f"/api/tasks/{TASK_ID}", "total": 1}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class Stub:
    url: str
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    delay: float = 0.0


@pytest.fixture
def stub() -> Iterator[Stub]:
    port = free_port()
    found = Stub(f"http://127.0.0.1:{port}/api")

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            found.requests.append(Seen(self.command, self.path, headers, body))
            time.sleep(found.delay)
            status, extra, answer = found.answers.pop(0) if found.answers else (500, {}, b"")
            try:
                self.send_response(status)
                for name, value in {"content-length": str(len(answer)), **extra}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer)
            except ConnectionError:
                pass  # the client gave up waiting: what the test is about

        do_GET = do_POST = do_DELETE = answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()
    thread.join()


def _json(status: int, document: object) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, json.dumps(document).encode()


def test_reads_are_repeated_after_a_503_with_retry_after(stub: Stub) -> None:
    stub.answers = [UNAVAILABLE, UNAVAILABLE, _json(200, TASK)]
    task = Client(stub.url, retries=2).get_task(TASK_ID)
    assert task.status == "running"
    assert [r.method for r in stub.requests] == ["GET"] * 3


def test_retries_stop_at_the_limit_and_the_503_is_raised(stub: Stub) -> None:
    stub.answers = [UNAVAILABLE] * 3
    with pytest.raises(ApiError) as raised:
        Client(stub.url, retries=1).cancel("x")
    assert raised.value.status == 503
    assert len(stub.requests) == 2


def test_a_503_without_retry_after_is_not_repeated(stub: Stub) -> None:
    stub.answers = [(503, {}, b"")]
    with pytest.raises(ApiError):
        Client(stub.url, retries=3).get_task("x")
    assert len(stub.requests) == 1


def test_a_submit_with_an_idempotency_key_is_repeated_with_the_same_key_and_body(
    stub: Stub,
) -> None:
    stub.answers = [UNAVAILABLE, _json(202, ACCEPTED)]
    accepted = Client(stub.url, retries=2).submit("echo", [1, 2], key="k-1")
    assert accepted.task_id == TASK_ID
    body = b'{"kind":"echo","items":[1,2]}'
    assert [(r.method, r.headers.get("idempotency-key"), r.body) for r in stub.requests] == [
        ("POST", "k-1", body),
        ("POST", "k-1", body),
    ]


def test_a_submit_without_a_key_and_a_retry_request_are_sent_once(stub: Stub) -> None:
    stub.answers = [UNAVAILABLE, UNAVAILABLE]
    client = Client(stub.url, retries=3)
    with pytest.raises(ApiError):
        client.submit("echo", [1])
    with pytest.raises(ApiError):
        client.retry("x")
    assert [r.method for r in stub.requests] == ["POST", "POST"]


def test_a_lost_answer_repeats_a_read_but_not_a_retry_request(stub: Stub) -> None:
    stub.delay = 1.0  # longer than the client waits: the request went, its answer never came
    client = Client(stub.url, retries=1, timeout=0.3, backoff=0.01)
    with pytest.raises(Unreachable):
        client.get_task("x")
    assert len(stub.requests) == 2
    with pytest.raises(Unreachable):
        client.retry("x")
    assert len(stub.requests) == 3


def test_a_refused_connection_is_unreachable_after_the_retries() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}/api", retries=2, backoff=0.01)
    with pytest.raises(Unreachable, match="ConnectError"):
        client.retry("x")  # nothing was sent, so even this is tried again
