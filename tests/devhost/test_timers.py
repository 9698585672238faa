"""Timer triggers: singleton across hosts, no overlap, past-due catch-up from the monitor."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

from azure.storage.blob import BlobServiceClient

from harness.azurite import Azurite
from harness.localhost import start_devhost
from harness.polling import wait_until
from tests.devhost.conftest import APPS, Records


def _env(azurite: Azurite, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "RECORD_FILE": str(tmp_path / "records.jsonl"),
        "TICK_SCHEDULE": "* * * * * *",
        **extra,
    }


def test_only_one_of_two_hosts_fires_and_runs_never_overlap(
    azurite: Azurite, tmp_path: Path
) -> None:
    # No host id setting: both processes derive the same one from machine and app folder.
    env = _env(azurite, tmp_path, TICK_SECONDS="1.2")
    records = Records(tmp_path / "records.jsonl")
    hosts = [start_devhost(APPS / "timers", env) for _ in range(2)]
    try:
        wait_until(lambda: len(records.of("tick")) >= 8, timeout=30, message="4 runs")
    finally:
        for host in hosts:
            host.kill()
    runs = records.of("tick")
    assert len({r["pid"] for r in runs}) == 1, "both hosts fired the timer"
    starts = [r["start"] for r in runs if "start" in r]
    ends = [r["end"] for r in runs if "end" in r]
    for end, next_start in zip(ends, starts[1:], strict=False):
        assert next_start >= end, "a run started before the previous one ended"


def test_past_due_only_for_the_catch_up_run_when_recorded_next_has_passed(
    azurite: Azurite, tmp_path: Path
) -> None:
    host_id = f"t{uuid.uuid4().hex[:20]}"
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    status = blobs.get_blob_client(
        "azure-webjobs-hosts", f"timers/{host_id}/Host.Functions.tick/status"
    )
    # A status the schedule could have written: Next is what it gives after Last, and passed.
    last = datetime(datetime.now(UTC).year - 1, 12, 31, 23, tzinfo=UTC)
    missed = datetime(last.year + 1, 1, 1, tzinfo=UTC)
    status.upload_blob(
        json.dumps(
            {"Last": last.isoformat(), "Next": missed.isoformat(), "LastUpdated": last.isoformat()}
        ),
        overwrite=True,
    )
    # A schedule far away: the only run is the catch-up one.
    env = _env(
        azurite, tmp_path, TICK_SCHEDULE="0 0 0 1 1 *", AzureFunctionsWebHost__hostid=host_id
    )
    records = Records(tmp_path / "records.jsonl")
    host = start_devhost(APPS / "timers", env)
    try:
        wait_until(lambda: records.of("tick", past_due=True), timeout=20, message="catch-up run")
        recorded = wait_until(
            lambda: (
                (s := json.loads(status.download_blob().readall()))["Last"] != last.isoformat()
                and s
            ),
            timeout=10,
            message="status updated",
        )
    finally:
        assert host.stop() == 0
    assert len([r for r in records.of("tick") if "start" in r]) == 1
    assert datetime.fromisoformat(recorded["Next"]) > datetime.now(UTC)
    assert "Executed 'Functions.tick' (Succeeded" in host.logs()


def test_run_on_startup_runs_once_when_the_listener_starts(
    azurite: Azurite, tmp_path: Path
) -> None:
    env = _env(azurite, tmp_path, AzureFunctionsWebHost__hostid=f"t{uuid.uuid4().hex[:20]}")
    records = Records(tmp_path / "records.jsonl")
    host = start_devhost(APPS / "timers", env)
    try:
        wait_until(lambda: records.of("at_startup"), timeout=20, message="startup run")
    finally:
        assert host.stop() == 0
    assert records.of("at_startup") == [
        {**records.of("at_startup")[0], "function": "at_startup", "past_due": False}
    ]
