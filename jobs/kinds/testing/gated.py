"""``gated`` (tests only): ``sleep`` with at most 8 jobs running at once across every
instance, to show a kind's concurrency limit."""

from __future__ import annotations

from jobs.kinds.base import Kind
from jobs.kinds.testing.sleep import SleepInput, sleep

KIND = Kind("gated", SleepInput, sleep, test_only=True, concurrency=8)
