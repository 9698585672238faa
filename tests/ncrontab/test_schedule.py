"""The NCRONTAB parser both the local host's timer triggers and the app's recurring schedules
use: fire times, time zones, what it refuses, and that it imports neither of them."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import ncrontab
from harness.azurite import REPO
from ncrontab import CronSchedule

T0 = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)


# -- fire times in UTC, as the app's recurring schedules take them ---------------------------


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("*/3 * * * * *", T0, T0 + timedelta(seconds=3)),
        ("*/3 * * * * *", T0 + timedelta(seconds=1, microseconds=5), T0 + timedelta(seconds=3)),
        ("0 */5 * * * *", T0, T0 + timedelta(minutes=5)),
        ("30 9 * * *", T0, datetime(2030, 1, 2, 9, 30, tzinfo=UTC)),  # five fields: minute first
        ("0 0 0 * * mon", T0, datetime(2030, 1, 7, tzinfo=UTC)),  # 2030-01-01 is a Tuesday
        ("0 0 0 29 feb *", T0, datetime(2032, 2, 29, tzinfo=UTC)),
    ],
)
def test_cron_fires_next_strictly_after(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert ncrontab.parse(expression).next_after(after) == expected


@pytest.mark.parametrize(
    "expression",
    ["", "* * * *", "* * * * * * *", "60 * * * * *", "*/0 * * * * *", "a * * * * *",
     "0 0 0 31 2 *", "5-1 * * * * *"],
)  # fmt: skip
def test_cron_refuses_what_is_not_ncrontab_or_never_fires(expression: str) -> None:
    with pytest.raises(ValueError, match=r"NCRONTAB|never fires"):
        ncrontab.parse(expression)


# -- the timer trigger's reading: syntax only, in the zone the host passes -------------------


def _next(expression: str, after: datetime) -> datetime:
    return CronSchedule.parse(expression).next_after(after, UTC)


def test_ncrontab_next_occurrences() -> None:
    start = datetime(2024, 1, 31, 23, 59, 59, 500000, tzinfo=UTC)
    assert _next("* * * * * *", start) == datetime(2024, 2, 1, tzinfo=UTC)
    assert _next("0 0 9 * * mon-fri", start) == datetime(2024, 2, 1, 9, tzinfo=UTC)
    assert _next("0 0 9 * * sat", start) == datetime(2024, 2, 3, 9, tzinfo=UTC)
    assert _next("0 0 0 29 feb *", start) == datetime(2024, 2, 29, tzinfo=UTC)
    assert _next("*/15 * * * *", start) == datetime(2024, 2, 1, tzinfo=UTC)  # five fields
    assert _next("10,20 1-3/2 * * * *", start) == datetime(2024, 2, 1, 0, 1, 10, tzinfo=UTC)
    exact = datetime(2024, 1, 1, 3, 4, 5, tzinfo=UTC)
    assert _next("5 4 3 * * *", exact) == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_ncrontab_time_zone_and_errors() -> None:
    zone = ZoneInfo("Europe/Paris")
    after = datetime(2024, 1, 1, 12, tzinfo=UTC)
    local = CronSchedule.parse("0 0 9 * * *").next_after(after, zone)
    assert local.astimezone(UTC) == datetime(2024, 1, 2, 8, tzinfo=UTC)
    for bad in ("* * *", "61 * * * * *", "* * * * * funday", "*/0 * * * * *"):
        with pytest.raises(ValueError, match="NCRONTAB"):
            CronSchedule.parse(bad)


def test_the_timer_triggers_reading_accepts_what_never_fires_and_only_parse_refuses_it() -> None:
    never = CronSchedule.parse("0 0 0 31 2 *")
    assert never.days == frozenset({31})
    assert never.months == frozenset({2})
    with pytest.raises(ValueError, match="never fires"):
        never.next_after(T0)
    with pytest.raises(ValueError, match="never fires"):
        ncrontab.parse("0 0 0 31 2 *")


# -- a package both sides import ------------------------------------------------------------

CHECK = (
    "import json, sys; before = set(sys.modules); import ncrontab; "
    "print(json.dumps(sorted({name.split('.')[0] for name in set(sys.modules) - before})))"
)


def test_the_parser_imports_only_the_standard_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert "ncrontab" in loaded
    assert loaded - {"ncrontab"} <= sys.stdlib_module_names
