"""``paced`` (tests only): ``echo`` with at most 20 jobs started a second across every
instance, to show a kind's rate limit."""

from __future__ import annotations

from typing import Any

from jobs.kinds.base import Kind
from jobs.kinds.echo import echo

KIND = Kind("paced", Any, echo, test_only=True, rate=20)
