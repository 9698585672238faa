"""A task's end, on the in-memory twin: recorded once by the move that ends its last open job,
whatever races or crashes; followed up once (results file, event, webhook); reopened by a
retry, whose end is a new one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from composition import Service
from jobs.control.cancel import request_cancel
from jobs.control.handlers import fail_setup
from jobs.control.retry import request_retry
from jobs.core.messages import DeliverMessage, FinishedMessage, Message, RunMessage, parse_message
from jobs.core.models import JobStatus
from jobs.core.resources import CONTROL_QUEUE, EVENTS_QUEUE, PAYLOADS_CONTAINER, all_queues
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.reads.tasks import results, status
from jobs.storage.memory import MemoryBlobStore, MemoryQueueStore, MemoryTableStore
from jobs.storage.payloads import results_path
from jobs.task_end import completion, webhooks
from tests.jobs.conftest import HOOK, PERMANENT, crash, writes_task
from tests.jobs.lifecycle.test_writer import QUEUE, Crash, Interfering, moving, run_queue

SECRET = "test-secret"


@pytest.fixture
def table() -> Interfering:
    return Interfering(MemoryTableStore())


@pytest.fixture(params=["writers", "shards"])
def service(table: Interfering, request: pytest.FixtureRequest) -> Service:
    """Both counter layouts: a task counted by writers records its end just after its last
    move, one counted by shards with it (jobs.lifecycle.counters)."""
    settings = Settings(
        test_kinds=True,
        dispatch_window=32,
        webhook_secret=SECRET,
        callback_allowed_hosts=frozenset({"receiver.test"}),
        counter_layout=request.param,
    )
    return Service.over(settings, table, MemoryQueueStore(all_queues()), MemoryBlobStore())


def new_task(service: Service, kind: str, items: list[Any], **extra: Any) -> str:
    body = json.dumps({"kind": kind, "items": items, **extra}).encode()
    task_id = submit(service, body).task.task_id
    fan_out(service, task_id)
    return task_id


def control(service: Service) -> list[object]:
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    return [parse_message(base64.b64decode(t).decode()) for t in store.texts(CONTROL_QUEUE)]


def finished(service: Service) -> list[FinishedMessage]:
    return [m for m in control(service) if isinstance(m, FinishedMessage)]


def deliveries(service: Service) -> list[DeliverMessage]:
    return [m for m in control(service) if isinstance(m, DeliverMessage)]


def events(service: Service) -> list[dict[str, Any]]:
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    return [json.loads(base64.b64decode(t)) for t in store.texts(EVENTS_QUEUE)]


def test_the_move_that_ends_the_last_job_records_the_end_once(service: Service) -> None:
    task_id = new_task(service, "echo", list(range(70)))
    assert service.table.get_task(task_id).completion.number == 0  # type: ignore[union-attr]

    run_queue(service)

    task = service.table.get_task(task_id)
    assert task is not None
    assert task.completion.number == 1
    assert task.completion.finished_at is not None
    assert task.completion.status == "completed"
    assert finished(service) == [FinishedMessage(task_id, 1)]
    assert status(service, task_id).status.finished


def test_two_last_jobs_in_different_shards_ending_at_once_record_one_end(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", ["a", "b"])  # jobs 0 and 1: shards 0 and 1
    lifecycle = service.lifecycle
    first = lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    second = lifecycle.start(RunMessage(task_id, 1), QUEUE, 1)
    assert first is not None
    assert second is not None
    # Job 1 ends between job 0's read of the shards and job 0's write.
    table.before(moving(JobStatus.COMPLETED, 0), lambda: lifecycle.complete(second, "b"))

    assert lifecycle.complete(first, "a") is True

    task = service.table.get_task(task_id)
    assert task is not None
    assert task.completion.number == 1
    assert finished(service) == [FinishedMessage(task_id, 1)]


def test_a_crash_right_after_the_last_move_leaves_the_end_recorded_and_announced(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", ["only"])
    claim = service.lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    assert claim is not None

    assert service.lifecycle.complete(claim, "done") is True
    # Whatever dies now (before the host deletes the job's message), the end is written with
    # the last move and its follow-up message went out before it.
    assert service.table.get_task(task_id).completion.number == 1  # type: ignore[union-attr]
    assert finished(service) == [FinishedMessage(task_id, 1)]
    handled = service.lifecycle.start(RunMessage(task_id, 0), QUEUE, 2)  # the redelivery
    assert handled is None
    assert finished(service) == [FinishedMessage(task_id, 1)]  # nothing more to announce


def test_a_crash_before_the_last_move_lands_announces_nothing_that_did_not_happen(
    service: Service, table: Interfering
) -> None:
    task_id = new_task(service, "echo", ["only"])
    claim = service.lifecycle.start(RunMessage(task_id, 0), QUEUE, 1)
    assert claim is not None

    def crash() -> None:
        raise Crash

    table.before(moving(JobStatus.COMPLETED, 0), crash)
    with pytest.raises(Crash):
        service.lifecycle.complete(claim, "done")

    if service.settings.counter_layout == "shards":
        [message] = finished(service)  # sent before the write that never landed
        with pytest.raises(completion.NotYet):
            completion.follow_up(service, message)  # the host retries it...
        completion.follow_up(service, message, last_try=True)  # ...and the sweep drops it
    else:
        assert finished(service) == []  # a writer's end follows its last move: none landed
    assert events(service) == []
    # The job's message comes back, it runs again, and this time the end lands.
    again = service.lifecycle.start(RunMessage(task_id, 0), QUEUE, 2)
    assert again is not None
    assert service.lifecycle.complete(again, "done") is True
    assert service.table.get_task(task_id).completion.number == 1  # type: ignore[union-attr]


def test_a_follow_up_writes_the_results_file_and_one_event_and_queues_one_delivery(
    service: Service,
) -> None:
    task_id = new_task(
        service, "echo", [1, 2, 3],
        callback_url="https://receiver.test/hook", metadata={"order": 7},
    )  # fmt: skip
    run_queue(service)
    [message] = finished(service)

    completion.follow_up(service, message)
    completion.follow_up(service, message)  # a duplicate of the message

    blob = service.payloads.store.get(PAYLOADS_CONTAINER, results_path(task_id, 1))
    assert blob is not None
    assert [json.loads(line)["result"] for line in blob.splitlines()] == [1, 2, 3]
    found = results(service, task_id)
    assert found.lines is not None
    assert b"".join(found.lines) == blob
    [event, repeat] = events(service)
    assert event["event"] == "task.finished"
    assert event["event_id"] == repeat["event_id"] == completion.event_id(task_id, 1)
    assert event["metadata"] == {"order": 7}
    assert event["counts"]["completed"] == 3
    deliveries = [m for m in control(service) if isinstance(m, DeliverMessage)]
    assert set(deliveries) == {DeliverMessage(task_id, 1, 1)}  # repeats are dropped by deliver
    note = status(service, task_id).task.notification
    assert (note.state, note.attempts) == ("pending", 0)


def test_a_failing_receiver_is_tried_again_later_until_it_answers(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = new_task(service, "echo", [1], callback_url="https://receiver.test/hook")
    run_queue(service)
    completion.follow_up(service, finished(service)[0])
    answers = ["the receiver answered 500", "the receiver answered 500", None]
    posted: list[tuple[bytes, str]] = []

    def post(url: str, body: bytes, secret: str, event_id: str) -> str | None:
        posted.append((body, event_id))
        return answers[len(posted) - 1]

    monkeypatch.setattr(webhooks, "post", post)
    for attempt in (1, 2, 3):
        completion.deliver(service, DeliverMessage(task_id, 1, attempt))
        completion.deliver(service, DeliverMessage(task_id, 1, attempt))  # a duplicate

    assert len(posted) == 3
    assert {event_id for _, event_id in posted} == {completion.event_id(task_id, 1)}
    note = status(service, task_id).task.notification
    assert (note.state, note.attempts, note.last_error) == ("delivered", 3, None)
    retries = [m for m in control(service) if isinstance(m, DeliverMessage)]
    assert {m.attempt for m in retries} == {1, 2, 3}  # each failure queued the next, delayed


def test_a_retry_reopens_the_task_and_its_next_end_is_a_new_one(service: Service) -> None:
    task_id = new_task(service, "fail", [{"permanent": True}, {"permanent": True}])
    run_queue(service)
    assert finished(service) == [FinishedMessage(task_id, 1)]

    assert request_retry(service, task_id) == 2
    reopened = service.table.get_task(task_id)
    assert reopened is not None
    assert (reopened.completion.number, reopened.completion.finished_at) == (1, None)
    run_queue(service, CONTROL_QUEUE)  # the retry pass (and the first end's follow-up)
    run_queue(service)

    task = service.table.get_task(task_id)
    assert task is not None
    assert task.completion.number == 2
    assert FinishedMessage(task_id, 2) in finished(service)
    assert completion.event_id(task_id, 2) != completion.event_id(task_id, 1)


@pytest.mark.usefixtures("fan_out_path")
def test_a_task_whose_setup_failed_ends_too(service: Service) -> None:
    body = json.dumps({"kind": "echo", "items": [1, 2]}).encode()
    task_id = submit(service, body).task.task_id  # never fanned out
    fail_setup(service, task_id)
    fail_setup(service, task_id)  # again, after a crash: one end

    task = service.table.get_task(task_id)
    assert task is not None
    assert (task.completion.number, task.completion.status) == (1, "completed_with_failures")
    assert finished(service) == [FinishedMessage(task_id, 1)]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://receiver.test/hook", {"receiver.test"}),  # listed: http allowed
        ("https://example.com/hook", set()),
    ],
)
def test_callback_urls_that_may_be_called(url: str, allowed: set[str]) -> None:
    def public(host: str) -> list[str]:
        return ["93.184.215.14"]

    assert webhooks.url_problem(url, frozenset(allowed), public) is None


@pytest.mark.parametrize(
    ("url", "addresses"),
    [
        ("http://example.com/hook", ["93.184.215.14"]),  # not https
        ("https://metadata.test/", ["169.254.169.254"]),
        ("https://intranet.test/", ["10.1.2.3"]),
        ("https://loop.test/", ["127.0.0.1"]),
        ("https://six.test/", ["::1"]),
        ("https://mixed.test/", ["93.184.215.14", "192.168.0.9"]),
        ("https://user:pw@example.com/", ["93.184.215.14"]),
        ("not a url", []),
    ],
)
def test_callback_urls_that_may_not(url: str, addresses: list[str]) -> None:
    assert webhooks.url_problem(url, frozenset(), lambda host: addresses) is not None


def test_a_signature_is_the_hmac_of_the_timestamp_and_the_body() -> None:
    header = webhooks.signature("s3cret", 1700000000, b'{"a":1}')
    expected = hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_a_webhook_marked_pending_before_a_crash_is_still_sent(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """follow_up writes ``NotifyState=pending`` and then sends the first DeliverMessage. Dying
    in between, the redelivered finished message, finding the webhook pending and never
    tried, sends the first DeliverMessage again, so the webhook is tried."""
    task_id = new_task(service, "echo", [1], callback_url=HOOK)
    run_queue(service)
    [message] = finished(service)
    real_send = service.queues.send

    def send(queue: str, sent: Message) -> None:
        if isinstance(sent, DeliverMessage):
            raise Crash
        real_send(queue, sent)

    monkeypatch.setattr(service.queues, "send", send)
    with pytest.raises(Crash):
        completion.follow_up(service, message)
    monkeypatch.undo()
    completion.follow_up(service, message)  # the host delivers it again

    assert deliveries(service) == [DeliverMessage(task_id, 1, 1)]


def test_a_crash_after_a_failed_attempt_still_queues_the_next_try(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deliver writes attempt N's state and then queues attempt N + 1. Dying in between, the
    redelivered attempt N finds its state recorded and queues attempt N + 1, so the
    notification does not stay pending for ever."""
    task_id = new_task(service, "echo", [1], callback_url=HOOK)
    run_queue(service)
    completion.follow_up(service, finished(service)[0])
    monkeypatch.setattr(webhooks, "post", lambda *args: "the receiver answered 503")
    store = service.queues.store
    assert isinstance(store, MemoryQueueStore)
    monkeypatch.setattr(store, "send", lambda *args, **kwargs: crash())

    with pytest.raises(Crash):
        completion.deliver(service, DeliverMessage(task_id, 1, 1))
    monkeypatch.undo()
    monkeypatch.setattr(webhooks, "post", lambda *args: "the receiver answered 503")
    completion.deliver(service, DeliverMessage(task_id, 1, 1))  # the host delivers it again

    assert DeliverMessage(task_id, 1, 2) in deliveries(service)


def test_an_unrelated_write_to_the_task_row_does_not_drop_the_webhook(
    service: Service, table: Interfering
) -> None:
    """follow_up guards the ``pending`` write with an ETag. Another write to the task row in
    between (here a cancel of the just-finished task) is not "a twin of this message got
    there first": follow_up reads the row again and still sends the DeliverMessage, so the
    webhook is not lost when the finished message is deleted."""
    task_id = new_task(service, "echo", [1], callback_url=HOOK)
    run_queue(service)
    [message] = finished(service)

    table.before(writes_task("NotifyState"), lambda: request_cancel(service, task_id))
    completion.follow_up(service, message)

    assert deliveries(service) == [DeliverMessage(task_id, 1, 1)]


def test_a_webhook_sent_after_a_retry_reopened_the_task_describes_its_own_end(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook posts the event stored when its end was recorded, not the task as it is now:
    when a retry reopens a failed task before the pending webhook of end 1 is sent, that
    webhook posts end 1's ``task.finished`` event (its status, its ``finished_at``) or, as
    superseded, nothing; never a ``running`` status with a null ``finished_at``."""
    task_id = new_task(service, "fail", [PERMANENT], callback_url=HOOK)
    run_queue(service)
    completion.follow_up(service, finished(service)[0])
    assert request_retry(service, task_id) == 1  # the caller retries before the webhook lands
    posted: list[dict[str, Any]] = []

    def post(url: str, body: bytes, secret: str, event_id: str) -> None:
        posted.append(json.loads(body))

    monkeypatch.setattr(webhooks, "post", post)
    completion.deliver(service, DeliverMessage(task_id, 1, 1))

    assert [(body["status"], body["completion"]) for body in posted] in (
        [],  # dropped as superseded, or
        [("completed_with_failures", 1)],  # the end it announces
    )
    assert all(body["finished_at"] is not None for body in posted)
