"""``brittle`` (tests only): ``fail`` with two attempts instead of the host's five, to show a
kind's own ``max_attempts``: its jobs fail at the second attempt, their error kept."""

from __future__ import annotations

from jobs.kinds.base import Kind
from jobs.kinds.testing.fail import FailInput, fail

KIND = Kind("brittle", FailInput, fail, test_only=True, max_attempts=2)
