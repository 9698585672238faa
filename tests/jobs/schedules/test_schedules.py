"""Recurring schedules on the in-memory twin: validation when saved, due times, and once per
fire time through crashes, a second scheduler and downtime."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from composition import Service
from jobs.core.errors import InvalidBody, InvalidItems, MalformedRequest, NotFound
from jobs.core.settings import Settings
from jobs.schedules import definitions, firing
from jobs.storage import TableStore, Write, keys
from jobs.storage.memory import MemoryTableStore

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def service() -> Service:
    return Service.in_memory(Settings(test_kinds=True, dispatch_window=32))


def body(**fields: Any) -> bytes:
    return json.dumps({"cron": "*/3 * * * * *", "kind": "echo", "items": [1], **fields}).encode()


def tasks_of(service: Service, name: str) -> dict[str, str]:
    """Every task a schedule made: its fire time -> task id (one per fire time, or a clash)."""
    tables = service.table.store
    assert isinstance(tables, MemoryTableStore)
    found: dict[str, str] = {}
    for entity in tables.query_partitions("0", "g"):  # task ids: hex UUIDs
        src = entity.props.get("Source", "")
        if entity.row == "task" and src.startswith(f"schedule:{name}@"):
            fire_time = src.split("@", 1)[1]
            assert fire_time not in found, f"two tasks for {fire_time}"
            found[fire_time] = entity.partition
    return found


def at(schedule_name: str, service: Service, fire_time: datetime) -> None:
    """Set the schedule's next fire time, as if saved just before it."""
    service.table.store.transact(
        keys.SCHEDULES_PARTITION,
        [Write("merge", schedule_name, {"NextRun": definitions.fire_stamp(fire_time)})],
    )


# -- saving ------------------------------------------------------------------------------


def test_a_saved_schedule_reads_back_with_its_next_run(service: Service) -> None:
    saved = definitions.save(service, "nightly-1", body(metadata={"team": "a"}))
    assert saved.cron == "*/3 * * * * *"
    assert saved.batch == {"kind": "echo", "items": [1], "metadata": {"team": "a"}}
    assert saved.next_run > definitions.fire_stamp(datetime.now(UTC) - timedelta(seconds=1))
    assert saved.last_run is None
    assert saved.last_task_id is None
    assert [s.name for s in definitions.all_schedules(service)] == ["nightly-1"]


def test_saving_again_replaces_it_under_a_new_version(service: Service) -> None:
    first = definitions.save(service, "a", body())
    second = definitions.save(service, "a", body(cron="0 0 * * * *", items=[1, 2]))
    assert second.version != first.version
    assert second.cron == "0 0 * * * *"
    assert second.batch["items"] == [1, 2]
    assert second.created_at == first.created_at


@pytest.mark.parametrize(
    ("name", "data", "field"),
    [
        ("Upper", body(), "name"),
        ("x" * 64, body(), "name"),
        ("", body(), "name"),
        ("ok", body(cron="* * *"), "cron"),
        ("ok", body(cron="99 * * * * *"), "cron"),
        ("ok", body(kind="nope"), "kind"),
        ("ok", body(items=[]), "items"),
        ("ok", body(not_before="2030-01-01T00:00:00Z"), "not_before"),
        ("ok", json.dumps({"kind": "echo", "items": [1]}).encode(), "cron"),
        ("ok", body(items=["x" * 20_000, "y" * 20_000]), "items"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field_and_nothing_is_written(
    service: Service, name: str, data: bytes, field: str
) -> None:
    with pytest.raises(InvalidBody) as refused:
        definitions.save(service, name, data)
    assert field in [p.field for p in refused.value.problems]
    assert definitions.all_schedules(service) == []


def test_bad_items_are_refused_with_their_index_and_field(service: Service) -> None:
    with pytest.raises(InvalidItems) as refused:
        definitions.save(service, "s", body(kind="sleep", items=[{"seconds": 1}, {"secs": 1}]))
    assert {(p.index, p.field) for p in refused.value.problems} >= {(1, "seconds"), (1, "secs")}


def test_a_body_that_is_not_json_is_malformed(service: Service) -> None:
    with pytest.raises(MalformedRequest):
        definitions.save(service, "s", b"{nope")


def test_deleting_a_schedule_and_asking_for_a_missing_one(service: Service) -> None:
    definitions.save(service, "s", body())
    definitions.delete(service, "s")
    with pytest.raises(NotFound):
        definitions.get(service, "s")
    with pytest.raises(NotFound):
        definitions.delete(service, "s")
    with pytest.raises(NotFound):
        definitions.get(service, "Not A Name")


# -- firing ------------------------------------------------------------------------------


def test_a_schedule_is_not_due_before_its_fire_time(service: Service) -> None:
    definitions.save(service, "s", body())
    at("s", service, T0)
    assert firing.run_due(service, T0 - timedelta(seconds=1)) == []
    assert tasks_of(service, "s") == {}


def test_each_fire_time_submits_one_task_and_records_it(service: Service) -> None:
    definitions.save(service, "s", body())
    at("s", service, T0)
    [fired] = firing.run_due(service, T0)
    assert firing.run_due(service, T0 + timedelta(seconds=1)) == []  # next is T0 + 3
    [again] = firing.run_due(service, T0 + timedelta(seconds=3))
    made = tasks_of(service, "s")
    assert made == {"2030-01-01T12:00:00Z": fired.task_id, "2030-01-01T12:00:03Z": again.task_id}
    record = definitions.get(service, "s")
    assert (record.last_run, record.last_task_id) == ("2030-01-01T12:00:03Z", again.task_id)
    assert record.next_run == "2030-01-01T12:00:06Z"


def test_after_downtime_it_fires_once_for_the_missed_times(service: Service) -> None:
    definitions.save(service, "s", body())
    at("s", service, T0)
    fired = firing.run_due(service, T0 + timedelta(minutes=10, seconds=1))
    assert [f.fire_time for f in fired] == ["2030-01-01T12:00:00Z"]
    assert len(tasks_of(service, "s")) == 1
    assert definitions.get(service, "s").next_run == "2030-01-01T12:10:03Z"


class CrashOnRecord:
    """The table, dying when the scheduler records a fire time (after its submit landed)."""

    def __init__(self, store: TableStore, crash: Callable[[], None]) -> None:
        self.store, self.crash = store, crash

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def transact(self, partition: str, writes: Any) -> list[str]:
        if partition == keys.SCHEDULES_PARTITION and "LastRun" in writes[0].props:
            self.crash()
        return self.store.transact(partition, writes)


class Died(Exception):
    pass


def test_a_crash_between_submit_and_record_makes_no_second_task(service: Service) -> None:
    definitions.save(service, "s", body())
    at("s", service, T0)

    def die() -> None:
        raise Died

    crashing = Service.over(
        service.settings, CrashOnRecord(service.table.store, die), service.queues.store,
        service.payloads.store,
    )  # fmt: skip
    with pytest.raises(Died):
        firing.run_due(crashing, T0)
    [fired] = firing.run_due(service, T0 + timedelta(seconds=1))  # the next tick, same time
    assert tasks_of(service, "s") == {"2030-01-01T12:00:00Z": fired.task_id}


def test_two_schedulers_racing_on_one_fire_time_make_one_task(service: Service) -> None:
    definitions.save(service, "s", body())
    at("s", service, T0)
    other: list[firing.Fired] = []

    def the_other_host_fires_first() -> None:
        crashing.table.store = service.table.store  # only once
        other.extend(firing.run_due(service, T0))

    crashing = Service.over(
        service.settings, CrashOnRecord(service.table.store, the_other_host_fires_first),
        service.queues.store, service.payloads.store,
    )  # fmt: skip
    [mine] = firing.run_due(crashing, T0)  # its record loses the ETag race, quietly
    assert [f.task_id for f in other] == [mine.task_id]
    assert tasks_of(service, "s") == {"2030-01-01T12:00:00Z": mine.task_id}
    assert definitions.get(service, "s").next_run == "2030-01-01T12:00:03Z"


def test_a_deleted_schedule_no_longer_fires(service: Service) -> None:
    definitions.save(service, "s", body())
    at("s", service, T0)
    definitions.delete(service, "s")
    assert firing.run_due(service, T0 + timedelta(minutes=1)) == []


def test_a_fire_time_whose_batch_is_refused_is_recorded_and_passed(service: Service) -> None:
    definitions.save(service, "s", body(kind="sleep", items=[{"seconds": 0}]))
    at("s", service, T0)
    without = Service.in_memory(Settings(test_kinds=False))
    without.table.store = service.table.store
    [fired] = firing.run_due(without, T0)
    assert fired.task_id is None
    assert fired.error is not None
    assert "sleep" in fired.error
    record = definitions.get(service, "s")
    assert record.last_error == fired.error
    assert record.next_run == "2030-01-01T12:00:03Z"
