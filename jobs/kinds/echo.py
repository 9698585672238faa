"""``echo``: returns its item. The smallest real kind: a no-op for throughput and tests."""

from __future__ import annotations

from typing import Any

from jobs.core.models import JsonValue
from jobs.kinds.base import JobContext, Kind


def echo(item: Any, context: JobContext) -> JsonValue:
    return item


# Any JSON value is a valid item, and the request was JSON: nothing to check.
KIND = Kind("echo", Any, echo)
