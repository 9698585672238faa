"""Counting what the azure SDK sends from this process: requests, seconds in the HTTP
transport (the round trip, Azurite's work included) and new TCP connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from azure.core.pipeline.transport import RequestsTransport
from urllib3.connectionpool import HTTPConnectionPool


@dataclass
class Meter:
    requests: int = 0
    seconds: float = 0.0
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, seconds: float) -> None:
        with self._lock:
            self.requests += 1
            self.seconds += seconds

    def connected(self) -> None:
        with self._lock:
            self.connections += 1


@contextmanager
def metered() -> Iterator[Meter]:
    """Patch the transport's send and urllib3's connect for the duration, counting into a new
    Meter. Not reentrant: one measurement at a time."""
    meter = Meter()
    send = RequestsTransport.send
    new_conn = HTTPConnectionPool._new_conn

    def timed_send(self: RequestsTransport, request: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return send(self, request, **kwargs)
        finally:
            meter.add(time.perf_counter() - started)

    def counted_conn(self: HTTPConnectionPool) -> Any:
        meter.connected()
        return new_conn(self)

    setattr(RequestsTransport, "send", timed_send)  # noqa: B010 (mypy: no method assignment)
    setattr(HTTPConnectionPool, "_new_conn", counted_conn)  # noqa: B010
    try:
        yield meter
    finally:
        setattr(RequestsTransport, "send", send)  # noqa: B010
        setattr(HTTPConnectionPool, "_new_conn", new_conn)  # noqa: B010
