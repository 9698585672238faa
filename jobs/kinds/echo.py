"""``echo``: returns its item. The smallest real kind: a no-op for throughput and tests."""

from __future__ import annotations

from typing import Any

from pydantic import RootModel

from jobs.kinds.base import JobContext, Kind
from jobs.models import JsonValue


class EchoInput(RootModel[Any]):
    """Any JSON value."""


def echo(item: EchoInput, context: JobContext) -> JsonValue:
    return item.root


KIND = Kind("echo", EchoInput, echo, description="Returns the item unchanged.")
