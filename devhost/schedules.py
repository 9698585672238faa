"""A timer trigger's schedule: NCRONTAB or a TimeSpan, and whether its monitor stays on.

From Azure/azure-webjobs-sdk-extensions ``src/WebJobs.Extensions/Extensions/Timers/``:

* ``Scheduling/TimerSchedule.cs`` (``Create``): the expression (after ``%SETTING%``
  resolution) is tried as NCRONTAB first, then as a .NET TimeSpan (``00:05:00``); neither is
  an indexing error. ``UseMonitor`` (default true, ``TimerTriggerAttribute.cs``) is turned off,
  even when set explicitly, for a cron schedule whose minute-and-above fields are all ``*`` and
  that fires more than once in the next minute, and for a TimeSpan under one minute
  (``ShouldDisableScheduleMonitor``).
* ``Scheduling/ConstantSchedule.cs``: a TimeSpan schedule's next occurrence is the base time
  plus the interval, with no DST adjustment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import ClassVar, Protocol

from devhost.config import ConfigError, parse_timespan
from ncrontab import CronSchedule


class TimerSchedule(Protocol):
    @property
    def adjust_for_dst(self) -> bool: ...

    def next_after(self, after: datetime, zone: tzinfo) -> datetime: ...


@dataclass(frozen=True)
class ConstantSchedule:
    interval: timedelta
    adjust_for_dst: ClassVar[bool] = False

    def next_after(self, after: datetime, zone: tzinfo) -> datetime:
        return after.astimezone(zone) + self.interval


@dataclass(frozen=True)
class ParsedSchedule:
    schedule: TimerSchedule
    use_monitor: bool


def _fires_more_than_once_a_minute(cron: CronSchedule, zone: tzinfo, now: datetime) -> bool:
    fields = cron.expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if any(field != "*" for field in fields[1:]):
        return False
    first = cron.next_after(now, zone)
    second = cron.next_after(first, zone)
    return second < now + timedelta(minutes=1)


def parse_schedule(
    expression: str, use_monitor: bool | None, zone: tzinfo, now: datetime
) -> ParsedSchedule:
    monitor = True if use_monitor is None else use_monitor
    try:
        cron = CronSchedule.parse(expression)
    except ValueError:
        cron = None
    if cron is not None:
        monitor = monitor and not _fires_more_than_once_a_minute(cron, zone, now)
        return ParsedSchedule(_Cron(cron), monitor)
    try:
        interval = parse_timespan(expression)
    except ConfigError:
        raise ValueError(
            f"The schedule expression '{expression}' was not recognized as a valid cron "
            "expression or timespan string."
        ) from None
    return ParsedSchedule(ConstantSchedule(interval), monitor and interval >= timedelta(minutes=1))


@dataclass(frozen=True)
class _Cron:
    cron: CronSchedule
    adjust_for_dst: ClassVar[bool] = True

    def next_after(self, after: datetime, zone: tzinfo) -> datetime:
        return self.cron.next_after(after, zone)
