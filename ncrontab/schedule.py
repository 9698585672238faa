"""NCRONTAB schedules as the Functions timer trigger reads them.

Six fields ``second minute hour day month day-of-week`` (five accepted: no seconds), each
``*`` (or ``?``), a value, a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a list; month and
weekday names (``jan``, ``mon``: the first three letters), and 7 for Sunday as well as 0. As in
NCrontab, day-of-month and day-of-week must both match.

Two users, two entry points. ``CronSchedule.parse`` checks the syntax only: the local host's
timer triggers (devhost.schedules) read a schedule with it, one that never fires included, and
take fire times in wall-clock time of the zone they pass (``WEBSITE_TIME_ZONE``). ``parse``
also refuses a schedule that does not fire in the next five years: the app's recurring
schedules (jobs.schedules.definitions) check a schedule with it when saved, and take fire
times in UTC, the default zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def _value(text: str, low: int, names: list[str] | None, name_base: int) -> int:
    if names and text[:3].lower() in names and not text.isdigit():
        return names.index(text[:3].lower()) + name_base
    return int(text)


def _field(text: str, low: int, high: int, names: list[str] | None = None) -> frozenset[int]:
    base = 1 if names is _MONTHS else 0
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
            if step <= 0:
                raise ValueError(f"bad step in {text!r}")
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, low, names, base), _value(b, low, names, base)
        else:
            start = _value(part, low, names, base)
            end = high if step != 1 else start
        if names is _DAYS:
            start, end = min(start, 7), min(end, 7)
        if not (low <= start <= high and low <= end <= high) or start > end:
            raise ValueError(f"{text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    expression: str
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> CronSchedule:
        fields = expression.split()
        if len(fields) == 5:
            fields = ["0", *fields]
        if len(fields) != 6:
            raise ValueError(f"{expression!r} is not an NCRONTAB expression (6 or 5 fields)")
        try:
            weekdays = _field(fields[5], 0, 7, _DAYS)
            return cls(
                expression=expression,
                seconds=_field(fields[0], 0, 59),
                minutes=_field(fields[1], 0, 59),
                hours=_field(fields[2], 0, 23),
                days=_field(fields[3], 1, 31),
                months=_field(fields[4], 1, 12, _MONTHS),
                weekdays=frozenset(d % 7 for d in weekdays),
            )
        except ValueError as exc:
            raise ValueError(f"invalid NCRONTAB expression {expression!r}: {exc}") from exc

    def _day_matches(self, moment: datetime) -> bool:
        weekday = (moment.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
        return moment.month in self.months and moment.day in self.days and weekday in self.weekdays

    def next_after(self, after: datetime, zone: tzinfo = UTC) -> datetime:
        """The first occurrence strictly after ``after`` (aware), in wall-clock time of ``zone``."""
        local = after.astimezone(zone).replace(microsecond=0, tzinfo=None) + timedelta(seconds=1)
        day = local.replace(hour=0, minute=0, second=0)
        hours, minutes, seconds = sorted(self.hours), sorted(self.minutes), sorted(self.seconds)
        for _ in range(366 * 5):
            if self._day_matches(day):
                today = day.date() == local.date()
                for h in hours:
                    if today and h < local.hour:
                        continue
                    for m in minutes:
                        if today and h == local.hour and m < local.minute:
                            continue
                        for s in seconds:
                            candidate = day.replace(hour=h, minute=m, second=s)
                            if candidate >= local:
                                return candidate.replace(tzinfo=zone)
            day += timedelta(days=1)
        raise ValueError(f"{self.expression!r} never fires")


def parse(expression: str) -> CronSchedule:
    """The schedule, checked to fire at least once in the next five years; ValueError saying
    what is wrong otherwise."""
    schedule = CronSchedule.parse(expression)
    schedule.next_after(datetime.now(UTC))
    return schedule
