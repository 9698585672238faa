"""A timer's schedule status blob and the past-due check at start.

From Azure/azure-webjobs-sdk-extensions:

* ``src/WebJobs.Extensions.Timers.Storage/StorageScheduleMonitor.cs``: the status lives in
  ``azure-webjobs-hosts/timers/{hostId}/{timerName}/status`` where the timer name is the
  function's full name, ``Host.Functions.<name>``; JSON ``{Last, Next, LastUpdated}`` with ISO
  local times; a missing blob means no status yet; a failed write is logged, not raised.
* ``src/WebJobs.Extensions/Extensions/Timers/Scheduling/ScheduleMonitor.cs``
  (``CheckPastDueAsync``): with no status, an initial one is written (``Last`` at 0001-01-01,
  ``LastUpdated`` now) and nothing is past due. Otherwise the Next the schedule would give from
  ``Last`` (or ``LastUpdated``, or now) is compared with the recorded Next: when they differ the
  schedule changed, and the status is rewritten with a fresh Next (computed from now if the
  expected one has passed), so a changed schedule is never past due. The timer is past due
  when now is after the recorded Next.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from devhost import logs
from devhost.leases import HOSTS_CONTAINER
from devhost.schedules import TimerSchedule

DEFAULT = datetime(1, 1, 1, tzinfo=UTC)  # .NET's default(DateTime)


def is_default(moment: datetime) -> bool:
    return moment.year == 1 and moment.month == 1 and moment.day == 1


def format_time(moment: datetime, zone: tzinfo) -> str:
    return DEFAULT.isoformat() if is_default(moment) else moment.astimezone(zone).isoformat()


def parse_time(text: Any) -> datetime:
    if not text:
        return DEFAULT
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", str(text)).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        return DEFAULT
    if moment.year == 1:
        return DEFAULT
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ScheduleStatus:
    last: datetime
    next: datetime
    last_updated: datetime

    def as_json(self, zone: tzinfo) -> dict[str, str]:
        return {
            "Last": format_time(self.last, zone),
            "Next": format_time(self.next, zone),
            "LastUpdated": format_time(self.last_updated, zone),
        }


class ScheduleMonitor:
    def __init__(self, blobs: BlobServiceClient, host_id: str, zone: tzinfo) -> None:
        self.container = blobs.get_container_client(HOSTS_CONTAINER)
        self.host_id = host_id
        self.zone = zone

    def blob_name(self, timer: str) -> str:
        return f"timers/{self.host_id}/{timer}/status"

    async def get_status(self, timer: str) -> ScheduleStatus | None:
        blob = self.container.get_blob_client(self.blob_name(timer))
        try:
            data = await (await blob.download_blob()).readall()
        except ResourceNotFoundError:
            return None
        try:
            raw = json.loads(data)
        except ValueError:
            return None
        if not isinstance(raw, dict):
            return None
        return ScheduleStatus(
            parse_time(raw.get("Last")),
            parse_time(raw.get("Next")),
            parse_time(raw.get("LastUpdated")),
        )

    async def update_status(self, timer: str, status: ScheduleStatus) -> None:
        body = json.dumps(status.as_json(self.zone)).encode()
        try:
            try:
                await self.container.upload_blob(self.blob_name(timer), body, overwrite=True)
            except ResourceNotFoundError:
                with contextlib.suppress(ResourceExistsError):
                    await self.container.create_container()
                await self.container.upload_blob(self.blob_name(timer), body, overwrite=True)
        except (AzureError, OSError) as exc:
            logs.HOST.error(
                "Function '%s' failed to update the timer trigger status: %s", timer, exc
            )

    async def check_past_due(
        self, timer: str, now: datetime, schedule: TimerSchedule, status: ScheduleStatus | None
    ) -> tuple[timedelta, ScheduleStatus | None]:
        """How far past due the timer is, and the (possibly rewritten) status in memory: a
        status written for a timer that had none stays None there, as in the source."""
        if status is None:
            upcoming = schedule.next_after(now, self.zone)
            await self.update_status(timer, ScheduleStatus(DEFAULT, upcoming, now))
            recorded = upcoming
        else:
            if not is_default(status.last):
                expected, updated = schedule.next_after(status.last, self.zone), status.last
            elif not is_default(status.last_updated):
                expected = schedule.next_after(status.last_updated, self.zone)
                updated = status.last_updated
            else:
                expected, updated = schedule.next_after(now, self.zone), now
            if status.next != expected:
                if now > expected:
                    expected, updated = schedule.next_after(now, self.zone), now
                status = ScheduleStatus(DEFAULT, expected, updated)
                await self.update_status(timer, status)
            recorded = status.next
        return (now - recorded if now > recorded else timedelta(0)), status
