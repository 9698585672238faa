"""A kind's limits on the in-memory twin, each race forced: two workers taking the last slot, a
lapsed lease taken over, a slot given back when the job raises, a second's starts counted
exactly; and a held-back job: Pending, no attempt spent, its message back on its queue carrying
the attempts it had spent, which the runner counts against the host's limit itself."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from composition import Service
from jobs.core.messages import RunMessage, parse_message
from jobs.core.models import JobStatus
from jobs.core.settings import Settings
from jobs.dispatch.fanout import fan_out
from jobs.dispatch.submit import submit
from jobs.kinds import Kinds
from jobs.kinds.base import HOST_MAX_ATTEMPTS, JobContext, Kind
from jobs.lifecycle import admission as admission_module
from jobs.lifecycle.admission import MAX_PRIORITY_HOLDS, Admission, Hold, Ticket
from jobs.lifecycle.limits import LEASE, RATE_SHARDS, Limits
from jobs.lifecycle.running import run_job
from jobs.storage import Write
from jobs.storage.keys import limit_partition, rate_key, slot_key
from jobs.storage.memory import MemoryTableStore
from tests.jobs.lifecycle.test_writer import Interfering


class Grumpy(RuntimeError):
    pass


def grumpy(item: Any, context: JobContext) -> Any:
    raise Grumpy(f"attempt {context.attempt}")


def fine(item: Any, context: JobContext) -> Any:
    return {"attempt": context.attempt}


class Clock:
    def __init__(self, now: float = 1_800_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def service_with(
    *kinds: Kind, clock: Clock | None = None, monotonic: Clock | None = None
) -> Service:
    service = Service.in_memory(Settings(test_kinds=True, dispatch_window=32))
    service.kinds = Kinds({k.name: k for k in kinds}, service.kinds.context)
    service.admission = Admission(
        service.table,
        service.queues,
        service.kinds,
        clock=clock or Clock(),
        monotonic=monotonic or Clock(0.0),
    )
    return service


def one_task(service: Service, kind: str, items: int = 1) -> str:
    body = json.dumps({"kind": kind, "items": [{}] * items}).encode()
    task_id = submit(service, body).task.task_id
    fan_out(service, task_id)
    return task_id


def queued(service: Service, queue: str) -> list[RunMessage]:
    """The run messages on ``queue``, visible or not."""
    texts = service.queues.store.texts(queue)  # type: ignore[attr-defined]
    found = [parse_message(base64.b64decode(text).decode()) for text in texts]
    return [m for m in found if isinstance(m, RunMessage)]


# -- the rows ----------------------------------------------------------------------------------


def test_of_two_workers_taking_the_last_slot_exactly_one_wins() -> None:
    table = Interfering(MemoryTableStore())
    clock = Clock()
    first, second = Limits(table, clock), Limits(table, clock)
    held = [first.claim("gated", 2, "a", "t/0")]
    assert held[0] is not None
    # The second worker reads one free slot; before its write lands, the first takes it.
    table.before(lambda writes: writes[0].props.get("Holder") == "b",
                 lambda: held.append(first.claim("gated", 2, "a", "t/1")))  # fmt: skip
    assert second.claim("gated", 2, "b", "t/2") is None
    assert held[1] is not None
    holders = {n: row.props["Holder"] for n, row in first.slots("gated").items()}
    assert holders == {0: "a", 1: "a"}


def test_a_lapsed_lease_is_taken_over_and_its_old_holder_cannot_free_it() -> None:
    store, clock = MemoryTableStore(), Clock()
    limits = Limits(store, clock)
    old = limits.claim("gated", 1, "dead-host", "t/0")
    assert old is not None
    assert limits.claim("gated", 1, "other", "t/1") is None
    clock.now += LEASE + 0.01  # the dead host renewed nothing for a whole lease
    taken = limits.claim("gated", 1, "other", "t/1")
    assert taken is not None
    assert not limits.renew(old)
    limits.release(old)  # a late release of the old lease leaves the new holder alone
    assert limits.slots("gated")[0].props["Holder"] == "other"
    assert limits.renew(taken)
    clock.now += LEASE - 1  # renewed: still held a whole lease after the renewal
    assert limits.claim("gated", 1, "third", "t/2") is None


def test_a_seconds_starts_are_counted_exactly_and_a_new_second_starts_over() -> None:
    table, clock = Interfering(MemoryTableStore()), Clock(1_800_000_000.2)
    limits, rival = Limits(table, clock), Limits(table, clock)
    # A rival's count lands between this worker's read and its write: the write loses its
    # ETag race, and the worker counts again on the row as it now is.
    table.before(lambda writes: writes[0].props.get("Count") == 1,
                 lambda: rival.count_start("paced", 20))  # fmt: skip
    assert all(limits.count_start("paced", 20) is None for _ in range(19))
    assert counts(table, clock) == [4, 4, 4, 4, 4]  # five shares of the rate, every one full
    wait = limits.count_start("paced", 20)
    assert wait == pytest.approx(0.8)
    writes = len(table.transactions)
    assert limits.count_start("paced", 20) is not None  # known full: no write
    assert len(table.transactions) == writes
    clock.now += 1
    assert limits.count_start("paced", 20) is None
    assert sum(counts(table, clock)) == 1
    # A rate below the shares counts in one share per start.
    rare = [limits.count_start("rare", 2) for _ in range(3)]
    assert rare[:2] == [None, None]
    assert rare[2] is not None


def counts(table: Interfering, clock: Clock) -> list[int]:
    """Each share's count in the clock's second."""
    second = str(int(clock.now))
    rows = [table.get(limit_partition("paced"), rate_key(n)) for n in range(RATE_SHARDS)]
    return [int(r.props["Count"]) if r and r.props["Second"] == second else 0 for r in rows]


# -- holding back --------------------------------------------------------------------------


def test_a_job_held_back_for_its_kinds_concurrency_stays_pending_and_spends_no_attempt() -> None:
    service = service_with(Kind("single", Any, fine, concurrency=1))
    task_id = one_task(service, "single", items=2)
    slot = service.admission.limits.claim("single", 1, "elsewhere", "x/0")
    assert slot is not None
    before = len(queued(service, "jobs-small"))

    run_job(service, "jobs-small", RunMessage(task_id, 0), 3)  # two crashed deliveries before

    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)
    again = queued(service, "jobs-small")
    assert len(again) == before + 1
    assert again[-1] == RunMessage(task_id, 0, carried=2)  # what the host had counted

    service.admission.limits.release(slot)
    run_job(service, "jobs-small", again[-1], 1)
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 3)
    assert service.payloads.decode(job.result) == {"attempt": 3}
    assert service.admission.limits.slots("single")[0].props["Holder"] == ""


def test_the_slot_is_given_back_when_the_job_raises() -> None:
    service = service_with(Kind("grumpy", Any, grumpy, concurrency=1))
    task_id = one_task(service, "grumpy", items=2)
    with pytest.raises(Grumpy):
        run_job(service, "jobs-small", RunMessage(task_id, 0), 1)
    assert service.admission.limits.slots("grumpy")[0].props["Holder"] == ""
    with pytest.raises(Grumpy):  # the next job finds the slot free
        run_job(service, "jobs-small", RunMessage(task_id, 1), 1)


def test_carried_attempts_count_against_the_hosts_limit() -> None:
    service = service_with(Kind("grumpy", Any, grumpy))
    task_id = one_task(service, "grumpy", items=3)
    # Carrying 2: the third attempt fails and is left to the host to retry.
    with pytest.raises(Grumpy):
        run_job(service, "jobs-small", RunMessage(task_id, 0, carried=2), 1)
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.IN_PROGRESS, 3)
    # Carrying 4: the host's last attempt; its dequeue count is 1, so the host would try it
    # four more times. The runner fails the job itself, its error kept.
    run_job(service, "jobs-small", RunMessage(task_id, 1, carried=HOST_MAX_ATTEMPTS - 1), 1)
    job = service.table.get_job(task_id, 1)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.FAILED, HOST_MAX_ATTEMPTS)
    assert job.error is not None
    assert "attempt 5" in job.error
    # Past the limit before it runs (crashes raised its dequeue count): failed, never run.
    run_job(service, "jobs-small", RunMessage(task_id, 2, carried=HOST_MAX_ATTEMPTS - 1), 2)
    job = service.table.get_job(task_id, 2)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.FAILED, 0)


def test_without_carried_attempts_the_hosts_last_attempt_is_left_to_the_host() -> None:
    service = service_with(Kind("grumpy", Any, grumpy))
    task_id = one_task(service, "grumpy")
    with pytest.raises(Grumpy):  # as before: raised, so the host moves it to poison
        run_job(service, "jobs-small", RunMessage(task_id, 0), HOST_MAX_ATTEMPTS)


def test_a_rate_held_job_comes_back_in_a_later_second() -> None:
    clock = Clock(1_800_000_000.5)
    service = service_with(Kind("paced", Any, fine, rate=2), clock=clock)
    task_id = one_task(service, "paced", items=3)
    tickets = [service.admission.admit("jobs-small", RunMessage(task_id, i)) for i in range(3)]
    assert [type(t) for t in tickets] == [Ticket, Ticket, Hold]
    hold = tickets[2]
    assert isinstance(hold, Hold)
    assert hold.reason == "rate"
    assert 0.5 <= hold.delay.total_seconds() <= 1.5
    clock.now += 1
    assert isinstance(service.admission.admit("jobs-small", RunMessage(task_id, 2)), Ticket)


def test_a_slot_claimed_for_a_job_the_rate_holds_back_is_given_back() -> None:
    service = service_with(Kind("both", Any, fine, concurrency=5, rate=1))
    task_id = one_task(service, "both", items=2)
    first = service.admission.admit("jobs-small", RunMessage(task_id, 0))
    assert isinstance(first, Ticket)
    second = service.admission.admit("jobs-small", RunMessage(task_id, 1))
    assert isinstance(second, Hold)
    assert second.reason == "rate"
    holders = [row.props["Holder"] for row in service.admission.limits.slots("both").values()]
    assert sorted(holders) == ["", service.admission.holder]
    with first:
        pass
    holders = [row.props["Holder"] for row in service.admission.limits.slots("both").values()]
    assert holders == ["", ""]


# -- priority --------------------------------------------------------------------------------


def test_normal_work_waits_while_high_work_is_queued_and_runs_after_enough_holds() -> None:
    service = service_with(Kind("plain", Any, fine))
    task_id = one_task(service, "plain")
    service.queues.send("jobs-high", RunMessage(task_id, 99))
    held = service.admission.admit("jobs-small", RunMessage(task_id, 0))
    assert isinstance(held, Hold)
    assert held.reason == "priority"
    assert isinstance(service.admission.admit("jobs-high", RunMessage(task_id, 0)), Ticket)
    aged = RunMessage(task_id, 0, holds=MAX_PRIORITY_HOLDS)
    assert isinstance(service.admission.admit("jobs-small", aged), Ticket)

    run_job(service, "jobs-small", RunMessage(task_id, 0, holds=3), 2)
    again = queued(service, "jobs-small")[-1]
    assert again == RunMessage(task_id, 0, carried=1, holds=4)
    job = service.table.get_job(task_id, 0)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.PENDING, 0)


def test_low_work_waits_for_normal_work_and_looks_at_most_once_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = Clock(100.0)
    service = service_with(Kind("plain", Any, fine), monotonic=ticks)
    task_id = one_task(service, "plain")  # its message waits on jobs-small: normal work
    looks: list[str] = []
    depth = service.queues.depth

    def looked(queue: str) -> int:
        looks.append(queue)
        return depth(queue)

    monkeypatch.setattr(service.queues, "depth", looked)
    held = service.admission.admit("jobs-low", RunMessage(task_id, 0))
    assert isinstance(held, Hold)
    assert held.reason == "priority"
    assert sorted(looks) == ["jobs", "jobs-high", "jobs-small"]
    store = service.queues.store
    for message in store.receive("jobs-small", 32, timedelta(seconds=30)):
        store.delete("jobs-small", message.id, message.receipt)
    # Within the second, the lanes are taken as last seen: no look, still held back.
    assert isinstance(service.admission.admit("jobs-low", RunMessage(task_id, 0)), Hold)
    assert len(looks) == 3
    ticks.now += admission_module.LOOK_EVERY
    assert isinstance(service.admission.admit("jobs-low", RunMessage(task_id, 0)), Ticket)
    # jobs-long has no priority: never held back.
    service.queues.send("jobs-high", RunMessage(task_id, 1))
    assert isinstance(service.admission.admit("jobs-long", RunMessage(task_id, 0)), Ticket)


def test_an_unlimited_deployment_reads_no_task_row_to_admit_a_job() -> None:
    service = service_with(Kind("plain", Any, fine))
    task_id = one_task(service, "plain")
    service.table.store = _Refusing(service.table.store)  # type: ignore[assignment]
    assert isinstance(service.admission.admit("jobs-long", RunMessage(task_id, 0)), Ticket)


class _Refusing:
    def __init__(self, store: object) -> None:
        self.store = store

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the table was used: {name}")


def test_slot_rows_are_plain_leases() -> None:
    """What an operator reading the table sees."""
    store, clock = MemoryTableStore(), Clock(1_800_000_000.0)
    lease = Limits(store, clock).claim("gated", 8, "host-1", "t/00000003")
    assert lease is not None
    row = store.get(limit_partition("gated"), slot_key(lease.slot))
    assert row is not None
    assert dict(row.props) == {
        "Holder": "host-1", "Expires": "2027-01-15T08:01:00.000Z", "Job": "t/00000003",
    }  # fmt: skip
    store.transact(limit_partition("gated"), [Write("delete", slot_key(lease.slot))])
    assert Limits(store, clock).claim("gated", 8, "host-2", "t/4") is not None
