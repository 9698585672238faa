"""Timer triggers as the timer extension runs them.

Sources, Azure/azure-webjobs-sdk-extensions: src/WebJobs.Extensions/Extensions/Timers/
Listener/TimerListener.cs, Scheduling/ScheduleMonitor.cs, Scheduling/TimerSchedule.cs,
Scheduling/ConstantSchedule.cs and src/WebJobs.Extensions.Timers.Storage/StorageScheduleMonitor.cs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient

from devhost.schedules import ConstantSchedule, parse_schedule
from harness.polling import wait_until
from tests.devhost.conformance.conftest import Stage

FAR = "0 0 0 1 1 *"
NAMES = ("OVERRUN", "MONITORED", "WATCHED", "FREQUENT", "SPAN")
DEFAULT_TIME = "0001-01-01T00:00:00+00:00"


def _start(stage: Stage, **schedules: str) -> Any:
    env = {f"{name}_SCHEDULE": FAR for name in NAMES}
    env.update({f"{name}_SCHEDULE": value for name, value in schedules.items()})
    return stage.start("timers", **env)


def _runs(stage: Stage, function: str, count: int) -> list[dict[str, Any]] | None:
    runs = stage.records.of(function)
    return runs if len(runs) >= count else None


def _status_blob(stage: Stage, function: str) -> BlobClient:
    blobs = BlobServiceClient.from_connection_string(stage.azurite.connection_string)
    host_id = stage.env["AzureFunctionsWebHost__hostid"]
    return blobs.get_blob_client(
        "azure-webjobs-hosts", f"timers/{host_id}/Host.Functions.{function}/status"
    )


def _status(blob: BlobClient) -> dict[str, str] | None:
    try:
        loaded: dict[str, str] = json.loads(blob.download_blob().readall())
    except ResourceNotFoundError:
        return None
    return loaded


def test_a_run_that_overruns_its_interval_is_followed_by_one_catch_up_run(stage: Stage) -> None:
    """TimerListener.cs: the next occurrence is computed from the run's start and the timer
    waits Next - now, which is no wait at all once the run has overrun."""
    _start(stage, OVERRUN="*/5 * * * * *")
    wait_until(lambda: len(stage.records.of("overrun", phase="start")) >= 3, timeout=30)
    starts = [r["start"] for r in stage.records.of("overrun", phase="start")]
    first_end = stage.records.of("overrun", phase="end")[0]["end"]
    assert starts[1] - first_end < 1.0  # the catch-up run, at once
    assert starts[2] - starts[1] > 2.5  # then back on the schedule: one catch-up, not more
    assert starts[2] % 5 < 1.0  # on a five-second mark


def test_status_records_the_runs_actual_times_starting_from_year_one(stage: Stage) -> None:
    """TimerListener.cs (a new status starts with Last and LastUpdated at default(DateTime);
    after a run Last = LastUpdated = the run's start and Next follows from it) and
    StorageScheduleMonitor.cs (the blob named after Host.Functions.<name>)."""
    _start(stage)
    run = wait_until(lambda: stage.records.of("monitored"), timeout=20, message="startup run")[0]
    assert run["schedule_status"]["Last"] == DEFAULT_TIME
    assert run["schedule_status"]["LastUpdated"] == DEFAULT_TIME
    blob = _status_blob(stage, "monitored")

    def updated() -> dict[str, str] | None:
        status = _status(blob)
        return status if status and status["Last"] != DEFAULT_TIME else None

    status = wait_until(updated, timeout=10, message="status after the run")
    last = datetime.fromisoformat(status["Last"])
    assert abs(last.timestamp() - run["at"]) < 2
    assert status["LastUpdated"] == status["Last"]
    assert datetime.fromisoformat(status["Next"]) == datetime(last.year + 1, 1, 1, tzinfo=UTC)


def test_a_changed_schedule_is_rewritten_not_past_due(stage: Stage) -> None:
    """ScheduleMonitor.cs (``CheckPastDueAsync``): a recorded Next that the schedule would not
    give from Last means the schedule changed; the status is reset and nothing runs."""
    blob = _status_blob(stage, "watched")
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    written = {
        "Last": an_hour_ago.isoformat(),
        "Next": (an_hour_ago + timedelta(minutes=30)).isoformat(),  # passed, and not the schedule's
        "LastUpdated": an_hour_ago.isoformat(),
    }
    blob.upload_blob(json.dumps(written), overwrite=True)
    host = _start(stage)
    wait_until(lambda: "'Functions.watched' schedule will be" in host.logs(), timeout=20)
    status = _status(blob)
    assert status is not None
    assert status["Last"] == DEFAULT_TIME
    assert datetime.fromisoformat(status["Next"]) > datetime.now(UTC)
    assert "Timer is past due for 'Functions.watched'" not in host.logs()
    assert stage.records.of("watched") == []


def test_a_sub_minute_schedule_turns_the_monitor_off_even_when_asked_for(stage: Stage) -> None:
    """TimerSchedule.cs (``ShouldDisableScheduleMonitor`` overrides UseMonitor) and
    TimerListener.cs (no monitor: TimerInfo's ScheduleStatus is null, so the library's
    TimerRequest gives an empty schedule_status, and no status blob is written)."""
    _start(stage, FREQUENT="*/2 * * * * *")
    runs = wait_until(lambda: _runs(stage, "frequent", 2), message="two runs")
    assert all(r["schedule_status"] == {} for r in runs)
    assert _status(_status_blob(stage, "frequent")) is None


def test_a_timespan_schedule_fires_every_interval(stage: Stage) -> None:
    """TimerSchedule.cs (not NCRONTAB, so tried as a TimeSpan) and ConstantSchedule.cs."""
    _start(stage, SPAN="00:00:02")
    runs = wait_until(lambda: _runs(stage, "span", 2), message="two runs")
    assert 1.5 < runs[1]["at_time"] - runs[0]["at_time"] < 3.5


def test_the_monitor_default_follows_the_schedule_frequency() -> None:
    """TimerSchedule.cs ``ShouldDisableScheduleMonitor``: only when every field above seconds
    is ``*`` and it fires more than once a minute (or a TimeSpan under a minute)."""
    now = datetime(2024, 5, 1, 12, 0, 10, tzinfo=UTC)  # the source counts from now

    def monitor(expression: str, asked: bool | None = None) -> bool:
        return parse_schedule(expression, asked, UTC, now).use_monitor

    assert monitor("*/10 * * * * *") is False
    assert monitor("*/10 * * * * *", True) is False
    assert monitor("0,30 * * * * *") is False
    assert monitor("0 * * * * *") is True  # exactly once a minute
    assert monitor("0,30 0 * * * *") is True  # a restricted minute field keeps it on
    assert monitor("0 */5 * * * *", False) is False
    assert monitor("00:00:30") is False
    assert monitor("00:05:00") is True
    schedule = parse_schedule("00:05:00", None, UTC, now).schedule
    assert isinstance(schedule, ConstantSchedule)
    assert schedule.next_after(now, UTC) == now + timedelta(minutes=5)
