"""``bounded`` (tests only): ``sleep`` with a time limit of 2 seconds, so a longer sleep fails
its attempt with a clear error instead of holding its slot."""

from __future__ import annotations

from jobs.kinds.base import Kind
from jobs.kinds.testing.sleep import SleepInput, sleep

KIND = Kind("bounded", SleepInput, sleep, test_only=True, timeout=2)
